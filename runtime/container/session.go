package container

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/cgroupdelegate"
	"github.com/gophertainer/gtu/runtime/internal/nsenter"
	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/userns"
)

// Rootless gtu: an unprivileged caller's gtu re-executes itself inside the
// caller's session (package userns), where it is uid 0 with the caller's
// full subordinate id map and behaves like root. These variables carry what
// the host-side gtu knew to the gtu inside.
const (
	envInSession = "_GTU_IN_SESSION" // set for the gtu inside the session
	envCwd       = "_GTU_CWD"        // the caller's working directory
	envRuntime   = "XDG_RUNTIME_DIR"
)

// Mode is how gtu runs, from the kernel's point of view.
type Mode int

const (
	// ModeRoot is real root in the initial user namespace.
	ModeRoot Mode = iota
	// ModeHostUser is an unprivileged user on the host: gtu must enter the
	// session before doing anything to a container.
	ModeHostUser
	// ModeUserNS is uid 0 inside a user namespace: gtu's own session, or
	// podman's (or Docker's, or a CI container's) rootless namespace. gtu
	// behaves like root, without nesting another session, and its cgroups
	// need delegation.
	ModeUserNS
)

// IDMaps are gtu's own uid and gid maps, read once by Detect in
// ModeUserNS: the host ids behind its uid 0 (cgroup delegation, D-Bus) and
// the translation of config.json's host ids (spec.Outer) come from them.
type IDMaps struct {
	UID, GID []userns.Map
}

// Detect tells which Mode this process runs in, with gtu's id maps in
// ModeUserNS (nil otherwise). A non-zero uid inside a user namespace is
// treated like ModeHostUser: it cannot do more than the host user it maps
// to.
func Detect() (Mode, *IDMaps, error) {
	if os.Geteuid() != 0 {
		if os.Getenv(envInSession) != "" {
			return 0, nil, errors.New("rootless session: gtu is not uid 0 inside the session; its user namespace is broken (gtu session stop, then retry)")
		}
		return ModeHostUser, nil, nil
	}
	uids, gids, err := userns.Current()
	if err != nil {
		return 0, nil, err
	}
	if uids == nil {
		return ModeRoot, nil, nil
	}
	return ModeUserNS, &IDMaps{UID: uids, GID: gids}, nil
}

// RuntimeDir is the rootless base directory: $XDG_RUNTIME_DIR, or a private
// /tmp/gtu-UID when it is unset (no logind, a CI runner, su).
func RuntimeDir() (string, error) {
	if d := os.Getenv(envRuntime); d != "" {
		return d, nil
	}
	d := filepath.Join(os.TempDir(), "gtu-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("runtime directory %s: %w", d, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(d, &st); err != nil {
		return "", fmt.Errorf("runtime directory %s: %w", d, err)
	}
	// /tmp is shared: refuse a directory someone else made first.
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Getuid() || st.Mode&0o077 != 0 {
		return "", fmt.Errorf("runtime directory %s: not a private directory of uid %d (set XDG_RUNTIME_DIR)", d, os.Getuid())
	}
	return d, nil
}

// DefaultRoot is --root when none is given: /run/gtu as real root, else
// gtu under the runtime directory.
func DefaultRoot(m Mode) (string, error) {
	if m == ModeRoot {
		return "/run/gtu", nil
	}
	d, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "gtu"), nil
}

// SessionDir is where the caller's session keeps its files: with the
// state, under $XDG_RUNTIME_DIR/gtu (hidden, so no container id is likely
// to meet it; `gtu list` skips it, it has no state.json).
func SessionDir() (string, error) {
	d, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "gtu", ".session"), nil
}

