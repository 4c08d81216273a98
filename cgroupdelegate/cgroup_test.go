package cgroupdelegate

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// requireHybridRoot skips tests that create real cgroups unless they can:
// they need root, and they check the v1 files that hold the limits on the
// project machine (v1 controllers, cgroup2 mounted at /sys/fs/cgroup/unified).
func requireHybridRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates cgroups under /sys/fs/cgroup")
	}
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("host is cgroup v2 unified; these tests check the v1/hybrid layout")
	}
	for _, h := range []string{"memory", "pids", "freezer", "devices"} {
		if _, err := os.Stat(filepath.Join(cgroupRoot, h)); err != nil {
			t.Skipf("no v1 %s hierarchy: %v", h, err)
		}
	}
}

// testCgroupPath returns a fresh absolute cgroupsPath under /gtu-test and
// registers the removal of everything a test may leave there. Register it
// before starting processes: cleanups run last-in first-out, so processes
// are killed first.
func testCgroupPath(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := "/gtu-test/" + strings.ReplaceAll(t.Name(), "/", "_") + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		for _, h := range hierarchyDirs(t) {
			dir := filepath.Join(h, p)
			if _, err := os.Stat(dir); err == nil {
				if err := cgroups.RemovePath(dir); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
			// Shared with other tests and runs: EBUSY while in use.
			_ = unix.Rmdir(filepath.Join(h, "gtu-test"))
		}
	})
	return p
}

// hierarchies lists every mounted hierarchy root: each v1 mount and, on a
// hybrid host, the unified one.
func hierarchyDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	var hs []string
	for _, e := range entries {
		if e.IsDir() {
			hs = append(hs, filepath.Join(cgroupRoot, e.Name()))
		}
	}
	return hs
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func readProcs(t *testing.T, dir string) []int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for f := range strings.FieldsSeq(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func mustFrozen(t *testing.T, cg *Cgroup, want bool) {
	t.Helper()
	got, err := cg.Frozen()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Frozen() = %v, want %v", got, want)
	}
	// The fast path later verbs take must agree wherever it answers.
	if fast, known, err := FrozenAt(cg.Paths()); known && (err != nil || fast != want) {
		t.Fatalf("FrozenAt(%v) = %v, %v; want %v like Frozen", cg.Paths(), fast, err, want)
	}
}

func waitKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("wait pid %d: %v, want killed", cmd.Process.Pid, err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("pid %d ended with %v, want SIGKILL", cmd.Process.Pid, ws)
	}
}

