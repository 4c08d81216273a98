// Package initproc is everything that runs inside the container's new
// namespaces: the init stage (cmd/gtu-init) that gtu runs as the container's first
// process. It follows the spec.Plan it receives over the sync socket (see
// package protocol for the whole sequence) and ends by exec'ing the user's
// process. It never imports runtime/container.
package initproc

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/internal/console"
	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/rootfs"
	"github.com/gophertainer/gtu/runtime/spec"
)

// Run is the init stage's main. The caller must have locked the main
// goroutine to its OS thread from the first moment (runtime.LockOSThread in
// an init function): capabilities, no_new_privs and credentials are per
// thread, and execve must come from the thread that set them. Run never
// returns.
func Run() {
	err := run()
	fmt.Fprintf(os.Stderr, "gtu init: %v\n", err)
	os.Exit(1)
}

// stage holds the init stage's inherited descriptors.
type stage struct {
	sync    *os.File
	conn    *protocol.Conn // over sync
	fifo    *os.File
	console *os.File // nil without a terminal
	// seccompSock is the connection to linux.seccomp.listenerPath, for a
	// profile with SCMP_ACT_NOTIFY.
	seccompSock *os.File
	log         *slog.Logger
	preserve    int // number of --preserve-fds after stdio
	// state is the container's OCI state for the hooks the init runs; set
	// only when the plan has such hooks.
	state *specs.State
}

func run() error {
	s, err := inherit()
	if err != nil {
		return err
	}
	conn := protocol.NewConn(s.sync, protocol.Child)
	s.conn = conn
	m, err := conn.Recv()
	if err != nil {
		return err
	}
	p := m.Plan
	if p == nil {
		err = errors.New("bootstrap message without a plan")
		_ = conn.Send(&protocol.Message{Kind: protocol.KindError, Error: err.Error()})
		return err
	}
	s.log = newLogger(m.LogLevel)
	s.state = m.State
	if p.Exec {
		return s.runExec(p)
	}
	if s.fifo == nil {
		err = fmt.Errorf("%s is not set: gtu init is started by gtu itself, not by hand", protocol.EnvFifoFD)
		_ = conn.Send(&protocol.Message{Kind: protocol.KindError, Error: err.Error()})
		return err
	}
	exe, err := s.setup(p)
	if err != nil {
		// The parent prints it; our stderr may be the container's.
		if serr := conn.Send(&protocol.Message{Kind: protocol.KindError, Error: err.Error()}); serr == nil {
			os.Exit(1)
		}
		return err
	}
	if err := conn.Send(&protocol.Message{Kind: protocol.KindReady}); err != nil {
		return err
	}
	_ = s.sync.Close()
	w, err := s.waitStart()
	if err != nil {
		return err
	}
	// `gtu start` now waits on exec.fifo for our result. It hears it only
	// after the privilege drop and any startContainer hooks, as in runc,
	// so that a failure there fails start (the process never runs), and so
	// that when start returns the process is as close to running as it can
	// be: a caller that signals it at once (the OCI kill tests do) must not
	// find it still in gtu.
	err = s.beforeExec(p)
	rerr := s.report(w, err)
	if err != nil {
		if rerr == nil {
			os.Exit(1) // gtu start prints it
		}
		return err
	}
	if rerr != nil {
		return rerr
	}
	return s.exec(p, exe)
}

// report writes the start result to exec.fifo and closes it.
func (s *stage) report(w *os.File, result error) error {
	_, err := w.Write(protocol.StartResult(result))
	_ = w.Close()
	_ = s.fifo.Close()
	if err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	return nil
}

