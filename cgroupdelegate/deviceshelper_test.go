package cgroupdelegate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	systemdDbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/systemd"
	"golang.org/x/sys/unix"
)

var (
	buildHelperOnce sync.Once
	builtHelper     string
	buildHelperErr  error
)

// useDevicesHelper builds cmd/gtu-cgroup-devices once and points the hooks
// at it for the test.
func useDevicesHelper(t *testing.T) {
	t.Helper()
	buildHelperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gtu-cgroup-devices-test")
		if err != nil {
			buildHelperErr = err
			return
		}
		builtHelper = filepath.Join(dir, devicesHelperName)
		out, err := exec.Command("go", "build", "-o", builtHelper, "github.com/gophertainer/gtu/cmd/gtu-cgroup-devices").CombinedOutput()
		if err != nil {
			buildHelperErr = errors.New(string(out))
		}
	})
	if buildHelperErr != nil {
		t.Fatalf("build gtu-cgroup-devices: %v", buildHelperErr)
	}
	devicesHelperPath = builtHelper
	t.Cleanup(func() { devicesHelperPath = "" })
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtHelper != "" {
		os.RemoveAll(filepath.Dir(builtHelper))
	}
	os.Exit(code)
}

// wireBytes is how props go over D-Bus in StartTransientUnit's a(sv): the
// body of a message that carries them (the header fields come from a map,
// in no fixed order).
func wireBytes(t *testing.T, props []systemdDbus.Property) []byte {
	t.Helper()
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/gtu")),
		dbus.FieldInterface: dbus.MakeVariant("gtu.Test"),
		dbus.FieldMember:    dbus.MakeVariant("Props"),
		dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(props)),
	}, Body: []any{props}}
	var buf bytes.Buffer
	if err := msg.EncodeTo(&buf, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	return b[len(b)-int(binary.LittleEndian.Uint32(b[4:8])):]
}

// TestSystemdDevicePropsRoundTrip: the properties gtu rebuilds from the
// helper's JSON go over D-Bus exactly as the library's own would, for the
// rule lists gtu makes and systemd versions on both sides of v240.
func TestSystemdDevicePropsRoundTrip(t *testing.T) {
	useDevicesHelper(t)
	sets := gtuRuleSets(t)
	sets["wildcard major (warned, skipped)"] = []*devconfig.Rule{devRule(all, wc, wc, "rwm", false), devRule(chr, wc, 5, "rwm", true), devRule(chr, 1, 3, "rwm", true)}
	for name, rules := range sets {
		for _, ver := range []int{252, 239} {
			r := &cgroups.Resources{Devices: rules}
			want, err := libraryDeviceProps(r, ver)
			if err != nil {
				t.Fatalf("%s: library: %v", name, err)
			}
			got, err := systemd.GenerateDeviceProps(r, ver)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s v%d: %d properties, want %d", name, ver, len(got), len(want))
			}
			for i := range want {
				if got[i].Name != want[i].Name || got[i].Value.Signature() != want[i].Value.Signature() {
					t.Errorf("%s v%d: property %d: %s %s, want %s %s", name, ver, i,
						got[i].Name, got[i].Value.Signature(), want[i].Name, want[i].Value.Signature())
				}
			}
			if !bytes.Equal(wireBytes(t, got), wireBytes(t, want)) {
				t.Errorf("%s v%d: D-Bus encoding differs:\n got %+v\nwant %+v", name, ver, got, want)
			}
		}
	}
	if props, err := systemd.GenerateDeviceProps(&cgroups.Resources{SkipDevices: true}, 252); err != nil || props != nil {
		t.Errorf("SkipDevices: %v, %v; want nothing", props, err)
	}
}

func TestDevicesHelperMissing(t *testing.T) {
	devicesHelperPath = filepath.Join(t.TempDir(), devicesHelperName)
	t.Cleanup(func() { devicesHelperPath = "" })
	r := &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false)}}
	_, err := systemd.GenerateDeviceProps(r, 252)
	if !errors.Is(err, ErrNoDevicesHelper) || !strings.Contains(err.Error(), devicesHelperPath) {
		t.Errorf("systemd properties without the helper: %v", err)
	}
	if err := setDevicesV2(t.TempDir(), r); !errors.Is(err, ErrNoDevicesHelper) {
		t.Errorf("v2 filter without the helper: %v", err)
	}
}

func TestDevicesHelperError(t *testing.T) {
	useDevicesHelper(t)
	err := setDevicesV2("/nonexistent/cgroup", &cgroups.Resources{Devices: []*devconfig.Rule{devRule(all, wc, wc, "rwm", false)}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/cgroup") || strings.Count(err.Error(), devicesHelperName+":") > 0 {
		t.Errorf("v2 filter on a missing directory: %v", err)
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
	useDevicesHelper(t)
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
