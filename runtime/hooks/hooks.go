// Package hooks runs OCI hooks (runtime-spec config.md, "POSIX-platform
// Hooks"). It only runs them; when each list runs, and in which process, is
// the lifecycle's business (see package protocol for the whole sequence):
//
//	prestart, createRuntime  gtu create, runtime namespace, before pivot_root
//	createContainer          the init stage, container namespaces, before pivot_root
//	startContainer           the init stage, inside the container, after `gtu start`
//	poststart                gtu start / gtu run, runtime namespace, after start
//	poststop                 gtu delete / gtu run, runtime namespace, after delete
//
// Every hook gets the container's OCI state JSON on stdin and exactly the
// environment config.json gives it (nothing of gtu's own), runs in a process
// group of its own so that a timeout kills whatever it started, and fails
// with an *Error that names it and quotes the end of its stderr.
package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// Hook is one hook of the plan: path, args, env and timeout in seconds.
type Hook = spec.Hook

// stderrTail is how many bytes of a failed hook's stderr its error quotes.
const stderrTail = 512

// ioGrace is how long Run keeps reading a hook's stderr after the hook
// exited. A hook that starts a daemon (a network helper, say) and exits
// leaves the daemon holding the pipe; without a bound, Run would wait for
// the daemon to exit too (runc does: its hooks' output is a bytes.Buffer).
// What the hook itself wrote is already in the pipe and read at once.
const ioGrace = 200 * time.Millisecond

// Run runs one hook with state on its stdin and waits for it, killing it
// (and its process group) when its timeout passes. The error is an *Error.
func Run(h Hook, state []byte) error {
	stderr := &tailBuffer{max: stderrTail}
	cmd := &exec.Cmd{
		Path:  h.Path,
		Args:  h.Args, // empty: exec uses Path as argv[0]
		Env:   hookEnv(h.Env),
		Stdin: bytes.NewReader(state),
		// A pipe rather than the null device: the init stage runs
		// startContainer hooks inside the container, whose /dev may lack
		// a null node.
		Stdout:      discard{},
		Stderr:      stderr,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   ioGrace,
	}
	if err := cmd.Start(); err != nil {
		// "fork/exec PATH: no such file or directory" would name the path
		// twice.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("start: %w", pe.Err)
		}
		return &Error{Path: h.Path, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if h.Timeout > 0 {
		t := time.NewTimer(time.Duration(h.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case err = <-done:
	case <-timeout:
		// The group's id stays reserved while any member lives, so this
		// kill cannot reach an unrelated process.
		_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		<-done
		return &Error{Path: h.Path, Err: fmt.Errorf("%w after %ds (killed)", ErrTimeout, h.Timeout), Stderr: stderr.String()}
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The hook exited 0; only something it left behind still holds
		// its stderr.
		err = nil
	}
	if err != nil {
		return &Error{Path: h.Path, Err: err, Stderr: stderr.String()}
	}
	return nil
}

// RunAll runs list, the hooks of config.json's hooks.<name>, in order and
// stops at the first failure, whose *Error names the hook
// ("hooks.createRuntime[1]").
func RunAll(name string, list []Hook, state []byte) error {
	for i, h := range list {
		if err := Run(h, state); err != nil {
			return named(err, name, i)
		}
	}
	return nil
}

// RunEvery runs every hook of list even when some fail, and returns the
// failures: for poststop hooks, whose failures the runtime only reports.
func RunEvery(name string, list []Hook, state []byte) []error {
	var errs []error
	for i, h := range list {
		if err := Run(h, state); err != nil {
			errs = append(errs, named(err, name, i))
		}
	}
	return errs
}

func named(err error, name string, i int) error {
	var he *Error
	if errors.As(err, &he) {
		he.Hook = fmt.Sprintf("hooks.%s[%d]", name, i)
	}
	return err
}

// hookEnv is the hook's environment. A nil Env would make os/exec pass
// gtu's own environment on (runc does that); a hook gets only its own.
func hookEnv(env []string) []string {
	if env == nil {
		return []string{}
	}
	return env
}

// discard swallows a hook's stdout. (os/exec opens the null device for a
// nil writer.)
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
