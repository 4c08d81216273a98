package slirp

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A descriptor this process holds without close-on-exec (as gtu may inherit
// from podman or systemd) must not end up in the long-lived helper, and must
// keep its flags in this process.
func TestNoInheritedFds(t *testing.T) {
	for _, driver := range []string{DriverSlirp4netns, DriverPasta} {
		t.Run(driver, func(t *testing.T) {
			needDriver(t, driver)
			kinds := targetKinds()
			tg := startTarget(t, kinds[len(kinds)-1].userns)
			leak := filepath.Join(t.TempDir(), "inherited")
			fd, err := unix.Open(leak, unix.O_CREAT|unix.O_RDWR, 0o600) // no O_CLOEXEC on purpose
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			h := startNet(t, Options{Driver: driver, Pid: tg.pid, StateDir: t.TempDir()})
			fds, err := os.ReadDir("/proc/" + itoa(h.Pid) + "/fd")
			if err != nil {
				t.Fatalf("list the helper's fds: %v", err)
			}
			for _, e := range fds {
				if l, _ := os.Readlink("/proc/" + itoa(h.Pid) + "/fd/" + e.Name()); l == leak {
					t.Errorf("%s pid %d inherited fd %s -> %s", driver, h.Pid, e.Name(), l)
				}
			}
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC != 0 {
				t.Errorf("fd %d flags after Start: %#x, %v, want close-on-exec still clear", fd, flags, err)
			}
			// The helper runs outside this process's session (pasta's
			// background child stays in the session its parent made).
			self, _ := unix.Getsid(0)
			if sid, err := unix.Getsid(h.Pid); err != nil || sid == self {
				t.Errorf("%s pid %d: session %d (%v), want another than ours (%d)", driver, h.Pid, sid, err, self)
			}
		})
	}
}
