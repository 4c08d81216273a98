package initproc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// logOut is where the init stage's JSON log lines go: the log pipe the
// parent forwards from, or nowhere.
var logOut io.Writer = io.Discard

func newLogger(level int) *slog.Logger {
	if logOut == io.Discard {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.Level(level)}))
}

// enterLateNamespaces creates the namespaces that cannot be clone flags.
func enterLateNamespaces(p *spec.Plan) error {
	if p.CgroupNS {
		// Only now: the parent has moved us into the container's cgroup,
		// which becomes the namespace's root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("linux.namespaces: cgroup: unshare: %w", err)
		}
	}
	if p.TimeNS {
		// unshare(CLONE_NEWTIME) moves only our future children (and us at
		// execve) into the namespace, so its offsets can still be written.
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			return fmt.Errorf("linux.namespaces: time: unshare: %w", err)
		}
		if len(p.TimeOffsets) > 0 {
			var b strings.Builder
			for _, o := range p.TimeOffsets {
				fmt.Fprintf(&b, "%s %d %d\n", o.Clock, o.Secs, o.Nsecs)
			}
			if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
				return fmt.Errorf("linux.timeOffsets: %w", err)
			}
		}
	}
	return nil
}

func setHostnames(p *spec.Plan) error {
	if p.SetHostname {
		if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
			return fmt.Errorf("hostname %q: %w", p.Hostname, err)
		}
	}
	if p.SetDomainname {
		if err := unix.Setdomainname([]byte(p.Domainname)); err != nil {
			return fmt.Errorf("domainname %q: %w", p.Domainname, err)
		}
	}
	return nil
}

// writeSysctls writes linux.sysctl through the container's /proc, sorted so
// failures are reproducible.
func writeSysctls(sysctls map[string]string) error {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(path, []byte(sysctls[k]), 0); err != nil {
			return fmt.Errorf("linux.sysctl[%q]: %w", k, err)
		}
	}
	return nil
}

// ensureCwd creates process.cwd when the image lacks it, as runc does,
// before the root may become read-only.
func ensureCwd(cwd string) error {
	if _, err := os.Stat(cwd); err == nil {
		return nil
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("process.cwd: create %s: %w", cwd, err)
	}
	return nil
}

func setRlimits(rl []spec.Rlimit) error {
	for _, r := range rl {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, r.Resource, &lim, nil); err != nil {
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("process.rlimits: %s %d:%d: %w (raising a hard limit needs CAP_SYS_RESOURCE)", r.Name, r.Soft, r.Hard, err)
			}
			return fmt.Errorf("process.rlimits: %s %d:%d: %w", r.Name, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// resolveUser looks process.user.username up in the container's own
// /etc/passwd (we are inside the new root now) and fills HOME when unset.
func resolveUser(pr *spec.Process) error {
	u := &pr.User
	defaults := &user.ExecUser{Uid: int(u.UID), Gid: int(u.GID), Home: "/"}
	spec := fmt.Sprintf("%d:%d", u.UID, u.GID)
	if u.Username != "" {
		spec = u.Username
	}
	eu, err := user.GetExecUserPath(spec, defaults, "/etc/passwd", "/etc/group")
	if err != nil {
		if u.Username != "" {
			return fmt.Errorf("process.user.username %q: %w", u.Username, err)
		}
		eu = defaults
	}
	if u.Username != "" {
		u.UID, u.GID = uint32(eu.Uid), uint32(eu.Gid)
	}
	if !hasEnv(pr.Env, "HOME") {
		pr.Env = append(pr.Env, "HOME="+eu.Home)
	}
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}

// lookPath finds the executable inside the container, with the container's
// PATH, so a typo fails `create` rather than the later `start`.
func lookPath(file string, env []string) (string, error) {
	check := func(p string) error {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: %w", p, unix.EACCES)
		}
		return nil
	}
	if strings.Contains(file, "/") {
		if err := check(file); err != nil {
			return "", fmt.Errorf("process.args[0]: %w", err)
		}
		return file, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if check(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("process.args[0]: executable file %q not found in $PATH", file)
}

// applyCredentials switches to process.user and sets the capability sets,
// in the order the kernel needs: shrink the bounding set while we still
// have CAP_SETPCAP, keep the permitted set across the uid change, then set
// the final sets and the ambient ones.
func applyCredentials(pr *spec.Process) error {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	c := pr.Caps
	if c == nil {
		c = &spec.Caps{}
	}
	caps.Clear(capability.BOUNDING)
	caps.Set(capability.BOUNDING, toCaps(c.Bounding)...)
	if err := caps.Apply(capability.BOUNDING); err != nil {
		return fmt.Errorf("process.capabilities.bounding: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities across setuid: %w", err)
	}
	if err := switchUser(pr.User); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	caps.Clear(capability.CAPS | capability.AMBIENT)
	caps.Set(capability.EFFECTIVE, toCaps(c.Effective)...)
	caps.Set(capability.PERMITTED, toCaps(c.Permitted)...)
	caps.Set(capability.INHERITABLE, toCaps(c.Inheritable)...)
	caps.Set(capability.AMBIENT, toCaps(c.Ambient)...)
	if err := caps.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	if len(c.Ambient) > 0 {
		if err := caps.Apply(capability.AMBIENT); err != nil {
			return fmt.Errorf("process.capabilities.ambient: %w", err)
		}
	}
	return nil
}

func toCaps(nums []int) []capability.Cap {
	out := make([]capability.Cap, len(nums))
	for i, n := range nums {
		out[i] = capability.Cap(n)
	}
	return out
}

// switchUser sets groups, gid and uid on this thread only. Go's
// syscall.Setuid would change every thread of the process; we exec from
// this locked thread, and execve keeps the calling thread's credentials.
func switchUser(u spec.User) error {
	if setgroupsAllowed() {
		gids := u.AdditionalGids
		var ptr uintptr
		if len(gids) > 0 {
			ptr = uintptrOf(gids)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), ptr, 0); e != 0 {
			return fmt.Errorf("process.user.additionalGids %v: setgroups: %w", gids, e)
		}
	} else if len(u.AdditionalGids) > 0 {
		return fmt.Errorf("process.user.additionalGids: setgroups is denied in this user namespace")
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, e)
	}
	return nil
}

// setgroupsAllowed is false in a user namespace whose setgroups file says
// "deny" (a single-id rootless mapping).
func setgroupsAllowed() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err != nil || !strings.HasPrefix(string(b), "deny")
}
