package userns

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/subid"
)

// The session is one long-lived user namespace (with a mount namespace) per
// user, in which every rootless gtu call runs as uid 0 with the user's full
// subordinate id map. It is what lets `gtu create`, `gtu start`, `gtu exec`
// and `gtu delete`, run as separate processes, act on the same containers:
// they all join the same namespaces instead of each making its own.
//
// It is built on RootlessKit's parent and child packages (they write the
// id maps with newuidmap/newgidmap and regain capabilities by re-exec):
//
//	gtu (host, daemon)    rootlesskit parent: holds <dir>/lock, api.sock
//	 └ gtu (in userns)    rootlesskit child: mount propagation rslave
//	    └ gtu pause       keeps the namespaces alive; the process to join
//
// Liveness is the parent's exclusive flock on <dir>/lock, not a pid: a
// crashed or rebooted session leaves a file nobody holds a lock on, and the
// next call removes it and starts a new session (a pid file alone, podman's
// pause.pid, can name a recycled pid).
//
// Without subordinate ids or without newuidmap, the session maps only the
// caller (one warning says what is lost): the pause process is then cloned
// straight into a new user and mount namespace with a one-line map, which an
// unprivileged process may write itself.

// The session's processes are the program gtu-session (cmd/gtu-session,
// package userns/sessiond), installed next to gtu: RootlessKit links
// net/http and more, about 4 MB that every gtu start would otherwise map
// and initialise. This package only finds, starts and stops it.
const (
	// EnvStateDir tells gtu-session its directory.
	EnvStateDir = "_GTU_SESSION_STATEDIR"
	// EnvSingle asks gtu-session for a single-mapping session: its process
	// is already in new user and mount namespaces, cloned by Ensure.
	EnvSingle = "_GTU_SESSION_SINGLE"
	// FileLock is held (flock, exclusive) while the session lives:
	// RootlessKit's state-dir lock.
	FileLock = "lock"
	// FileChildPID names the process to join (RootlessKit's child_pid).
	FileChildPID = "child_pid"
	// FileDaemonPID is the session's top process, the one Stop signals.
	FileDaemonPID = "daemon_pid"
)

// Session is a user's rootless session, found or started by Ensure.
type Session struct {
	Dir string
	Pid int // a process inside the session's namespaces
}

// Ensure returns the live session in dir, starting one if there is none.
// Concurrent callers start at most one: the first takes <dir>.start-lock.
func Ensure(dir string, log *slog.Logger) (*Session, error) {
	if pid, err := alive(dir); err == nil {
		return &Session{Dir: dir, Pid: pid}, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("session directory %s: %w", filepath.Dir(dir), err)
	}
	startLock, err := os.OpenFile(dir+".start-lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	defer startLock.Close()
	if err := unix.Flock(int(startLock.Fd()), unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("session: lock %s: %w", startLock.Name(), err)
	}
	if pid, err := alive(dir); err == nil {
		return &Session{Dir: dir, Pid: pid}, nil
	}
	// Whatever is there belongs to a session that is gone (crash, kill -9,
	// or an interrupted start): nobody holds its lock.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("session: remove stale %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	pid, err := start(dir, log)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Session{Dir: dir, Pid: pid}, nil
}

// Find returns the live session in dir, or ErrNoSession.
func Find(dir string) (*Session, error) {
	pid, err := alive(dir)
	if err != nil {
		return nil, err
	}
	return &Session{Dir: dir, Pid: pid}, nil
}

// alive returns the session's pid when its lock is held.
func alive(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileChildPID))
	if err != nil {
		return 0, ErrNoSession
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%w: %s: bad pid %q", ErrNoSession, filepath.Join(dir, FileChildPID), b)
	}
	f, err := os.Open(filepath.Join(dir, FileLock))
	if err != nil {
		return 0, ErrNoSession
	}
	defer f.Close()
	// A shared lock we can take means no session holds the exclusive one.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0, ErrNoSession
	} else if !errors.Is(err, unix.EWOULDBLOCK) {
		return 0, fmt.Errorf("session lock %s: %w", f.Name(), err)
	}
	return pid, nil
}

// Stop ends the session in dir and waits until it is gone. Containers still
// running in it keep its namespaces alive until they exit.
func Stop(dir string) error {
	f, err := os.Open(filepath.Join(dir, FileLock))
	if err != nil {
		return ErrNoSession
	}
	defer f.Close()
	if _, err := alive(dir); err != nil {
		return err
	}
	pid, err := lockHolder(dir)
	if err != nil {
		return err
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		return fmt.Errorf("stop session pid %d: %w", pid, err)
	}
	// The holder releases the lock as it exits: wait for that.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return fmt.Errorf("wait for the session to end: %w", err)
	}
	return nil
}

// lockHolder is the session's top process: the daemon's pid file for a
// RootlessKit session, the pause itself for a single-mapping one.
func lockHolder(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileDaemonPID))
	if err != nil {
		return 0, fmt.Errorf("session %s: %w", dir, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// start launches a session in the empty directory dir and waits until its
// pid file is written or it dies.
func start(dir string, log *slog.Logger) (int, error) {
	prog := Program()
	logf, err := os.OpenFile(dir+".log", os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("session log: %w", err)
	}
	defer logf.Close()
	env := append(os.Environ(), EnvStateDir+"="+dir)
	cmd := &exec.Cmd{Path: prog, Args: []string{"gtu-session"}, Stdout: logf, Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if warn, ok := singleMapping(); ok {
		log.Warn(warn)
		uid, gid := os.Getuid(), os.Getgid()
		cmd.Env = append(env, EnvSingle+"=1")
		cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	} else {
		cmd.Env = env
	}
	w, err := watch(dir)
	if err != nil {
		return 0, err
	}
	defer w.close()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the session (%s): %w", prog, err)
	}
	log.Debug("rootless session starting", "dir", dir, "pid", cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, FileDaemonPID), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	if err := w.wait(cmd.Process.Pid, filepath.Join(dir, FileChildPID)); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tail, _ := os.ReadFile(dir + ".log")
		return 0, fmt.Errorf("start the rootless session: %w: %s", err, lastLine(tail))
	}
	_ = cmd.Process.Release()
	pid, err := alive(dir)
	if err != nil {
		return 0, fmt.Errorf("start the rootless session: %w", err)
	}
	return pid, nil
}

// singleMapping reports whether the session must map only the caller, and
// the warning that says what is lost.
func singleMapping() (string, bool) {
	name := os.Getenv("USER")
	if u, err := lookupName(os.Getuid()); err == nil {
		name = u
	}
	uids, gids, err := subid.ForUser(name, uint32(os.Getuid()))
	if err != nil || len(uids) == 0 || len(gids) == 0 {
		_, warn := Build(uint32(os.Getuid()), nil, "uid")
		return warn, true
	}
	for _, helper := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(helper); err != nil {
			return fmt.Sprintf("%s not found (install the uidmap package): the rootless session maps only uid %d (as 0); files owned by other ids will not be usable", helper, os.Getuid()), true
		}
	}
	return "", false
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// Program is gtu-session, next to the running gtu.
func Program() string {
	exe, err := os.Executable()
	if err != nil {
		return "gtu-session"
	}
	return filepath.Join(filepath.Dir(exe), "gtu-session")
}