// inherit picks up the descriptors the parent passed.
func inherit() (*stage, error) {
	s := &stage{log: slog.New(slog.DiscardHandler)}
	fd := func(env string, required bool) (*os.File, error) {
		v := os.Getenv(env)
		if v == "" {
			if required {
				return nil, fmt.Errorf("%s is not set: gtu init is started by gtu itself, not by hand", env)
			}
			return nil, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 {
			return nil, fmt.Errorf("%s=%q: not a descriptor number", env, v)
		}
		unix.CloseOnExec(n)
		return os.NewFile(uintptr(n), strings.ToLower(env)), nil
	}
	var err error
	if s.sync, err = fd(protocol.EnvSyncFD, true); err != nil {
		return nil, err
	}
	// gtu exec passes no fifo: its process runs at once.
	if s.fifo, err = fd(protocol.EnvFifoFD, false); err != nil {
		return nil, err
	}
	if s.console, err = fd(protocol.EnvConsoleFD, false); err != nil {
		return nil, err
	}
	if s.seccompSock, err = fd(protocol.EnvSeccompFD, false); err != nil {
		return nil, err
	}
	if lf, err := fd(protocol.EnvLogFD, false); err != nil {
		return nil, err
	} else if lf != nil {
		logOut = lf
	}
	if v := os.Getenv(protocol.EnvPreserve); v != "" {
		s.preserve, _ = strconv.Atoi(v)
	}
	for _, e := range []string{protocol.EnvSyncFD, protocol.EnvFifoFD, protocol.EnvConsoleFD, protocol.EnvLogFD, protocol.EnvPreserve, protocol.EnvSeccompFD} {
		os.Unsetenv(e)
	}
	return s, nil
}

// setup does every step that can fail in a way the user must hear about
// from the gtu command itself, and returns the resolved executable.
func (s *stage) setup(p *spec.Plan) (string, error) {
	// A new session: the container's processes must not share the caller's
	// controlling terminal, and TIOCSCTTY needs a session leader.
	if _, err := unix.Setsid(); err != nil {
		return "", fmt.Errorf("setsid: %w", err)
	}
	if err := enterLateNamespaces(p); err != nil {
		return "", err
	}
	s.log.Debug("namespaces ready", "cgroupns", p.CgroupNS, "timens", p.TimeNS)
	if err := rootfs.Prepare(p, s.beforeSwitch(p)); err != nil {
		return "", err
	}
	if p.Process.Terminal {
		if err := s.setupConsole(p); err != nil {
			return "", err
		}
	}
	if err := setHostnames(p); err != nil {
		return "", err
	}
	if err := writeSysctls(p.Sysctls); err != nil {
		return "", err
	}
	if err := ensureCwd(p.Process.Cwd); err != nil {
		return "", err
	}
	if err := rootfs.Finalize(p); err != nil {
		return "", err
	}
	s.log.Debug("root filesystem ready", "rootfs", p.Rootfs)
	if !p.NoNewKeyring {
		// A fresh session keyring so containers do not share the host's
		// (runc does the same). Kernels without keyrings say ENOSYS.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + p.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return "", fmt.Errorf("join a new session keyring: %w", err)
		}
	}
	if err := setRlimits(p.Process.Rlimits); err != nil {
		return "", err
	}
	if a := p.Process.OOMScoreAdj; a != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*a)), 0); err != nil {
			return "", fmt.Errorf("process.oomScoreAdj: set %d: %w (lowering it needs CAP_SYS_RESOURCE)", *a, err)
		}
	}
	if err := resolveUser(&p.Process); err != nil {
		return "", err
	}
	return lookPath(p.Process.Args[0], p.Process.Env)
}

// setupConsole creates the container's pty inside its own devpts, makes it
// /dev/console and stdio, and hands the master to --console-socket.
func (s *stage) setupConsole(p *spec.Plan) error {
	if s.console == nil {
		return errors.New("process.terminal: a terminal needs --console-socket (or gtu run in the foreground)")
	}
	master, slavePath, err := console.OpenPty()
	if err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	defer master.Close()
	peer, err := console.OpenPeer(master)
	if err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	defer peer.Close()
	if w, h := p.Process.ConsoleWidth, p.Process.ConsoleHeight; w > 0 && h > 0 {
		if err := console.SetSize(master, uint16(w), uint16(h)); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	if !p.Exec {
		// The container's console; an exec'd process only gets its pty.
		if err := rootfs.BindConsole(slavePath); err != nil {
			return err
		}
	}
	if err := console.SendFd(s.console, master); err != nil {
		return fmt.Errorf("send the pty master to the console socket: %w", err)
	}
	_ = s.console.Close()
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(peer.Fd()), fd, 0); err != nil {
			return fmt.Errorf("make the pty stdio: %w", err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make the pty the controlling terminal: %w", err)
	}
	return nil
}

// waitStart blocks until `gtu start` opens exec.fifo for reading and
// returns the writing end, for the start result.
func (s *stage) waitStart() (*os.File, error) {
	// Reopen through /proc: the O_PATH descriptor cannot be written. The
	// open blocks until a reader appears.
	path := fmt.Sprintf("/proc/self/fd/%d", s.fifo.Fd())
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	return f, nil
}

// beforeExec drops privileges and runs the startContainer hooks: as runc
// does, they run as the container's user with its capabilities, since
// their path is the image's.
func (s *stage) beforeExec(p *spec.Plan) error {
	pr := &p.Process
	if pr.User.Umask != nil {
		unix.Umask(int(*pr.User.Umask))
	} else {
		unix.Umask(0o022)
	}
	// No descriptor of gtu's may reach the container (CVE-2024-21626):
	// everything past stdio and the preserved fds is closed at exec. Done
	// before any seccomp filter, which may not allow close_range.
	if err := unix.CloseRange(uint(3+s.preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which
	// the credentials drop: load it first (runc's order), so the profile
	// must allow the set*id and capset calls that follow. With it, it is
	// loaded just before execve (exec), so that as few system calls as
	// possible have to be allowed for gtu's sake.
	if p.Seccomp != nil && !pr.NoNewPrivs {
		if err := s.applySeccomp(p.Seccomp); err != nil {
			return err
		}
	}
	if err := applyCredentials(pr); err != nil {
		return err
	}
	if pr.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	if err := unix.Chdir(pr.Cwd); err != nil {
		return fmt.Errorf("process.cwd: chdir %s: %w", pr.Cwd, err)
	}
	if p.Hooks != nil {
		// Forked from this locked thread, the hooks get its credentials.
		return s.runHooks("startContainer", p.Hooks.StartContainer, specs.StateCreated)
	}
	return nil
}

// exec execs the user's process. Only returns on error.
func (s *stage) exec(p *spec.Plan, exe string) error {
	pr := &p.Process
	if p.Seccomp != nil && pr.NoNewPrivs {
		if err := s.applySeccomp(p.Seccomp); err != nil {
			return err
		}
	}
	err := unix.Exec(exe, pr.Args, pr.Env)
	return fmt.Errorf("exec %s: %w", exe, err)
}
