package container

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/internal/console"
)

// RunOptions are run's own flags on top of create's.
type RunOptions struct {
	CreateOptions
	Detach bool
	Keep   bool // keep the state after the container exits
}

// Run creates and starts a container. With Detach it returns once the
// container runs; otherwise it stays in the foreground, proxies the
// terminal or passes stdio through, forwards signals, and returns the
// container's exit code (128+N when signal N killed it).
func Run(g Global, o RunOptions) (int, error) {
	var sigs *relay
	if !o.Detach {
		sigs = catchSignals()
	}
	l, err := launch(g, o.CreateOptions, !o.Detach)
	if err != nil {
		return 0, err
	}
	if err := l.h.start(); err != nil {
		l.destroy(g.logger())
		return 0, err
	}
	// Other gtu calls (state, kill, pause, and poststart hooks calling
	// them) must be able to lock the container from now on.
	l.h.close()
	if err := l.h.poststart(g.logger()); err != nil {
		// poststart killed the container; a failed run leaves nothing.
		_, _ = l.cmd.Process.Wait()
		l.release()
		if derr := Delete(g, o.ID, true); derr != nil {
			g.logger().Warn("failed run: container not removed", "err", derr)
		}
		return 0, err
	}
	if o.Detach {
		l.release()
		return 0, nil
	}
	g.logger().Debug("started")
	code, err := l.wait(sigs)
	g.logger().Debug("exited", "code", code)
	if o.Keep {
		return code, err
	}
	if derr := deleteWith(g, o.ID, true, l.h.cg); derr != nil && err == nil {
		err = fmt.Errorf("after exit: %w", derr)
	}
	return code, err
}

// wait proxies the terminal, forwards signals to the init, and reaps it.
func (l *launched) wait(sigs *relay) (int, error) {
	master := l.master
	l.master = nil
	return foreground(l.cmd.Process, master, sigs)
}

// relay holds the signals a foreground gtu forwards to its process.
//
// Catching them is slow: os/signal enables each signal with a round trip to
// the Go runtime's signal-mask thread, and gtu catches 62 of them. Measured
// with strace, that was the whole gap between the container's exit and the
// start of its deletion in a `run` of `true`. So catchSignals starts it in
// a goroutine as soon as gtu knows it will stay in the foreground, and the
// round trips overlap with the container's set-up (gtu mostly waits for the
// init stage then). As in runc, which installs its handler before it creates
// the container, a signal that arrives before the process runs is kept and
// forwarded once it does.
type relay struct {
	ch    chan os.Signal
	ready chan struct{} // closed once every signal in caught is caught
}

func catchSignals() *relay {
	r := &relay{ch: make(chan os.Signal, 32), ready: make(chan struct{})}
	go func() {
		// Never undone (see caught): the process exits soon after.
		signal.Notify(r.ch, caught...)
		close(r.ready)
	}()
	return r
}

// foreground serves a process gtu waits for (run's init, exec's process):
// it receives the pty master on master (nil without a terminal) and
// proxies it, forwards the signals sigs catches, reaps proc and returns
// its exit code.
func foreground(proc *os.Process, master *os.File, sigs *relay) (int, error) {
	if master != nil {
		ptm, err := console.RecvFd(master)
		master.Close()
		if err != nil {
			_ = proc.Kill()
			_, _ = proc.Wait()
			return 0, fmt.Errorf("receive the container's pty: %w", err)
		}
		defer ptm.Close()
		restore, err := console.Proxy(ptm, os.Stdin, os.Stdout)
		if err != nil {
			_ = proc.Kill()
			_, _ = proc.Wait()
			return 0, err
		}
		defer restore()
	}
	type result struct {
		ps  *os.ProcessState
		err error
	}
	done := make(chan result, 1)
	go func() { ps, err := proc.Wait(); done <- result{ps, err} }()
	for {
		select {
		case s := <-sigs.ch:
			sig, ok := s.(syscall.Signal)
			if !ok || !forwarded(sig) {
				continue
			}
			_ = proc.Signal(sig)
		case r := <-done:
			return exitCode(r.ps, r.err)
		}
	}
}

// caught are the signals foreground takes over: every one but SIGCHLD and
// SIGURG, whose default actions (ignore) are kept, so that the container's
// exit and the Go runtime's preemption signals wake no goroutine.
//
// Nothing undoes it. Both of foreground's callers (the end of run and of
// exec) exit soon after it returns; run first deletes the container, and a
// SIGINT or SIGTERM then must not interrupt that cleanup anyway. And undoing
// is slow: each signal disabled is a round trip to the Go runtime's signal
// mask thread, and signal.Stop also waits for os/signal's goroutine to go
// idle; measured with uprobes, 0.7-1.8 ms (up to 6 under load) between the
// container's exit and the start of its deletion.
var caught = func() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		if s != unix.SIGCHLD && s != unix.SIGURG && s != unix.SIGKILL && s != unix.SIGSTOP {
			out = append(out, s)
		}
	}
	return out
}()

// forwarded says which signals gtu run passes on to the container:
// everything but those the Go runtime or the terminal proxy use.
func forwarded(s syscall.Signal) bool {
	switch s {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE:
		return false
	}
	return true
}

func exitCode(ps *os.ProcessState, err error) (int, error) {
	if ps == nil {
		return 0, fmt.Errorf("wait for the container: %w", err)
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode(), nil
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	var ee *os.SyscallError
	if errors.As(err, &ee) {
		return 0, err
	}
	return ws.ExitStatus(), nil
}
