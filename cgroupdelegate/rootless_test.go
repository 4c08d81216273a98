package cgroupdelegate

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestMapUID(t *testing.T) {
	const sessionMap = "         0       1001          1\n         1     100000      65536\n"
	for _, tt := range []struct {
		idMap  string
		host   int
		want   int
		mapped bool
	}{
		{sessionMap, 1001, 0, true},
		{sessionMap, 100000, 1, true},
		{sessionMap, 165535, 65536, true},
		{sessionMap, 165536, -1, false},
		{sessionMap, 0, -1, false},
		{"0 0 4294967295\n", 1001, 1001, true}, // the initial namespace
		{"garbage\n", 1001, -1, false},
	} {
		got, ok := mapUID(tt.idMap, tt.host)
		if got != tt.want || ok != tt.mapped {
			t.Errorf("mapUID(%q, %d) = %d, %v; want %d, %v", tt.idMap, tt.host, got, ok, tt.want, tt.mapped)
		}
	}
}

func TestHierarchiesFrom(t *testing.T) {
	mounts := []*mountinfo.Info{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", VFSOptions: "rw,cpu,cpuacct"},
		{Mountpoint: "/sys/fs/cgroup/memory", FSType: "cgroup", VFSOptions: "rw,memory"},
		{Mountpoint: "/sys/fs/cgroup/systemd", FSType: "cgroup", VFSOptions: "rw,xattr,release_agent=/x,name=systemd"},
		{Mountpoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", VFSOptions: "rw,nsdelegate"},
		{Mountpoint: "/elsewhere/memory", FSType: "cgroup", VFSOptions: "rw,memory"},
	}
	got := hierarchiesFrom(mounts, "/sys/fs/cgroup")
	want := []hierarchy{
		{dir: "/sys/fs/cgroup/cpu,cpuacct", keys: []string{"cpu", "cpuacct"}},
		{dir: "/sys/fs/cgroup/memory", keys: []string{"memory"}},
		{dir: "/sys/fs/cgroup/systemd", keys: []string{"name=systemd"}},
		{dir: "/sys/fs/cgroup/unified", keys: []string{""}, v2: true},
	}
	if len(got) != len(want) {
		t.Fatalf("hierarchiesFrom = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].dir != want[i].dir || strings.Join(got[i].keys, ",") != strings.Join(want[i].keys, ",") || got[i].v2 != want[i].v2 {
			t.Errorf("hierarchy %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// A pure v2 host: the root itself is the hierarchy.
	v2 := hierarchiesFrom([]*mountinfo.Info{{Mountpoint: "/sys/fs/cgroup", FSType: "cgroup2"}}, "/sys/fs/cgroup")
	if len(v2) != 1 || !v2[0].v2 || v2[0].dir != "/sys/fs/cgroup" {
		t.Errorf("pure v2: %+v", v2)
	}
}

// fakeTree makes a cgroupfs-like tree: each hierarchy with a delegated
// base for uid 1001 owned by owner, except those listed in foreign, owned
// by someone else.
func fakeTree(t *testing.T, owner int, foreign ...string) []hierarchy {
	t.Helper()
	root := t.TempDir()
	var hs []hierarchy
	for _, h := range []struct {
		name string
		keys []string
		v2   bool
	}{{"memory", []string{"memory"}, false}, {"pids", []string{"pids"}, false}, {"systemd", []string{"name=systemd"}, false}, {"unified", []string{""}, true}, {"freezer", []string{"freezer"}, false}} {
		dir := filepath.Join(root, h.name)
		base := filepath.Join(dir, "gtu.user.1001")
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatal(err)
		}
		o := owner
		for _, f := range foreign {
			if f == h.name {
				o = owner + 1
			}
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(base, o, o); err != nil {
				t.Fatal(err)
			}
		} else if o != os.Geteuid() {
			t.Skip("needs root to chown the fake tree")
		}
		hs = append(hs, hierarchy{dir: dir, keys: h.keys, v2: h.v2})
	}
	return hs
}

func TestFindDelegation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the fake tree owners")
	}
	// Outside a user namespace the base belongs to the host uid.
	hs := fakeTree(t, 1001, "freezer")
	got := findDelegation(hs, 1001, 1001)
	wantKeys := []string{"", "memory", "name=systemd", "pids"}
	if keys := sortedKeys(got); strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("findDelegation keys = %q, want %q (freezer belongs to someone else)", keys, wantKeys)
	}
	if got["memory"] != filepath.Join(hs[0].dir, "gtu.user.1001") {
		t.Errorf("memory base = %q", got["memory"])
	}
	// Inside gtu's session namespace the same directories show as owned
	// by 0: they are found by the host uid's name and checked against the
	// uid it maps to.
	hs = fakeTree(t, 0)
	if got := findDelegation(hs, 1001, 0); len(got) != 5 {
		t.Errorf("in a user namespace: %v, want all 5 hierarchies", got)
	}
	if got := findDelegation(hs, 1001, 1001); len(got) != 0 {
		t.Errorf("owner mismatch still found %v", got)
	}
	if got := findDelegation(hs, 1002, 0); len(got) != 0 {
		t.Errorf("another uid's name found %v", got)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestRequestedLimit(t *testing.T) {
	for _, tt := range []struct {
		r    *specs.LinuxResources
		want string
	}{
		{nil, ""},
		{&specs.LinuxResources{}, ""},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, ""},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{}}, ""},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}}, "linux.resources.memory"},
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}}, "linux.resources.pids"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10000)}}, "linux.resources.cpu"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](100)}}, "linux.resources.blockIO"},
		{&specs.LinuxResources{Unified: map[string]string{"memory.high": "1M"}}, "linux.resources.unified"},
	} {
		if got := requestedLimit(tt.r); got != tt.want {
			t.Errorf("requestedLimit(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestChooseMode(t *testing.T) {
	limits := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}}
	v1 := map[string]string{"memory": "/sys/fs/cgroup/memory/gtu.user.1001"}
	const bus = "unix:path=/run/user/1001/bus"
	for _, tt := range []struct {
		name  string
		cfg   Config
		probe hostProbe
		want  string
		err   error
	}{
		{"delegated wins", Config{Resources: limits}, hostProbe{bases: v1, bus: bus}, modeDelegated, nil},
		{"delegated without limits", Config{}, hostProbe{bases: v1}, modeDelegated, nil},
		{"scope without limits", Config{}, hostProbe{bus: bus, scopeReachable: true}, modeUserScope, nil},
		{"unreachable scope without limits", Config{}, hostProbe{bus: bus}, modeDisabled, nil},
		{"scope cannot limit", Config{Resources: limits}, hostProbe{bus: bus}, "", ErrNeedsDelegation},
		{"nothing, no limits", Config{}, hostProbe{}, modeDisabled, nil},
		{"nothing, limits", Config{Resources: limits}, hostProbe{}, "", ErrNeedsDelegation},
		{"systemd", Config{Systemd: true}, hostProbe{bus: bus, bases: v1}, modeUserScope, nil},
		{"systemd with v1 limits", Config{Systemd: true, Resources: limits}, hostProbe{bus: bus, bases: v1}, modeUserScope, nil},
		{"systemd limits without delegation", Config{Systemd: true, Resources: limits}, hostProbe{bus: bus}, "", ErrNeedsDelegation},
		{"systemd without manager", Config{Systemd: true}, hostProbe{bases: v1}, "", ErrNoUserManager},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseMode(tt.cfg, tt.probe)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("chooseMode = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestNeedsDelegationMessage(t *testing.T) {
	_, err := chooseMode(Config{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}}}, hostProbe{})
	want := "linux.resources.pids: cgroup limits need a delegated cgroup (no cgroup is delegated to this user): " +
		"ask root to run `gtu cgroup-delegate --user USER` (cgroup v1 or hybrid hosts), or run under a systemd --user session " +
		"whose cgroup v2 tree has the controllers delegated, or remove the limits"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestDelegatedPaths(t *testing.T) {
	bases := map[string]string{"memory": "/m/gtu.user.1001", "": "/u/gtu.user.1001"}
	for _, tt := range []struct {
		cg   cgroups.Cgroup
		want map[string]string
	}{
		{cgroups.Cgroup{Path: "/gtu-test/a"}, map[string]string{"memory": "/m/gtu.user.1001/gtu-test/a", "": "/u/gtu.user.1001/gtu-test/a"}},
		{cgroups.Cgroup{Path: "pod/a"}, map[string]string{"memory": "/m/gtu.user.1001/pod/a", "": "/u/gtu.user.1001/pod/a"}},
		{cgroups.Cgroup{Name: "a"}, map[string]string{"memory": "/m/gtu.user.1001/a", "": "/u/gtu.user.1001/a"}},
	} {
		got := delegatedPaths(&tt.cg, hostProbe{bases: bases})
		if !maps.Equal(got, tt.want) {
			t.Errorf("delegatedPaths(%+v) = %v, want %v", tt.cg, got, tt.want)
		}
	}
}

func TestUsableBases(t *testing.T) {
	bases := map[string]string{"memory": "/m/gtu.user.1001", "": "/u/gtu.user.1001"}
	for own, want := range map[string]int{
		"/u":                          1, // outside: the cgroup2 base cannot be entered
		"":                            1,
		"/u/gtu.user.1001":            2,
		"/u/gtu.user.1001/session":    2,
		"/u/gtu.user.10010/elsewhere": 1,
	} {
		if got := usableBases(bases, own); len(got) != want || got["memory"] == "" {
			t.Errorf("usableBases(own %q) = %v, want %d bases", own, got, want)
		}
	}
	if len(bases) != 2 {
		t.Error("usableBases changed its argument")
	}
}

// The disabled manager, built as New builds it on a host with nothing
// delegated: no-ops for placement, clear errors for what needs a cgroup,
// and a Save that Load understands.
func TestDisabled(t *testing.T) {
	cg, err := newRootless(Config{ID: "c1", Rootless: true, HostUID: 1001}, mustConfig(t), hostProbe{})
	if err != nil {
		t.Fatal(err)
	}
	if cg.rootless.Mode != modeDisabled {
		t.Fatalf("mode %s", cg.rootless.Mode)
	}
	if !cg.CanEnterThread() {
		t.Error("disabled: CanEnterThread false")
	}
	if err := cg.Create(); err != nil {
		t.Errorf("Create: %v", err)
	}
	if f, err := cg.EnterThread(); f != nil || err != nil {
		t.Errorf("EnterThread = %v, %v", f, err)
	}
	if err := cg.Apply(os.Getpid()); err != nil {
		t.Errorf("Apply: %v", err)
	}
	if len(cg.Paths()) != 0 {
		t.Errorf("Paths = %v", cg.Paths())
	}
	for name, err := range map[string]error{"Freeze": cg.Freeze(), "Thaw": cg.Thaw(), "Signal": cg.Signal(unix.SIGKILL)} {
		if !errors.Is(err, ErrNoCgroup) {
			t.Errorf("%s = %v, want ErrNoCgroup", name, err)
		}
	}
	// delete --force treats a missing cgroup as gone and signals the init.
	if err := cg.Signal(unix.SIGKILL); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Signal = %v, want it to match fs.ErrNotExist", err)
	}
	if _, err := cg.Pids(); !errors.Is(err, ErrNoCgroup) {
		t.Errorf("Pids = %v", err)
	}
	if _, err := cg.Stats(); !errors.Is(err, ErrNoCgroup) {
		t.Errorf("Stats = %v", err)
	}
	if frozen, err := cg.Frozen(); frozen || err != nil {
		t.Errorf("Frozen = %v, %v", frozen, err)
	}
	if err := cg.Freeze(); err == nil || !strings.Contains(err.Error(), "freezer") {
		t.Errorf("Freeze error does not say why: %v", err)
	}
	loaded := reload(t, cg)
	if loaded.rootless == nil || loaded.rootless.Mode != modeDisabled || loaded.rootless.HostUID != 1001 {
		t.Errorf("loaded rootless %+v", loaded.rootless)
	}
	if err := loaded.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if _, err := loaded.WatchOOM(); !errors.Is(err, ErrNoMemoryController) {
		t.Errorf("WatchOOM = %v", err)
	}
	// update cannot add limits either.
	if _, err := cg.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](9)}}); !errors.Is(err, ErrNeedsDelegation) {
		t.Errorf("Update = %v, want ErrNeedsDelegation", err)
	}
	// Limits with nothing delegated: New refuses, naming the field.
	_, err = newRootless(Config{ID: "c1", Rootless: true, HostUID: 1001, Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}}},
		mustConfig(t), hostProbe{})
	if !errors.Is(err, ErrNeedsDelegation) || !strings.HasPrefix(err.Error(), "linux.resources.memory: ") {
		t.Errorf("limits without delegation: %v", err)
	}
}

