// Package testhost holds what several packages' real-host tests share:
// copying a test binary where the unprivileged test user can run it, and
// the lock around the test user's cgroup delegation and systemd --user
// manager. Only tests import it.
package testhost

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// CopyFile copies from to a new file to with mode.
func CopyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// PublicDir makes a temporary directory (removed after the test) that
// every user can enter: the go test build directory and t.TempDir's parent
// are private to root.
func PublicDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SelfCopy copies the running test binary into dir as name, executable by
// anyone, and returns its path.
func SelfCopy(t testing.TB, dir, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	CopyFile(t, self, bin, 0o755)
	return bin
}

// LockUserManager serializes the tests, of all packages, that use the test
// user's systemd --user manager or its cgroup delegation (one test's stop
// or undelegation would pull them from under another's). Call it first:
// the lock is released last, at cleanup.
func LockUserManager(t testing.TB, uid int) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/gtu-user-cgroups."+strconv.Itoa(uid)+".lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}
