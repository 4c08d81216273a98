package cgroupdelegate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // the library's writers, to compare with (tests only)
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The library's hooks, taken before this package's init replaces them:
// package variables are initialised after every imported package's init
// (the devices package's included) and before this package's init.
var (
	librarySetV1 = cgroups.DevicesSetV1
	librarySetV2 = cgroups.DevicesSetV2
)

func devRule(t devconfig.Type, major, minor int64, perms string, allow bool) *devconfig.Rule {
	return &devconfig.Rule{Type: t, Major: major, Minor: minor, Permissions: devconfig.Permissions(perms), Allow: allow}
}

const (
	bdev = devconfig.BlockDevice
	chr  = devconfig.CharDevice
	all  = devconfig.WildcardDevice
	wc   = devconfig.Wildcard
)

// gtuRuleSets are the device rule lists gtu makes (cgroupConfig), and a
// few more that exercise the kernel's semantics.
func gtuRuleSets(t *testing.T) map[string][]*devconfig.Rule {
	t.Helper()
	conv := func(res *specs.LinuxResources, devs []specs.LinuxDevice) []*devconfig.Rule {
		cg, _, err := cgroupConfig(Config{ID: "d", Path: "/gtu-test/d", Resources: res, Devices: devs})
		if err != nil {
			t.Fatal(err)
		}
		return cg.Resources.Devices
	}
	denyAll := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	return map[string][]*devconfig.Rule{
		"defaults only": conv(nil, nil),
		"default deny (gtu spec, podman)": conv(&specs.LinuxResources{Devices: denyAll}, []specs.LinuxDevice{
			{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
			{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/fifo", Type: "p"},
		}),
		"privileged allow all": conv(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}, nil),
		"deny all, allow some, deny one back": conv(&specs.LinuxResources{Devices: append(denyAll,
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(4)), Access: "rwm"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(7)), Minor: ptr(int64(2)), Access: "rwm"},
			specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr(int64(7)), Minor: ptr(int64(2)), Access: "w"},
		)}, nil),
		"blacklist with denials": {
			devRule(all, wc, wc, "rwm", true), devRule(chr, 1, 3, "rwm", false), devRule(bdev, 8, wc, "w", false),
			devRule(chr, 1, 3, "r", true),
		},
		"merged permissions": {
			devRule(all, wc, wc, "rwm", false), devRule(chr, 1, 3, "r", true), devRule(chr, 1, 3, "mw", true),
			devRule(bdev, wc, wc, "m", true), devRule(chr, 5, 0, "rw", true), devRule(chr, 5, 0, "rwm", false),
		},
		"empty":      nil,
		"reset late": {devRule(chr, 1, 3, "rwm", true), devRule(all, wc, wc, "rwm", false), devRule(chr, 1, 5, "rwm", true)},
	}
}