func TestHasLimits(t *testing.T) {
	for _, tt := range []struct {
		r    *cgroups.Resources
		want bool
	}{
		{nil, false},
		{&cgroups.Resources{}, false},
		{&cgroups.Resources{SkipDevices: true, Freezer: cgroups.Frozen}, false},
		{&cgroups.Resources{Memory: 1 << 20}, true},
		{&cgroups.Resources{PidsLimit: ptr[int64](3)}, true},
		{&cgroups.Resources{CpusetCpus: "0"}, true},
	} {
		if got := hasLimits(tt.r); got != tt.want {
			t.Errorf("hasLimits(%+v) = %v", tt.r, got)
		}
	}
}

func TestNewRootlessNeedsHostUID(t *testing.T) {
	if _, err := New(Config{ID: "c1", Rootless: true}); err == nil || !strings.Contains(err.Error(), "host uid 0") {
		t.Errorf("New without HostUID = %v", err)
	}
}

func TestLoadRootlessErrors(t *testing.T) {
	for name, st := range map[string]savedState{
		"unknown mode": {Version: savedVersion, Config: &cgroups.Cgroup{}, Paths: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}, Rootless: &savedRootless{Mode: "magic"}},
		"no paths":     {Version: savedVersion, Config: &cgroups.Cgroup{}, Rootless: &savedRootless{Mode: modeDelegated}},
		"bad limits":   {Version: savedVersion, Config: &cgroups.Cgroup{}, Paths: map[string]string{"": "/sys/fs/cgroup/unified/x"}, Rootless: &savedRootless{Mode: modeUserScope, Limits: map[string]string{"memory": "rel"}}},
	} {
		raw, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(raw, nil); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: Load = %v, want ErrBadState", name, err)
		}
	}
}