func assertGone(t *testing.T, path string) {
	t.Helper()
	for _, h := range hierarchyDirs(t) {
		if _, err := os.Stat(filepath.Join(h, path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (stat: %v)", filepath.Join(h, path), err)
		}
	}
}

func TestApplyFreezeSignalDestroy(t *testing.T) {
	requireHybridRoot(t)
	path := testCgroupPath(t)
	cg, err := New(Config{
		ID:   "c1",
		Path: path,
		Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
			Pids:   &specs.LinuxPids{Limit: ptr[int64](32)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	if err := cg.Apply(pid); err != nil {
		t.Fatal(err)
	}

	paths := cg.Paths()
	for ctrl, hier := range map[string]string{"memory": "memory", "pids": "pids", "freezer": "freezer", "devices": "devices"} {
		if want := filepath.Join(cgroupRoot, hier, path); paths[ctrl] != want {
			t.Errorf("Paths()[%q] = %q, want %q", ctrl, paths[ctrl], want)
		}
	}
	if cgroups.IsCgroup2HybridMode() {
		if want := filepath.Join(cgroupRoot, "unified", path); paths[""] != want {
			t.Errorf(`Paths()[""] = %q, want %q`, paths[""], want)
		}
	}
	for ctrl, dir := range paths {
		if !slices.Contains(readProcs(t, dir), pid) {
			t.Errorf("pid %d not in %s/cgroup.procs (%q)", pid, dir, ctrl)
		}
	}
	if got := readTrim(t, filepath.Join(paths["memory"], "memory.limit_in_bytes")); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, 64<<20)
	}
	if got := readTrim(t, filepath.Join(paths["pids"], "pids.max")); got != "32" {
		t.Errorf("pids.max = %s, want 32", got)
	}
	devList := strings.Split(readTrim(t, filepath.Join(paths["devices"], "devices.list")), "\n")
	want := slices.Clone(wantDefaults)
	slices.Sort(devList)
	slices.Sort(want)
	if !slices.Equal(devList, want) {
		t.Errorf("devices.list = %q, want %q", devList, want)
	}

	pids, err := cg.Pids()
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, pid)
	}
	st, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.PidsStats.Current != 1 || st.PidsStats.Limit != 32 || st.MemoryStats.Usage.Limit != 64<<20 {
		t.Errorf("stats: pids %+v, memory limit %d", st.PidsStats, st.MemoryStats.Usage.Limit)
	}

	mustFrozen(t, cg, false)
	if err := cg.Freeze(); err != nil {
		t.Fatal(err)
	}
	mustFrozen(t, cg, true)
	if err := cg.Thaw(); err != nil {
		t.Fatal(err)
	}
	mustFrozen(t, cg, false)

	// What a later verb does: rebuild from the saved state and pause.
	raw, err := cg.Save()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []map[string]string{paths, nil} {
		loaded, err := Load(raw, p)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(loaded.Paths(), paths) {
			t.Errorf("loaded paths %v, want %v", loaded.Paths(), paths)
		}
		if err := loaded.Freeze(); err != nil {
			t.Fatal(err)
		}
		mustFrozen(t, cg, true)
		if err := loaded.Thaw(); err != nil {
			t.Fatal(err)
		}
		mustFrozen(t, loaded, false)
	}

	if err := cg.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, cmd)

	if err := cg.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, path)
	if err := cg.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// A shell that forks only after it is in the cgroup, and whose child sits
// in a nested cgroup: Pids must recurse, a signal to a paused container
// must leave it paused, SIGKILL must kill both anyway, and Destroy must
// remove the nested cgroup too.
func TestSignalForkedAndFrozen(t *testing.T) {
	requireHybridRoot(t)
	path := testCgroupPath(t)
	cg, err := New(Config{ID: "c2", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `read x; sleep 1000 & echo $!; wait`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var child int
	t.Cleanup(func() {
		if child > 0 {
			_ = unix.Kill(child, unix.SIGKILL)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if err := cg.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if child, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(cg.Paths()["devices"], "nested")
	if err := os.Mkdir(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cgroups.WriteCgroupProc(nested, child); err != nil {
		t.Fatal(err)
	}

	pids, err := cg.Pids()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	want := []int{cmd.Process.Pid, child}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Fatalf("Pids() = %v, want %v", pids, want)
	}

	if err := cg.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := cg.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	mustFrozen(t, cg, true)

	if err := cg.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, cmd)
	if err := cg.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, path)
}

// A limit the kernel refuses must leave no directory behind and the
// process where it was: both when creating the directories fails (cpuset
// applies cpus while creating) and when a later limit fails (no v1 hugetlb
// file for a 3MB page size).
func TestApplyUndo(t *testing.T) {
	requireHybridRoot(t)
	for name, res := range map[string]*specs.LinuxResources{
		"cpuset":  {CPU: &specs.LinuxCPU{Cpus: "0-4095"}},
		"hugetlb": {Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20)}, HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1 << 30}}},
	} {
		t.Run(name, func(t *testing.T) {
			path := testCgroupPath(t)
			cg, err := New(Config{ID: "c3", Path: path, Resources: res})
			if err != nil {
				t.Fatal(err)
			}
			cmd := startSleep(t)
			procCgroup := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup"
			before, err := cgroups.ParseCgroupFile(procCgroup)
			if err != nil {
				t.Fatal(err)
			}
			err = cg.Apply(cmd.Process.Pid)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			t.Logf("Apply: %v", err)
			assertGone(t, path)
			after, err := cgroups.ParseCgroupFile(procCgroup)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(before, after) {
				t.Errorf("process moved: %v -> %v", before, after)
			}
		})
	}
}

