package initproc

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/spec"
)

// runExec is the init stage of gtu exec. The nsenter helper has already put
// this process into every namespace and the cgroup of the container (the Go
// runtime started inside them), so what is left is the process itself:
// terminal, rlimits, user, executable, then credentials and execve at once.
// It never returns on success.
func (s *stage) runExec(p *spec.Plan) error {
	// While this is still gtu, nothing in the container may ptrace it or
	// open /proc/PID/mem: it holds the host's descriptors. execve of the
	// user's process resets this.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return s.fail(fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err))
	}
	exe, err := s.setupExec(p)
	if err != nil {
		return s.fail(err)
	}
	if err := s.conn.Send(&protocol.Message{Kind: protocol.KindReady}); err != nil {
		return err
	}
	_ = s.sync.Close()
	if err := s.beforeExec(p); err != nil {
		return err
	}
	return s.exec(p, exe)
}

func (s *stage) setupExec(p *spec.Plan) (string, error) {
	// Its own session, like the container's init: a terminal needs one, and
	// the process must not share the caller's.
	if _, err := unix.Setsid(); err != nil {
		return "", fmt.Errorf("setsid: %w", err)
	}
	if p.Process.Terminal {
		if err := s.setupConsole(p); err != nil {
			return "", err
		}
	}
	if err := setRlimits(p.Process.Rlimits); err != nil {
		return "", err
	}
	if err := resolveUser(&p.Process); err != nil {
		return "", err
	}
	return lookPath(p.Process.Args[0], p.Process.Env)
}

// fail reports err to the parent; once it knows, this process just exits.
func (s *stage) fail(err error) error {
	if serr := s.conn.Send(&protocol.Message{Kind: protocol.KindError, Error: err.Error()}); serr == nil {
		os.Exit(1)
	}
	return err
}
