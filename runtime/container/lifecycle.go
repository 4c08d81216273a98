package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/cgroupdelegate"
	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/state"
)

// Start lets a created container's init exec the user's process, then
// runs the poststart hooks.
func Start(g Global, id string) error {
	h, err := open(g, id, true)
	if err != nil {
		return err
	}
	err = h.start()
	h.close()
	if err != nil {
		return err
	}
	return h.poststart(g.logger())
}

func (h *handle) start() error {
	switch st := h.status(); st {
	case Created:
	case Stopped:
		return wrongStatus("cannot start a container that has stopped")
	default:
		return wrongStatus("cannot start an already %s container", st)
	}
	// The pidfd first: once the fifo is open the container may run to its
	// end and be reaped at once (a `true` takes a millisecond), and its pid
	// would be gone before we could look at it.
	pidfd, err := unix.PidfdOpen(h.st.Pid, 0)
	if err != nil {
		return fmt.Errorf("container init (pid %d) is gone: %w", h.st.Pid, err)
	}
	defer unix.Close(pidfd)
	fifo := h.dir.FifoPath()
	// Non-blocking open: the init is blocked opening the writing end and is
	// released by this open; if it died meanwhile, a blocking open would hang.
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo %s: %w", fifo, err)
	}
	defer unix.Close(fd)
	if testHookFifoOpened != nil {
		testHookFifoOpened()
	}
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("wait for the container init: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			// One read takes the whole result: the init writes it at once
			// and it fits in PIPE_BUF.
			var b [protocol.MaxStartResult]byte
			if n, _ := unix.Read(fd, b[:]); n > 0 {
				if err := protocol.ParseStartResult(b[:n]); err != nil {
					// The init exits right after; wait, so that the
					// container reads as stopped once we return.
					_ = waitGone(h.st.Pid, h.st.PidStart, 10*time.Second)
					return err
				}
				break
			}
		}
		if fds[1].Revents != 0 || fds[0].Revents&unix.POLLHUP != 0 {
			return fmt.Errorf("container init (pid %d) exited before start; see its stderr", h.st.Pid)
		}
	}
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	return nil
}

// testHookFifoOpened lets a test act between opening exec.fifo and waiting.
var testHookFifoOpened func()

// Kill sends sig to the container's init, or with all (or without a
// private pid namespace, where killing init does not end the rest) to every
// process in its cgroup.
func Kill(g Global, id string, sig unix.Signal, all bool) error {
	h, err := open(g, id, false)
	if err != nil {
		return err
	}
	defer h.close()
	if h.status() == Stopped {
		return ErrNotRunning
	}
	return h.kill(sig, all)
}

func (h *handle) kill(sig unix.Signal, all bool) error {
	if all || !h.st.OwnPidNS {
		cg, err := h.cgroup()
		if err != nil {
			return err
		}
		// A cgroup someone else removed (another container with the same
		// cgroupsPath, an admin) must not make the container unkillable:
		// the init is still signalled below.
		err = cg.Signal(sig)
		if all && sig != unix.SIGKILL && errors.Is(err, cgroupdelegate.ErrNoCgroup) {
			// Only a cgroup lists all of a container's processes; with a
			// pid namespace SIGKILL to the init still takes them all.
			return fmt.Errorf("kill --all: %w", err)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		// The init was in the cgroup too; it may already be gone.
		if err := h.signalInit(sig); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		return nil
	}
	return h.signalInit(sig)
}

// Delete removes a container: a stopped or created one always, a running
// or paused one only with force (after SIGKILL to all its processes).
// Deleting a container that does not exist is not an error with force.
func Delete(g Global, id string, force bool) error {
	return deleteWith(g, id, force, nil)
}

// deleteWith is Delete reusing cg, the container's cgroup as the caller
// already holds it (run, once its container has exited): loading it again
// from the saved state costs a cold encoding/json decode of the manager
// config (about 0.3 ms) on run's critical path.
func deleteWith(g Global, id string, force bool, cg *cgroupdelegate.Cgroup) error {
	h, err := open(g, id, true)
	if err != nil {
		if force && errors.Is(err, state.ErrNotExist) {
			return nil
		}
		return err
	}
	defer h.close()
	if cg != nil {
		h.cg = cg
	}
	st := h.status()
	if (st == Running || st == Paused) && !force {
		return wrongStatus("cannot delete container %s that is not stopped: %s (use --force)", id, st)
	}
	if err := h.destroy(st); err != nil {
		return err
	}
	h.poststop(g.logger())
	return nil
}

// destroy kills what is left and removes the cgroup and the state.
func (h *handle) destroy(st Status) error {
	if st != Stopped {
		if err := h.kill(unix.SIGKILL, true); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		if st == Paused {
			if cg, err := h.cgroup(); err == nil {
				_ = cg.Thaw()
			}
		}
		if err := waitGone(h.st.Pid, h.st.PidStart, 10*time.Second); err != nil {
			return err
		}
	}
	if st == Stopped && !h.st.OwnPidNS {
		// Without a private pid namespace the init's exit leaves the
		// other processes running; they go with the container, as in runc.
		cg, err := h.cgroup()
		if err != nil {
			return err
		}
		if err := cg.Signal(unix.SIGKILL); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := h.undoOutside(); err != nil {
		return err
	}
	if err := h.destroyCgroup(st); err != nil {
		return err
	}
	return h.dir.Remove()
}

// destroyCgroup removes the container's cgroup. A stopped container whose
// cgroup the fs drivers made needs only its directories removed
// (cgroupdelegate.DestroySaved), not its manager rebuilt.
func (h *handle) destroyCgroup(st Status) error {
	if st == Stopped && h.cg == nil {
		if done, err := cgroupdelegate.DestroySaved(h.st.Cgroup, h.st.CgroupPaths); done {
			if err != nil {
				return fmt.Errorf("remove cgroup: %w", err)
			}
			return nil
		}
	}
	cg, err := h.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Destroy(); err != nil {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// undoOutside undoes what the container holds outside its cgroup and state
// directory: host mounts, the network helper, a standalone bundle.
func (h *handle) undoOutside() error {
	if base := h.st.HostMountsBase; base != nil {
		if err := undoHostMounts(h.st.Rootfs, *base); err != nil {
			return err
		}
	}
	if err := stopNetwork(h.st.Network); err != nil {
		return err
	}
	return removeStandalone(h.st)
}

// Pause freezes every process of a running container.
func Pause(g Global, id string) error {
	return freeze(g, id, true)
}

// Resume thaws a paused container.
func Resume(g Global, id string) error {
	return freeze(g, id, false)
}

func freeze(g Global, id string, pause bool) error {
	h, err := open(g, id, true)
	if err != nil {
		return err
	}
	defer h.close()
	st := h.status()
	want, verb := Running, "pause"
	if !pause {
		want, verb = Paused, "resume"
	}
	if st != want {
		return wrongStatus("cannot %s a %s container", verb, st)
	}
	cg, err := h.cgroup()
	if err != nil {
		return err
	}
	if pause {
		return cg.Freeze()
	}
	return cg.Thaw()
}
