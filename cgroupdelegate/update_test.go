package cgroupdelegate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeUpdate(t *testing.T) {
	cur := &cgroups.Resources{Memory: 32 << 20, MemoryReservation: 8 << 20, CpuShares: 512, CpuWeight: 20,
		CpuQuota: 50000, CpuPeriod: 100000, CpusetCpus: "0", PidsLimit: ptr(int64(50)), BlkioWeight: 100}
	tests := []struct {
		name     string
		in       *specs.LinuxResources
		want     func(r *cgroups.Resources)
		warnings int
	}{
		{name: "nothing", in: &specs.LinuxResources{}, want: func(*cgroups.Resources) {}},
		{
			name: "memory only",
			in:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}},
			want: func(r *cgroups.Resources) { r.Memory = 64 << 20 },
		},
		{
			name: "no memory limit lifts swap too",
			in:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(-1))}},
			want: func(r *cgroups.Resources) { r.Memory, r.MemorySwap = -1, -1 },
		},
		{
			name: "memory and swap",
			in:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(128 << 20)), Reservation: ptr(int64(1 << 20))}},
			want: func(r *cgroups.Resources) { r.Memory, r.MemorySwap, r.MemoryReservation = 64<<20, 128<<20, 1<<20 },
		},
		{
			name: "cpu",
			in: &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(1024)), Quota: ptr(int64(-1)), Period: ptr(uint64(0)),
				RealtimePeriod: ptr(uint64(1000000)), RealtimeRuntime: ptr(int64(0)), Mems: "0"}},
			want: func(r *cgroups.Resources) {
				r.CpuShares, r.CpuWeight, r.CpuQuota = 1024, cgroups.ConvertCPUSharesToCgroupV2Value(1024), -1
				r.CpuRtPeriod, r.CpuRtRuntime, r.CpusetMems = 1000000, 0, "0"
			},
		},
		{
			name: "pids and blkio",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(-1))}, BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(500))}},
			want: func(r *cgroups.Resources) { r.PidsLimit, r.BlkioWeight = ptr(int64(-1)), 500 },
		},
		{
			name: "pids 0 leaves it, as runc 1.1",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(0))}},
			want: func(*cgroups.Resources) {},
		},
		{
			name: "fields update leaves alone warn",
			in: &specs.LinuxResources{
				Memory:         &specs.LinuxMemory{Swappiness: ptr(uint64(10))},
				BlockIO:        &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk(8, 0), Rate: 1}}},
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}},
				Network:        &specs.LinuxNetwork{},
			},
			want:     func(*cgroups.Resources) {},
			warnings: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *cur
			got, warnings, err := mergeUpdate(cur, tt.in, false)
			if err != nil {
				t.Fatal(err)
			}
			want := *cur
			tt.want(&want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
			if !reflect.DeepEqual(*cur, before) {
				t.Errorf("mergeUpdate changed the current resources: %+v", *cur)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", warnings, tt.warnings)
			}
			for _, w := range warnings {
				if !strings.HasPrefix(w, "linux.resources.") {
					t.Errorf("warning %q does not name its field", w)
				}
			}
		})
	}
}

func TestMergeUpdateErrors(t *testing.T) {
	cur := &cgroups.Resources{Memory: 32 << 20, MemorySwap: 32 << 20}
	tests := []struct {
		name  string
		in    *specs.LinuxResources
		v2    bool
		field string
	}{
		{"memory above the current memory+swap", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}}, false, "linux.resources.memory.limit"},
		{"swap below memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr(int64(16 << 20))}}, false, "linux.resources.memory.swap"},
		{"both, inconsistent", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(48 << 20))}}, false, "linux.resources.memory.swap"},
		{"bad shares", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(1))}}, false, "linux.resources.cpu.shares"},
		{"bad quota", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(10))}}, false, "linux.resources.cpu.quota"},
		{"bad cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}}, false, "linux.resources.cpu.cpus"},
		{"bad weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(5))}}, false, "linux.resources.blockIO.weight"},
		{"unified on v1", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, false, "linux.resources.unified"},
		{"bad unified key", &specs.LinuxResources{Unified: map[string]string{"nodot": "1"}}, true, "linux.resources.unified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := mergeUpdate(cur, tt.in, tt.v2)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want an ErrInvalidConfig", err)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") && !strings.HasPrefix(err.Error(), tt.field+"[") {
				t.Errorf("err = %q, want it to start with %q", err, tt.field)
			}
			renamed := RenameField(err, func(f string) string { return "--flag(" + f + ")" })
			if !strings.HasPrefix(renamed.Error(), "--flag("+tt.field) || !errors.Is(renamed, ErrInvalidConfig) {
				t.Errorf("renamed: %v", renamed)
			}
		})
	}
}

