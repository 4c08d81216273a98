package cgroupdelegate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// OOMWatch reports the out-of-memory events of a cgroup (`gtu events`).
// It is a file descriptor to poll plus a non-blocking Read, so that the
// caller can wait for OOMs, its own timer and the container's exit in one
// poll(2) and handle what is ready in a fixed order.
//
// cgroup v1 (and hybrid hosts, where memory is a v1 controller): an eventfd
// registered through cgroup.event_control for memory.oom_control; the
// kernel signals it when the cgroup goes under OOM (before the OOM killer
// picks its victim) and when the cgroup is removed.
//
// cgroup v2: inotify on memory.events, whose oom_kill counter is compared
// with the last value seen, and on cgroup.events, whose "populated 0" says
// that the cgroup is empty.
type OOMWatch struct {
	fd  int    // eventfd (v1) or inotify descriptor (v2)
	dir string // the memory cgroup
	v2  bool
	ocf *os.File // v1: memory.oom_control, held open while registered
	// v2: the oom_kill count already reported.
	kills uint64
}

// WatchOOM starts watching the cgroup's OOM events. The caller must Close
// the watch.
func (c *Cgroup) WatchOOM() (*OOMWatch, error) {
	name := describe(c.cfg)
	if dir := c.mgr.Path("memory"); dir != "" && !cgroups.IsCgroup2UnifiedMode() {
		w, err := watchOOMv1(dir)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: watch OOM events: %w", name, err)
		}
		return w, nil
	}
	if dir := c.mgr.Path(""); dir != "" && cgroups.IsCgroup2UnifiedMode() {
		w, err := watchOOMv2(dir)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: watch OOM events: %w", name, err)
		}
		return w, nil
	}
	return nil, fmt.Errorf("cgroup %s: watch OOM events: %w", name, ErrNoMemoryController)
}

func watchOOMv1(dir string) (*OOMWatch, error) {
	ocf, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ocf.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ctl := filepath.Join(dir, "cgroup.event_control")
	if err := os.WriteFile(ctl, fmt.Appendf(nil, "%d %d", efd, ocf.Fd()), 0); err != nil {
		unix.Close(efd)
		ocf.Close()
		return nil, err
	}
	return &OOMWatch{fd: efd, dir: dir, ocf: ocf}, nil
}

func watchOOMv2(dir string) (*OOMWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	w := &OOMWatch{fd: fd, dir: dir, v2: true}
	for _, f := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, f), unix.IN_MODIFY); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("watch %s: %w", filepath.Join(dir, f), err)
		}
	}
	// Only kills from now on are news.
	if w.kills, err = readKeyValue(filepath.Join(dir, "memory.events"), "oom_kill"); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return w, nil
}

// Fd is the descriptor to poll for POLLIN.
func (w *OOMWatch) Fd() int { return w.fd }

// Read consumes what made Fd readable, without blocking: ooms is the
// number of OOM events since the last Read (0 if none), gone says that the
// cgroup was removed (v1) or has no process left (v2), after which nothing
// more can happen.
func (w *OOMWatch) Read() (ooms int, gone bool, err error) {
	if w.v2 {
		return w.readV2()
	}
	var buf [8]byte
	n, err := unix.Read(w.fd, buf[:])
	switch {
	case errors.Is(err, unix.EAGAIN):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read OOM eventfd of %s: %w", w.dir, err)
	case n != len(buf):
		return 0, false, fmt.Errorf("read OOM eventfd of %s: short read of %d bytes", w.dir, n)
	}
	// The eventfd also fires when the cgroup is removed.
	if _, err := os.Lstat(filepath.Join(w.dir, "cgroup.event_control")); errors.Is(err, os.ErrNotExist) {
		return 0, true, nil
	}
	// One event per wake-up, as runc reports them: the kernel signals the
	// start of an OOM, and the counter says how often it did so since.
	return 1, false, nil
}

func (w *OOMWatch) readV2() (ooms int, gone bool, err error) {
	// Drain the queued inotify events; their content does not matter, the
	// files are read again below.
	buf := make([]byte, 4096)
	for {
		_, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			return 0, false, fmt.Errorf("read inotify events of %s: %w", w.dir, err)
		}
	}
	kills, err := readKeyValue(filepath.Join(w.dir, "memory.events"), "oom_kill")
	if errors.Is(err, os.ErrNotExist) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	if kills > w.kills {
		ooms = int(kills - w.kills)
		w.kills = kills
	}
	populated, err := readKeyValue(filepath.Join(w.dir, "cgroup.events"), "populated")
	if errors.Is(err, os.ErrNotExist) {
		return ooms, true, nil
	}
	if err != nil {
		return ooms, false, err
	}
	return ooms, populated == 0, nil
}

// Close stops the watch.
func (w *OOMWatch) Close() error {
	err := unix.Close(w.fd)
	if w.ocf != nil {
		err = errors.Join(err, w.ocf.Close())
	}
	return err
}

// readKeyValue reads the value of key in a flat-keyed cgroup file
// ("key value" lines, e.g. memory.events).
func readKeyValue(path, key string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte{' '})
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s: no key %q", path, key)
}
