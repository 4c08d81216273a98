// Package container is the parent side of gtu's container lifecycle: one
// function per runc verb, each working on the state directory of one
// container under --root. The init stage it starts lives in
// runtime/initproc; the conversation between the two is runtime/protocol.
package container

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/cgroupdelegate"
	"github.com/gophertainer/gtu/runtime/state"
)

// Global holds the options every verb shares.
type Global struct {
	Root          string // --root
	SystemdCgroup bool   // --systemd-cgroup
	// Rootless: gtu is not real root (it runs inside a user namespace, its
	// own session's or podman's): cgroups need delegation.
	Rootless bool
	// Maps are gtu's own id maps when it runs as uid 0 of a user
	// namespace (Detect); nil otherwise.
	Maps *IDMaps
	Log  *slog.Logger
}

func (g Global) store() state.Store { return state.Store{Root: g.Root} }

func (g Global) logger() *slog.Logger {
	if g.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Log
}

// Status is a container's OCI status.
type Status string

// The OCI statuses.
const (
	Created Status = "created"
	Running Status = "running"
	Paused  Status = "paused"
	Stopped Status = "stopped"
)

// procRoot is where liveness is read; a variable so tests could move it.
var procRoot = "/proc"

// handle is one container opened for a verb: its directory (locked) and
// saved state.
type handle struct {
	dir *state.Dir
	st  *state.State
	cg  *cgroupdelegate.Cgroup // loaded lazily
}

// open opens and locks container id and loads its state. The caller must
// call close.
func open(g Global, id string, exclusive bool) (*handle, error) {
	dir, err := g.store().Open(id)
	if err != nil {
		return nil, err
	}
	if exclusive {
		err = dir.Lock()
	} else {
		err = dir.LockShared()
	}
	if err != nil {
		return nil, err
	}
	st, err := dir.Load()
	if err != nil {
		_ = dir.Unlock()
		return nil, err
	}
	return &handle{dir: dir, st: st}, nil
}

func (h *handle) close() { _ = h.dir.Unlock() }

func (h *handle) cgroup() (*cgroupdelegate.Cgroup, error) {
	if h.cg != nil {
		return h.cg, nil
	}
	cg, err := cgroupdelegate.Load(h.st.Cgroup, h.st.CgroupPaths)
	if err != nil {
		return nil, fmt.Errorf("cgroup of container %q: %w", h.st.ID, err)
	}
	h.cg = cg
	return cg, nil
}

// alive reports whether the container's init process still runs.
func (h *handle) alive() bool {
	return !h.st.Stopped && h.st.Pid > 0 && state.Alive(procRoot, h.st.Pid, h.st.PidStart)
}

// status derives the OCI status: a dead init is stopped; an init still
// blocked on exec.fifo is created; a frozen cgroup is paused.
func (h *handle) status() Status {
	if !h.alive() {
		return Stopped
	}
	if _, err := os.Lstat(h.dir.FifoPath()); err == nil {
		return Created
	}
	if frozen, known, err := cgroupdelegate.FrozenAt(h.st.CgroupPaths); known {
		if err == nil && frozen {
			return Paused
		}
		return Running
	}
	if cg, err := h.cgroup(); err == nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return Paused
		}
	}
	return Running
}

// signalInit sends sig to the init process through a pidfd, so a recycled
// pid can never be hit.
func (h *handle) signalInit(sig unix.Signal) error {
	pidfd, err := unix.PidfdOpen(h.st.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("pidfd_open %d: %w", h.st.Pid, err)
	}
	defer unix.Close(pidfd)
	if !state.Alive(procRoot, h.st.Pid, h.st.PidStart) {
		return ErrNotRunning
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal %d to pid %d: %w", sig, h.st.Pid, err)
	}
	return nil
}

// waitGone waits until pid has exited, up to timeout, using a pidfd so it
// works for processes that are not our children.
func waitGone(pid int, start uint64, timeout time.Duration) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(pidfd)
	if !state.Alive(procRoot, pid, start) {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return fmt.Errorf("pid %d did not exit within %s", pid, timeout)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for pid %d: %w", pid, err)
		}
		if n > 0 {
			return nil
		}
	}
}