func TestMergeUpdateUnifiedV2(t *testing.T) {
	cur := &cgroups.Resources{Unified: map[string]string{"memory.high": "100", "pids.max": "5"}}
	got, _, err := mergeUpdate(cur, &specs.LinuxResources{Unified: map[string]string{"memory.high": "200"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"memory.high": "200", "pids.max": "5"}; !reflect.DeepEqual(got.Unified, want) {
		t.Errorf("unified %v, want %v", got.Unified, want)
	}
	if cur.Unified["memory.high"] != "100" {
		t.Errorf("the current map was changed: %v", cur.Unified)
	}
}

func TestRenameFieldOther(t *testing.T) {
	err := errors.New("plain")
	if got := RenameField(err, func(string) string { return "x" }); got != err {
		t.Errorf("RenameField changed an error that names no field: %v", got)
	}
}

// TestUpdateReal changes the limits of a real v1 cgroup, checks the files
// and that Save/Load carry the new values, and that a value the kernel
// refuses leaves the previous limits in place.
func TestUpdateReal(t *testing.T) {
	requireHybridRoot(t)
	path := testCgroupPath(t)
	cg, err := New(Config{ID: "u", Path: path, Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(32 << 20))}, Pids: &specs.LinuxPids{Limit: ptr(int64(20))}}})
	if err != nil {
		t.Fatal(err)
	}
	sleep := startSleep(t)
	if err := cg.Apply(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	memFile := filepath.Join(cgroupRoot, "memory", path, "memory.limit_in_bytes")
	pidsFile := filepath.Join(cgroupRoot, "pids", path, "pids.max")
	if _, err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))},
		Pids: &specs.LinuxPids{Limit: ptr(int64(-1))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, memFile); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %s after update to 64M", got)
	}
	if got := readTrim(t, pidsFile); got != "max" {
		t.Errorf("pids.max = %s after update to -1", got)
	}
	// A CPU this machine does not have is refused by the kernel (the
	// list itself is well-formed); whatever the same update had written
	// before is put back.
	_, err = cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(48 << 20))},
		Pids: &specs.LinuxPids{Limit: ptr(int64(7))}, CPU: &specs.LinuxCPU{Cpus: "4095"}})
	if err == nil {
		t.Fatal("update to cpuset 4095 succeeded")
	}
	if got := readTrim(t, memFile); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %s after a failed update, want the previous 67108864", got)
	}
	if got := readTrim(t, pidsFile); got != "max" {
		t.Errorf("pids.max = %s after a failed update, want the previous max", got)
	}
	loaded := reload(t, cg)
	if loaded.cfg.Resources.Memory != 64<<20 || loaded.cfg.Resources.PidsLimit == nil || *loaded.cfg.Resources.PidsLimit != -1 {
		t.Errorf("saved resources %+v do not hold the update", loaded.cfg.Resources)
	}
	// A second update through the loaded description, as a later
	// `gtu update` would do it.
	if _, err := loaded.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(16 << 20))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, memFile); got != "16777216" {
		t.Errorf("memory.limit_in_bytes = %s after the second update", got)
	}
	if err := cg.Signal(9); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, sleep)
	if err := cg.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// TestWatchOOMv1 runs a process that allocates past the limit of a real
// v1 memory cgroup and expects one OOM event, then the cgroup's removal.
func TestWatchOOMv1(t *testing.T) {
	requireHybridRoot(t)
	if _, err := exec.LookPath("dd"); err != nil {
		t.Skip("needs dd")
	}
	path := testCgroupPath(t)
	cg, err := New(Config{ID: "oom", Path: path, Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(16 << 20)), Swap: ptr(int64(16 << 20))}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	w, err := cg.WatchOOM()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if n, gone, err := w.Read(); n != 0 || gone || err != nil {
		t.Fatalf("Read before any OOM = %d, %v, %v", n, gone, err)
	}
	// sh waits for a line on stdin, so that it is in the cgroup before dd
	// allocates: dd's 64 MiB buffer is filled from /dev/zero, every page
	// touched, far past the 16 MiB limit.
	cmd := exec.Command("sh", "-c", "read x; exec dd if=/dev/zero of=/dev/null bs=64M count=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := cg.AddPid(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys() == nil || ee.ProcessState.ExitCode() != -1 {
		t.Fatalf("dd in a 16 MiB cgroup: %v, want it killed", err)
	}
	pollFd(t, w.Fd())
	if n, gone, err := w.Read(); n != 1 || gone || err != nil {
		t.Errorf("Read after the OOM kill = %d, %v, %v; want 1 event", n, gone, err)
	}
	if err := cg.Destroy(); err != nil {
		t.Fatal(err)
	}
	pollFd(t, w.Fd())
	if _, gone, err := w.Read(); !gone || err != nil {
		t.Errorf("Read after the cgroup's removal: gone %v, err %v; want gone", gone, err)
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", path)); !os.IsNotExist(err) {
		t.Errorf("cgroup still there: %v", err)
	}
}
