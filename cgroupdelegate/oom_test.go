package cgroupdelegate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// pollFd waits (up to 10 s) for fd to become readable.
func pollFd(t *testing.T, fd int) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 10000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("descriptor not readable within 10s")
		}
		return
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	// Rewrite in place (truncate, write): inotify reports IN_MODIFY as it
	// does for the kernel's cgroupfs notifications.
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchOOMv2 drives the cgroup v2 watch through a fake cgroup
// directory: this machine has no v2 memory controller.
func TestWatchOOMv2(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "memory.events")
	cgEvents := filepath.Join(dir, "cgroup.events")
	writeFile(t, events, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
	writeFile(t, cgEvents, "populated 1\nfrozen 0\n")
	w, err := watchOOMv2(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The kill counted before the watch started is old news.
	if n, gone, err := w.Read(); n != 0 || gone || err != nil {
		t.Fatalf("first Read = %d, %v, %v; want nothing", n, gone, err)
	}
	writeFile(t, events, "low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\noom_group_kill 0\n")
	pollFd(t, w.Fd())
	if n, gone, err := w.Read(); n != 2 || gone || err != nil {
		t.Errorf("Read after two kills = %d, %v, %v; want 2", n, gone, err)
	}
	// Another change without a kill (memory.events also counts max/high).
	writeFile(t, events, "low 0\nhigh 0\nmax 10\noom 3\noom_kill 3\noom_group_kill 0\n")
	pollFd(t, w.Fd())
	if n, gone, err := w.Read(); n != 0 || gone || err != nil {
		t.Errorf("Read after a change without kill = %d, %v, %v; want 0", n, gone, err)
	}
	writeFile(t, cgEvents, "populated 0\nfrozen 0\n")
	pollFd(t, w.Fd())
	if n, gone, err := w.Read(); n != 0 || !gone || err != nil {
		t.Errorf("Read after the cgroup emptied = %d, %v, %v; want gone", n, gone, err)
	}
}

func TestWatchOOMv2Errors(t *testing.T) {
	dir := t.TempDir()
	if _, err := watchOOMv2(dir); err == nil {
		t.Error("watch of a directory without memory.events succeeded")
	}
	writeFile(t, filepath.Join(dir, "memory.events"), "oom 0\n")
	writeFile(t, filepath.Join(dir, "cgroup.events"), "populated 1\n")
	if _, err := watchOOMv2(dir); err == nil {
		t.Error("watch of a memory.events without oom_kill succeeded")
	}
}

func TestReadKeyValue(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, "oom 1\noom_kill 42\nbad x\n")
	if v, err := readKeyValue(p, "oom_kill"); v != 42 || err != nil {
		t.Errorf("oom_kill = %d, %v", v, err)
	}
	if _, err := readKeyValue(p, "bad"); err == nil {
		t.Error("a non-numeric value was accepted")
	}
	if _, err := readKeyValue(p, "missing"); err == nil {
		t.Error("a missing key was found")
	}
}
