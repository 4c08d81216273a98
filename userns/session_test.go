package userns

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func writeSession(t *testing.T, pid int) (string, *os.File) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileChildPID), []byte(strconv.Itoa(pid)), 0o444); err != nil {
		t.Fatal(err)
	}
	lock, err := os.Create(filepath.Join(dir, FileLock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	return dir, lock
}

func TestAliveFollowsTheLock(t *testing.T) {
	dir, lock := writeSession(t, 4242)
	if _, err := Find(dir); !errors.Is(err, ErrNoSession) {
		t.Fatalf("unlocked session: err = %v, want ErrNoSession (a crashed session leaves its files)", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	s, err := Find(dir)
	if err != nil || s.Pid != 4242 {
		t.Fatalf("locked session: %+v, %v; want pid 4242", s, err)
	}
	// The probe must not have taken or dropped the holder's lock.
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after unlock: err = %v, want ErrNoSession", err)
	}
}

func TestAliveBadPidFile(t *testing.T) {
	dir, _ := writeSession(t, 1)
	if err := os.WriteFile(filepath.Join(dir, FileChildPID), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir); !errors.Is(err, ErrNoSession) {
		t.Fatalf("err = %v, want ErrNoSession", err)
	}
	if _, err := Find(filepath.Join(dir, "missing")); !errors.Is(err, ErrNoSession) {
		t.Fatalf("missing dir: err = %v, want ErrNoSession", err)
	}
}

func TestWatchSeesFileOrDeath(t *testing.T) {
	dir := t.TempDir()
	w, err := watch(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	path := filepath.Join(dir, "child_pid")
	// A process that writes the file, then lingers.
	cmd := exec.Command("sh", "-c", `echo 1 > "$1"; exec sleep 30`, "sh", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := w.wait(cmd.Process.Pid, path); err != nil {
		t.Fatalf("wait for the file: %v", err)
	}
	// A process that dies without writing it.
	die := exec.Command("true")
	if err := die.Start(); err != nil {
		t.Fatal(err)
	}
	pid := die.Process.Pid
	err = w.wait(pid, filepath.Join(dir, "never"))
	_ = die.Wait()
	if !errors.Is(err, errDied) {
		t.Fatalf("wait for a dying process: err = %v, want errDied", err)
	}
}

func TestOutside(t *testing.T) {
	maps := []Map{{Inside: 0, Outside: 1001, Size: 1}, {Inside: 1, Outside: 100000, Size: 65536}}
	for _, tt := range []struct {
		in, want uint32
		ok       bool
	}{{0, 1001, true}, {1, 100000, true}, {65536, 165535, true}, {65537, 0, false}} {
		if got, ok := Outside(maps, tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("Outside(%d) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