func TestEmulateDevices(t *testing.T) {
	for _, tt := range []struct {
		name  string
		rules []*devconfig.Rule
		want  string // devices.list as the kernel would show it, sorted
	}{
		{"empty is deny all", nil, ""},
		{"allow all", []*devconfig.Rule{devRule(all, wc, wc, "rwm", true), devRule(chr, 1, 3, "rwm", true)}, "a *:* rwm"},
		{"whitelist", []*devconfig.Rule{devRule(all, wc, wc, "rwm", false), devRule(chr, 1, 3, "rw", true), devRule(chr, 1, 3, "m", true), devRule(chr, 136, wc, "rwm", true)},
			"c 136:* rwm\nc 1:3 rwm"},
		{"remove an allowed exception", []*devconfig.Rule{devRule(chr, 1, 3, "rwm", true), devRule(chr, 1, 3, "wm", false)}, "c 1:3 r"},
	} {
		st, err := emulateDevices(tt.rules)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := st.list(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
		back, err := parseDevicesList(tt.want)
		if err != nil || !back.matches(st) {
			t.Errorf("%s: parsed back %+v, %v", tt.name, back, err)
		}
	}
	for _, tt := range []struct {
		name  string
		rules []*devconfig.Rule
		want  error
	}{
		{"hole in a whitelist wildcard", []*devconfig.Rule{devRule(chr, 1, wc, "rwm", true), devRule(chr, 1, 3, "w", false)}, errDeviceHole},
		{"hole in a blacklist wildcard", []*devconfig.Rule{devRule(all, wc, wc, "rwm", true), devRule(bdev, wc, wc, "w", false), devRule(bdev, 8, 0, "rw", true)}, errDeviceHole},
	} {
		if _, err := emulateDevices(tt.rules); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := emulateDevices([]*devconfig.Rule{devRule(devconfig.FifoDevice, 1, 1, "rwm", true)}); err == nil {
		t.Error("a fifo rule was accepted")
	}
}

// list renders st as sorted devices.list lines.
func (st *deviceState) list() string {
	if st.allowAll {
		return "a *:* rwm"
	}
	var lines []string
	for k, p := range st.exceptions {
		lines = append(lines, (&devconfig.Rule{Type: k.typ, Major: k.major, Minor: k.minor, Permissions: p}).CgroupString())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestParseDevicesListErrors(t *testing.T) {
	for _, in := range []string{"x 1:3 rwm\n", "c 1 rwm\n", "c 1:3 rwq\n", "c a:3 rwm\n", "c 1:3\n"} {
		if _, err := parseDevicesList(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

// requireDevicesV1 skips unless a real v1 devices hierarchy can be written.
func requireDevicesV1(t *testing.T) string {
	t.Helper()
	root := filepath.Join(cgroupRoot, "devices")
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes devices.allow in the v1 devices hierarchy")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skipf("no v1 devices hierarchy at %s", root)
	}
	return root
}

// devicesCgroup makes an empty child of the devices hierarchy's /gtu-test.
func devicesCgroup(t *testing.T, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, "gtu-test", strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+"-"+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = unix.Rmdir(filepath.Join(root, "gtu-test"))
	})
	return dir
}

func sortedList(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "devices.list"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestSetDevicesV1MatchesLibrary writes each rule list with gtu's writer
// and with the library's to two fresh cgroups of this host's v1 devices
// hierarchy, and compares the kernel's devices.list.
func TestSetDevicesV1MatchesLibrary(t *testing.T) {
	root := requireDevicesV1(t)
	for name, rules := range gtuRuleSets(t) {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			lib, gtu := devicesCgroup(t, root, "lib"), devicesCgroup(t, root, "gtu")
			r := &cgroups.Resources{Devices: rules}
			if err := librarySetV1(lib, r); err != nil {
				t.Fatalf("library: %v", err)
			}
			if err := setDevicesV1(gtu, r); err != nil {
				t.Fatalf("gtu: %v", err)
			}
			if got, want := sortedList(t, gtu), sortedList(t, lib); got != want {
				t.Errorf("devices.list:\ngtu:\n%s\nlibrary:\n%s", got, want)
			}
			// And through the hook the fs driver calls.
			if err := cgroups.DevicesSetV1(gtu, r); err != nil {
				t.Errorf("again through the hook: %v", err)
			}
		})
	}
	// What the library refuses, gtu refuses, and writes nothing.
	hole := &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false), devRule(chr, 1, wc, "rwm", true), devRule(chr, 1, 3, "w", false)}}
	dir := devicesCgroup(t, root, "hole")
	if err := librarySetV1(dir, hole); err == nil {
		t.Error("the library accepted a hole in a wildcard rule")
	}
	if err := setDevicesV1(dir, hole); !errors.Is(err, errDeviceHole) {
		t.Errorf("gtu: %v, want %v", err, errDeviceHole)
	}
	if got := sortedList(t, dir); got != "a_*:*_rwm" {
		t.Errorf("a refused rule list changed devices.list to %q", got)
	}
	// SkipDevices writes nothing either.
	if err := setDevicesV1(dir, &cgroups.Resources{SkipDevices: true, Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false)}}); err != nil {
		t.Fatal(err)
	}
	if got := sortedList(t, dir); got != "a_*:*_rwm" {
		t.Errorf("SkipDevices changed devices.list to %q", got)
	}
}

// TestSetDevicesV1Order: devices.list keeps the rules' order, as the OCI
// spec asks and runtime-tools' linux_cgroups_devices checks (the library's
// writer sorts them).
func TestSetDevicesV1Order(t *testing.T) {
	root := requireDevicesV1(t)
	dir := devicesCgroup(t, root, "order")
	r := &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false),
		devRule(chr, 10, 229, "rwm", true), devRule(bdev, 8, 20, "rw", true), devRule(bdev, 10, 200, "r", true), devRule(chr, 1, 3, "rwm", true)}}
	if err := setDevicesV1(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "devices.list"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "c 10:229 rwm\nb 8:20 rw\nb 10:200 r\nc 1:3 rwm\n"; got != want {
		t.Errorf("devices.list:\n%s\nwant:\n%s", got, want)
	}
}

// TestCreateAndUpdateDevices: a container's cgroup gets gtu's default
// rules at Create, and Update leaves them alone: it must never write the
// deny-all that precedes them, which a running container would notice.
func TestCreateAndUpdateDevices(t *testing.T) {
	requireHybridRoot(t)
	path := testCgroupPath(t)
	cg, err := New(Config{ID: "dev", Path: path, Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(32 << 20))}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cgroupRoot, "devices", path)
	want, err := emulateDevices(cg.cfg.Resources.Devices)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(sortedList(t, dir), "_", " "); got != want.list() {
		t.Errorf("devices.list after Create:\n%s\nwant:\n%s", got, want.list())
	}
	var calls []bool
	prev := cgroups.DevicesSetV1
	cgroups.DevicesSetV1 = func(p string, r *cgroups.Resources) error {
		calls = append(calls, r.SkipDevices)
		return prev(p, r)
	}
	t.Cleanup(func() { cgroups.DevicesSetV1 = prev })
	if _, err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}}); err != nil {
		t.Fatal(err)
	}
	// A failing update writes the previous limits back: no devices either.
	if _, err := cg.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}}); err == nil {
		t.Fatal("update to cpuset 4095 succeeded")
	}
	if len(calls) == 0 || slices.Contains(calls, false) {
		t.Errorf("update called the devices writer with SkipDevices %v, want only true", calls)
	}
	if got := strings.ReplaceAll(sortedList(t, dir), "_", " "); got != want.list() {
		t.Errorf("devices.list after Update:\n%s\nwant:\n%s", got, want.list())
	}
	if err := cg.Destroy(); err != nil {
		t.Fatal(err)
	}
}