// EnterSession replaces this process by gtu with args running inside the
// caller's session, starting the session first if none runs. It returns
// only on failure. Both sides resolve the default --root the same way (the
// runtime directory is passed on), and GOPHERTAINER_ROOT, which also moves
// gtu-storage's store, passes through unchanged.
func EnterSession(args []string, log *slog.Logger) error {
	dir, err := SessionDir()
	if err != nil {
		return err
	}
	s, err := userns.Ensure(dir, log)
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	// Opened without O_CLOEXEC: the helper inherits them.
	open := func(path string) (int, error) {
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err != nil {
			return -1, fmt.Errorf("rootless session pid %d: %s: %w", s.Pid, path, err)
		}
		fds = append(fds, fd)
		return fd, nil
	}
	userFD, err := open(fmt.Sprintf("/proc/%d/ns/user", s.Pid))
	if err != nil {
		return err
	}
	mntFD, err := open(fmt.Sprintf("/proc/%d/ns/mnt", s.Pid))
	if err != nil {
		return err
	}
	exeFD, err := open("/proc/self/exe")
	if err != nil {
		return err
	}
	helper, err := nsenter.Open()
	if err != nil {
		return err
	}
	defer helper.Close()
	argv, err := nsenter.InPlaceArgs(exeFD, nsenter.Join{Flag: unix.CLONE_NEWUSER, FD: userFD},
		[]nsenter.Join{{Flag: unix.CLONE_NEWNS, FD: mntFD}}, append([]string{"gtu"}, args...))
	if err != nil {
		return err
	}
	env := append(os.Environ(), envInSession+"="+dir, envCwd+"="+cwd)
	if os.Getenv(envRuntime) == "" {
		rt, _ := RuntimeDir() // made above by SessionDir
		env = append(env, envRuntime+"="+rt)
	}
	log.Debug("entering the rootless session", "pid", s.Pid)
	err = unix.Exec("/proc/self/fd/"+strconv.Itoa(int(helper.Fd())), argv, env)
	return fmt.Errorf("enter the rootless session: exec nsenter: %w", err)
}

// ResumeInSession runs first in the gtu inside the session: joining the
// session's mount namespace moved it to that namespace's root directory.
func ResumeInSession() error {
	cwd := os.Getenv(envCwd)
	if cwd == "" || os.Getenv(envInSession) == "" {
		return nil
	}
	os.Unsetenv(envCwd)
	if err := os.Chdir(cwd); err != nil {
		return fmt.Errorf("rootless session: working directory %s: %w", cwd, err)
	}
	return nil
}

// outer is what spec.Build needs to translate config.json's host ids: set
// only inside gtu's own session, whose caller wrote them as host ids (in
// podman's namespace, podman already wrote ids of that namespace).
func outer(m *IDMaps) *spec.Outer {
	if os.Getenv(envInSession) == "" || m == nil {
		return nil
	}
	conv := func(ms []userns.Map) []spec.IDMap {
		out := make([]spec.IDMap, len(ms))
		for i, m := range ms {
			out[i] = spec.IDMap{ContainerID: m.Inside, HostID: m.Outside, Size: m.Size}
		}
		return out
	}
	return &spec.Outer{UID: conv(m.UID), GID: conv(m.GID)}
}

// SessionStatus describes the caller's session for `gtu session status`.
func SessionStatus() (string, error) {
	dir, err := SessionDir()
	if err != nil {
		return "", err
	}
	s, err := userns.Find(dir)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("session running: pid %d, directory %s", s.Pid, s.Dir), nil
}

// StopSession ends the caller's session. Containers in g.Root that still
// run keep the session's namespaces alive, but a later session could no
// longer signal their processes that run as other ids than the user's
// (their user namespace would not be its own): without force, StopSession
// refuses while there are any.
func StopSession(g Global, force bool) error {
	dir, err := SessionDir()
	if err != nil {
		return err
	}
	if !force {
		var live []string
		ids, err := g.store().List()
		if err != nil {
			return err
		}
		for _, id := range ids {
			h, err := open(g, id, false)
			if err != nil {
				continue
			}
			if h.status() != Stopped {
				live = append(live, id)
			}
			h.close()
		}
		if len(live) > 0 {
			return fmt.Errorf("session stop: containers still run in the session: %s (delete them first, or --force)", strings.Join(live, ", "))
		}
	}
	return userns.Stop(dir)
}

// DelegateCgroups is `gtu cgroup-delegate`: as real root, give the named
// user (or uid) cgroups of its own in every hierarchy, where its rootless
// containers then get their limits (cgroup v1 and hybrid hosts, where no
// systemd delegates controllers); with remove, take them back. It returns
// the directories made or removed.
func DelegateCgroups(name string, remove bool) ([]string, error) {
	if m, _, err := Detect(); err != nil {
		return nil, err
	} else if m != ModeRoot {
		return nil, errors.New("cgroup-delegate: only real root can delegate cgroups (run it with sudo)")
	}
	u, err := user.LookupUser(name)
	if err != nil {
		if uid, aerr := strconv.Atoi(name); aerr == nil {
			u, err = user.LookupUid(uid)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup-delegate: user %s: %w", name, err)
	}
	if u.Uid == 0 {
		return nil, errors.New("cgroup-delegate: root needs no delegation")
	}
	if remove {
		return cgroupdelegate.Undelegate("/sys/fs/cgroup", u.Uid)
	}
	return cgroupdelegate.Delegate("/sys/fs/cgroup", u.Uid, u.Gid)
}