func TestSignalGone(t *testing.T) {
	requireHybridRoot(t)
	cg, err := New(Config{ID: "c4", Path: testCgroupPath(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Signal(unix.SIGKILL); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Signal before Apply = %v, want ErrNotExist", err)
	}
	if err := cg.Destroy(); err != nil {
		t.Errorf("Destroy before Apply: %v", err)
	}
}

func TestNewSystemdNotRunning(t *testing.T) {
	if systemdBooted() != systemd.IsRunningSystemd() {
		t.Errorf("systemdBooted() = %v, the library says %v", systemdBooted(), systemd.IsRunningSystemd())
	}
	if systemd.IsRunningSystemd() {
		t.Skip("systemd runs here")
	}
	_, err := New(Config{ID: "c1", Systemd: true})
	if !errors.Is(err, ErrSystemdNotRunning) || err.Error() != "--systemd-cgroup: systemd is not running as the init system" {
		t.Errorf("New = %v", err)
	}
	// A malformed path is reported before the host is looked at.
	_, err = New(Config{ID: "c1", Systemd: true, Path: "/gtu-test/c1"})
	checkFieldError(t, err, "linux.cgroupsPath:")
}

func TestNewUnifiedOnV1(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("host is cgroup v2 unified")
	}
	_, err := New(Config{ID: "c1", Path: "/gtu-test/c1", Resources: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G"}}})
	checkFieldError(t, err, "linux.resources.unified:")
	if !errors.Is(err, ErrUnifiedNeedsV2) {
		t.Errorf("%v does not match ErrUnifiedNeedsV2", err)
	}
}

func TestLoadErrors(t *testing.T) {
	good, err := json.Marshal(savedState{Version: savedVersion, Config: &cgroups.Cgroup{Path: "/gtu-test/x"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		raw   string
		paths map[string]string
		is    error
	}{
		{"not json", "{", nil, ErrBadState},
		{"wrong version", `{"version":99,"config":{}}`, nil, ErrBadState},
		{"no config", `{"version":1}`, nil, ErrBadState},
		{"no paths", string(good), nil, ErrBadState},
		{"relative path", string(good), map[string]string{"memory": "gtu-test/x"}, ErrBadState},
		{"unclean path", string(good), map[string]string{"memory": "/sys/fs/cgroup/memory/../memory/x"}, ErrBadState},
		{"hierarchy root", string(good), map[string]string{"proc": "/proc"}, ErrHierarchyRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(json.RawMessage(tt.raw), tt.paths)
			if !errors.Is(err, tt.is) {
				t.Errorf("Load = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestIsMountRoot(t *testing.T) {
	for p, want := range map[string]bool{"/": true, "/proc": true, t.TempDir(): false, "/nonexistent/x": false} {
		if got := isMountRoot(p); got != want {
			t.Errorf("isMountRoot(%q) = %v, want %v", p, got, want)
		}
	}
	// The guard in front of every removal: /proc stands in for a hierarchy
	// root, which must never be tried.
	if err := removeDirs([]string{"/proc"}); !errors.Is(err, ErrHierarchyRoot) {
		t.Errorf("removeDirs(/proc) = %v, want ErrHierarchyRoot", err)
	}
}

func TestMissingRoots(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "exists"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := missingRoots(map[string]string{
		"a": filepath.Join(dir, "exists", "new", "leaf"),
		"b": filepath.Join(dir, "exists", "new", "leaf2"),
		"c": filepath.Join(dir, "exists"),
		"d": filepath.Join(dir, "other"),
	})
	want := []string{filepath.Join(dir, "exists", "new"), filepath.Join(dir, "other")}
	if !slices.Equal(got, want) {
		t.Errorf("missingRoots = %q, want %q", got, want)
	}
}

// Path forms resolve like runc's fs driver: no path means "<ID>" under
// gtu's own cgroup in each hierarchy. Nothing is created.
func TestNewPaths(t *testing.T) {
	requireHybridRoot(t)
	own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg  Config
		want string // memory path
	}{
		{Config{ID: "c5"}, filepath.Join(cgroupRoot, "memory", own["memory"], "c5")},
		{Config{ID: "c5", Path: "pod/c5"}, filepath.Join(cgroupRoot, "memory", own["memory"], "pod/c5")},
		{Config{ID: "c5", Path: "/gtu-test/c5"}, filepath.Join(cgroupRoot, "memory", "gtu-test/c5")},
	} {
		cg, err := New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := cg.Paths()["memory"]; got != tt.want {
			t.Errorf("%+v: memory path %q, want %q", tt.cfg, got, tt.want)
		}
		if _, err := os.Stat(tt.want); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("New created %s (stat: %v)", tt.want, err)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	requireHybridRoot(t)
	cg, err := New(Config{
		ID:   "c6",
		Path: "/gtu-test/c6",
		Resources: &specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: ptr[int64](1 << 20), Swappiness: ptr[uint64](0)},
			CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Cpus: "0"},
			Pids:    &specs.LinuxPids{Limit: ptr[int64](0)},
			BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: blk(8, 0), Weight: ptr[uint16](100)}}},
		},
		Devices: []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}},
	})
	if err != nil {
		t.Fatal(err)
	}
	loaded := reload(t, cg)
	if !reflect.DeepEqual(loaded.cfg, cg.cfg) {
		t.Errorf("round trip:\n got %+v\nwant %+v", loaded.cfg.Resources, cg.cfg.Resources)
	}
	if !maps.Equal(loaded.Paths(), cg.Paths()) {
		t.Errorf("paths %v, want %v", loaded.Paths(), cg.Paths())
	}
	// Empty resources marshal to nothing; the v1 driver still needs them.
	empty, err := json.Marshal(savedState{Version: savedVersion, Config: &cgroups.Cgroup{Path: "/gtu-test/c6"}, Paths: cg.Paths()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(empty, nil); err != nil {
		t.Errorf("Load without resources: %v", err)
	}
}

// reload is what a later gtu process does: Load what Save wrote.
func reload(t *testing.T, cg *Cgroup) *Cgroup {
	t.Helper()
	raw, err := cg.Save()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// FrozenAt answers only with a v1 freezer path (mustFrozen checks that its
// answers agree with Frozen on real cgroups).
func TestFrozenAtUnknown(t *testing.T) {
	if _, known, _ := FrozenAt(map[string]string{"": "/sys/fs/cgroup/unified/x"}); known {
		t.Error("no v1 freezer path: want unknown")
	}
	if _, known, _ := FrozenAt(nil); known {
		t.Error("no paths: want unknown")
	}
}

// DestroySaved removes an fs-driver cgroup from its saved description alone
// (every hierarchy, the unified one included), and leaves systemd and
// rootless descriptions to Load.
func TestDestroySaved(t *testing.T) {
	requireHybridRoot(t)
	path := testCgroupPath(t)
	cg, err := New(Config{ID: "ds", Path: path, Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](16)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	raw, err := cg.Save()
	if err != nil {
		t.Fatal(err)
	}
	paths := cg.Paths()
	if len(paths) < 2 {
		t.Fatalf("paths %v: want a directory per hierarchy", paths)
	}
	done, err := DestroySaved(raw, nil)
	if !done || err != nil {
		t.Fatalf("DestroySaved = %v, %v", done, err)
	}
	for name, dir := range paths {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %s is still there (%v)", name, dir, err)
		}
	}
	for _, other := range []string{
		`{"version":1,"config":{"Systemd":true},"paths":{"pids":"/sys/fs/cgroup/pids/x"}}`,
		`{"version":1,"config":{},"paths":{"pids":"/sys/fs/cgroup/pids/x"},"rootless":{"mode":"user-scope"}}`,
		`{"version":2,"config":{},"paths":{"pids":"/sys/fs/cgroup/pids/x"}}`,
		`{"version":1,"config":{}}`,
		`not json`,
	} {
		if done, err := DestroySaved(json.RawMessage(other), nil); done || err != nil {
			t.Errorf("DestroySaved(%s) = %v, %v; want it left to Load", other, done, err)
		}
	}
	// A hierarchy root is never removed.
	root := json.RawMessage(`{"version":1,"config":{},"paths":{"pids":"/sys/fs/cgroup/pids"}}`)
	if done, err := DestroySaved(root, nil); !done || !errors.Is(err, ErrBadState) {
		t.Errorf("DestroySaved of a hierarchy root = %v, %v; want ErrBadState", done, err)
	}
}
