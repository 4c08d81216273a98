package rootfs

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

func TestDeviceMode(t *testing.T) {
	tests := []struct {
		d    spec.Device
		want uint32
		err  error
	}{
		{spec.Device{Type: "c", FileMode: 0o666}, unix.S_IFCHR | 0o666, nil},
		{spec.Device{Type: "u", FileMode: 0o600}, unix.S_IFCHR | 0o600, nil},
		{spec.Device{Type: "b", FileMode: 0o100660}, unix.S_IFBLK | 0o660, nil},
		{spec.Device{Type: "p", FileMode: 0o644}, unix.S_IFIFO | 0o644, nil},
		{spec.Device{Type: "x"}, 0, ErrDeviceType},
	}
	for _, tt := range tests {
		got, err := deviceMode(tt.d)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%+v: got %o, %v", tt.d, got, err)
		}
	}
}

func TestNeedsDevSetup(t *testing.T) {
	tmpfs := spec.Mount{Destination: "/dev", Type: "tmpfs"}
	bind := spec.Mount{Destination: "/dev/", Type: "bind", Flags: unix.MS_BIND}
	pts := spec.Mount{Destination: "/dev/pts", Type: "devpts"}
	if !needsDevSetup([]spec.Mount{tmpfs, pts}) || !needsDevSetup(nil) || needsDevSetup([]spec.Mount{bind}) {
		t.Error("needsDevSetup")
	}
	if !hasMountAt([]spec.Mount{tmpfs, pts}, "/dev/pts") || hasMountAt([]spec.Mount{tmpfs}, "/dev/pts") {
		t.Error("hasMountAt")
	}
}

func TestHostProcSysMounts(t *testing.T) {
	infos := parseInfos(t, `22 27 0:21 / /proc rw - proc proc rw
23 27 0:22 / /sys rw - sysfs sysfs rw
24 23 0:22 / /sys/kernel/x rw - sysfs sysfs rw
50 27 0:21 / /run/ctr/rootfs/proc rw - proc proc rw
51 27 0:21 /sys /mnt/procsys rw - proc proc rw
52 27 0:5 / /run/ctr/rootfs2 rw - tmpfs tmpfs rw
53 27 0:21 / /run/ctr/rootfs2/proc rw - proc proc rw
54 27 0:21 / /run/ctr/rootfsX/proc rw - proc proc rw
`)
	got := hostProcSysMounts(infos, "/run/ctr/rootfs")
	want := []string{"/proc", "/sys", "/sys/kernel/x", "/run/ctr/rootfs2/proc", "/run/ctr/rootfsX/proc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
}
