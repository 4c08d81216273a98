package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const (
	stateFile = "state.json"
	lockFile  = ".lock"
	fifoFile  = "exec.fifo"
)

// State is what gtu keeps about a container (the OCI state is derived from it).
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"` // start time of Pid (field 22 of /proc/PID/stat), to detect pid reuse
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner,omitempty"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"` // controller -> absolute cgroup dir, as the cgroup manager reports
	Cgroup      json.RawMessage   `json:"cgroup,omitempty"`      // opaque cgroup manager config, saved for later verbs
	OwnPidNS    bool              `json:"ownPidNS"`              // container has a private pid namespace (kill of init kills all)
	Systemd     bool              `json:"systemd,omitempty"`
	Rootless    bool              `json:"rootless,omitempty"`
	Stopped     bool              `json:"stopped,omitempty"` // set when gtu itself saw the init exit
	// Hooks are the poststart and poststop hooks that start and delete run
	// (a spec.Hooks, opaque here like Cgroup); absent without such hooks.
	Hooks json.RawMessage `json:"hooks,omitempty"`
	// HostMountsBase is set for a container without a mount namespace: the
	// number of mounts at Rootfs before it existed. Delete detaches the
	// container's mounts above it from the caller's namespace.
	HostMountsBase *int `json:"hostMountsBase,omitempty"`
	// Network is the user-mode network helper of the container (a
	// slirp.Handle, opaque here like Cgroup); absent without one.
	Network json.RawMessage `json:"network,omitempty"`
}

// Dir is one container's state directory. A Dir is not safe for concurrent
// use; two processes (or goroutines) each open their own Dir and serialise
// with Lock.
type Dir struct {
	id   string
	path string
	fd   int // the locked .lock file, or -1
}

func newDir(id, path string) *Dir { return &Dir{id: id, path: path, fd: -1} }

// Path returns the directory, <root>/<id>.
func (d *Dir) Path() string { return d.path }

// ID returns the container id.
func (d *Dir) ID() string { return d.id }

// FifoPath returns <dir>/exec.fifo.
func (d *Dir) FifoPath() string { return filepath.Join(d.path, fifoFile) }

// Lock takes an exclusive flock on <dir>/.lock, waiting for other holders.
// Verbs that change the container hold it from Load to Save.
//
// The lock does not stop Remove: a waiter that gets the lock after the
// directory was removed finds out from Load (ErrNotExist) or Save (the
// directory is gone), so Lock spends no fstat checking for it.
func (d *Dir) Lock() error { return d.lock(unix.LOCK_EX) }

// LockShared takes a shared flock on <dir>/.lock, for verbs that only read.
func (d *Dir) LockShared() error { return d.lock(unix.LOCK_SH) }

func (d *Dir) lock(how int) error {
	p := filepath.Join(d.path, lockFile)
	if d.fd >= 0 {
		return fmt.Errorf("lock %s: already locked by this handle", p)
	}
	// flock locks belong to the open file description, so two Dirs for the
	// same container exclude each other even inside one process. O_CLOEXEC
	// keeps the container's processes from inheriting (and holding) it.
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", p, err)
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("lock %s: %w", p, err)
	}
	d.fd = fd
	return nil
}

// Unlock releases the lock taken by Lock or LockShared.
func (d *Dir) Unlock() error {
	p := filepath.Join(d.path, lockFile)
	if d.fd < 0 {
		return fmt.Errorf("unlock %s: not locked by this handle", p)
	}
	// Unlock explicitly rather than only closing: a child forked meanwhile
	// shares the file description until its exec, and would hold the lock.
	err := unix.Flock(d.fd, unix.LOCK_UN)
	if cerr := unix.Close(d.fd); err == nil {
		err = cerr
	}
	d.fd = -1
	if err != nil {
		return fmt.Errorf("unlock %s: %w", p, err)
	}
	return nil
}

// Save replaces state.json atomically: it writes a temporary file in the same
// directory and renames it over state.json, so a reader sees the old or the
// new state, never a torn one. It does not fsync: the root is on tmpfs, and a
// state that survives a crash would describe processes that are gone anyway.
func (d *Dir) Save(st *State) error {
	b, err := Encode(st)
	if err != nil {
		return fmt.Errorf("save %s: %w", filepath.Join(d.path, stateFile), err)
	}
	return d.SaveEncoded(b)
}

// Encode is the content Save writes for st, for a caller that has time to
// encode it before it may write it (create does, while the init starts).
func Encode(st *State) ([]byte, error) { return json.Marshal(st) }

// SaveEncoded is Save of what Encode returned.
func (d *Dir) SaveEncoded(b []byte) error {
	p := filepath.Join(d.path, stateFile)
	f, err := os.CreateTemp(d.path, stateFile+".tmp-")
	if err != nil {
		return fmt.Errorf("save %s: %w", p, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save %s: %w", p, err)
	}
	return nil
}

// Load reads state.json. A missing file gives an error wrapping ErrNotExist;
// a corrupt one an error naming the file.
func (d *Dir) Load() (*State, error) {
	p := filepath.Join(d.path, stateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %s %w", d.id, p, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("load container %q: %w", d.id, err)
	}
	st := new(State)
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("load %s: %w", p, err)
	}
	return st, nil
}

// Remove deletes the whole directory; removing a missing one is not an error.
// It does not release a lock held through d: call Unlock as well.
func (d *Dir) Remove() error {
	if err := os.RemoveAll(d.path); err != nil {
		return fmt.Errorf("remove container %q: %w", d.id, err)
	}
	return nil
}
