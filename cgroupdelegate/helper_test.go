package cgroupdelegate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/internal/cghelper"
)

var (
	buildHelperOnce sync.Once
	builtHelper     string
	buildHelperErr  error
)

// useHelper builds cmd/gtu-cgroup once and points gtu at it for the test.
func useHelper(t *testing.T) {
	t.Helper()
	buildHelperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gtu-cgroup-test")
		if err != nil {
			buildHelperErr = err
			return
		}
		builtHelper = filepath.Join(dir, cghelper.Name)
		out, err := exec.Command("go", "build", "-o", builtHelper, "github.com/gophertainer/gtu/cmd/gtu-cgroup").CombinedOutput()
		if err != nil {
			buildHelperErr = errors.New(string(out))
		}
	})
	if buildHelperErr != nil {
		t.Fatalf("build gtu-cgroup: %v", buildHelperErr)
	}
	helperPath = builtHelper
	t.Cleanup(func() { helperPath = "" })
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtHelper != "" {
		os.RemoveAll(filepath.Dir(builtHelper))
	}
	os.Exit(code)
}

func TestHelperMissing(t *testing.T) {
	helperPath = filepath.Join(t.TempDir(), cghelper.Name)
	t.Cleanup(func() { helperPath = "" })
	r := &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false)}}
	if err := setDevicesV2(t.TempDir(), r); !errors.Is(err, ErrNoCgroupHelper) || !strings.Contains(err.Error(), helperPath) {
		t.Errorf("v2 filter without the helper: %v", err)
	}
	cfg := &cgroups.Cgroup{Systemd: true, Name: "c1", Parent: "system.slice", ScopePrefix: "gtu", Resources: &cgroups.Resources{}}
	m := newSystemdManager(cfg, nil)
	for verb, err := range map[string]error{"apply": m.Apply(1), "set": m.Set(&cgroups.Resources{}), "destroy": m.Destroy()} {
		if !errors.Is(err, ErrNoCgroupHelper) || !strings.Contains(err.Error(), helperPath) || !strings.Contains(err.Error(), "system.slice:gtu:c1") {
			t.Errorf("systemd %s without the helper: %v", verb, err)
		}
	}
}

func TestDevicesHelperError(t *testing.T) {
	useHelper(t)
	err := setDevicesV2("/nonexistent/cgroup", &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false)}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cgroup") || strings.Count(err.Error(), cghelper.Name+":") > 0 {
		t.Errorf("v2 filter on a missing directory: %v", err)
	}
}

// TestUserScopeBusError: a D-Bus failure of the user scope (in gtu itself,
// see internal/userscope) is one error naming the bus.
func TestUserScopeBusError(t *testing.T) {
	bus := "unix:path=" + filepath.Join(t.TempDir(), "no-bus")
	s := &userScopeManager{cfg: &cgroups.Cgroup{Name: "c1", Resources: &cgroups.Resources{}},
		r: &savedRootless{Mode: modeUserScope, Unit: "gtu-c1.scope", Bus: bus, HostUID: 1000}, paths: map[string]string{}}
	err := s.Apply(1)
	if err == nil || !strings.HasPrefix(err.Error(), "systemd --user at "+bus+": ") || strings.Contains(err.Error(), cghelper.ErrorPrefix) {
		t.Errorf("start on a missing bus: %v", err)
	}
	if err := s.stop(); err == nil || !strings.HasPrefix(err.Error(), "systemd --user at "+bus+": ") {
		t.Errorf("stop on a missing bus: %v", err)
	}
}

func TestSplitHelperStderr(t *testing.T) {
	for _, tc := range []struct {
		in       string
		warnings []string
		msg      string
	}{
		{"", nil, ""},
		{"w1\n\nw2\n", []string{"w1", "w2"}, ""},
		{"w1\ngtu-cgroup: create and join pid 3: x\ny\n", []string{"w1"}, "create and join pid 3: x\ny"},
		{"gtu-cgroup: only\n", nil, "only"},
	} {
		w, msg := splitHelperStderr(tc.in)
		if !slices.Equal(w, tc.warnings) || msg != tc.msg {
			t.Errorf("%q: %q, %q; want %q, %q", tc.in, w, msg, tc.warnings, tc.msg)
		}
	}
}

// TestSetDevicesV2Attaches runs the helper on a cgroup of the unified
// hierarchy (a hybrid host has one, without controllers, but device
// programs attach to any cgroup2 directory) and checks, after the helper
// has exited, that a process started in that cgroup may open /dev/null and
// not /dev/zero.
func TestSetDevicesV2Attaches(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a BPF program")
	}
	base := cgroupRoot
	if !cgroups.IsCgroup2UnifiedMode() {
		if !cgroups.IsCgroup2HybridMode() {
			t.Skip("no cgroup2 hierarchy")
		}
		base = hybridMountpoint
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox")
	}
	useHelper(t)
	dir := filepath.Join(base, "gtu-test-bpf-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	r := &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false), devRule(chr, 1, 3, "rwm", true)}}
	if err := cgroups.DevicesSetV2(dir, r); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	run := func(dev string) (string, error) {
		cmd := exec.Command(busybox, "head", "-c", "1", dev)
		cmd.SysProcAttr = &unix.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("/dev/null"); err != nil {
		t.Errorf("reading /dev/null (allowed): %v: %s", err, out)
	}
	out, err := run("/dev/zero")
	if err == nil || !strings.Contains(out, "not permitted") {
		t.Errorf("reading /dev/zero (not allowed): %v: %q", err, out)
	}
}
