package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// mounter executes Plan.Mounts inside one rootfs.
type mounter struct {
	root        *os.File // O_PATH handle of the rootfs bind mount
	rootfs      string   // its host path, for lexical checks only
	cgroups     *cgroupHost
	cgroupNS    bool
	cgroupPaths map[string]string
}

// mount performs one Plan.Mounts entry.
func (m *mounter) mount(mnt spec.Mount) error {
	dest := cleanDest(mnt.Destination)
	if err := m.checkProcDestination(dest, mnt.Type); err != nil {
		return err
	}
	switch {
	case mnt.IsBind():
		return m.mountBind(mnt, dest)
	case mnt.Type == "cgroup":
		return m.mountCgroup(mnt, dest)
	case mnt.Type == "cgroup2" && m.cgroups != nil:
		if h, ok := m.cgroups.unified(); ok {
			return m.mountCgroup2(mnt, dest, h)
		}
		return m.mountFS(mnt, dest)
	default:
		return m.mountFS(mnt, dest)
	}
}

func cleanDest(dest string) string { return filepath.Clean("/" + dest) }

// mountFS mounts a new filesystem instance (proc, sysfs, tmpfs, devpts,
// mqueue, ...).
func (m *mounter) mountFS(mnt spec.Mount, dest string) error {
	// A tmpfs hides the directory it covers; keep an existing directory's
	// mode (e.g. 1777 for /tmp) unless the data chooses one, as runc does.
	keepMode := -1
	if mnt.Type == "tmpfs" && !hasOption(mnt.Data, "mode") {
		if h, err := inRoot(m.root, dest); err == nil {
			var st unix.Stat_t
			if unix.Fstat(int(h.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				keepMode = int(st.Mode & 0o7777)
			}
			h.Close()
		}
	}
	var target *os.File
	var err error
	if mnt.Type == "proc" || mnt.Type == "sysfs" {
		target, err = plainDirIn(m.root, dest)
	} else {
		target, err = mkdirIn(m.root, dest)
	}
	if err != nil {
		return err
	}
	defer target.Close()

	flags := mnt.Flags
	// Like runc: /dev gets its device nodes and a tmpfs may need a chmod
	// after the mount, so both are mounted rw now. A tmpfs is remounted
	// read-only below, /dev by Finalize.
	if mnt.Type == "tmpfs" || dest == "/dev" {
		flags &^= unix.MS_RDONLY
	}
	source := mnt.Source
	if source == "" {
		source = mnt.Type
	}
	err = unix.Mount(source, procfd(target), mnt.Type, flags, mnt.Data)
	if err != nil && mnt.Type == "sysfs" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
		// A fresh sysfs needs a network namespace owned by our user
		// namespace; without one, bind the host's /sys as runc does.
		return m.bindOnto("/sys", target, dest, mnt.Flags|unix.MS_BIND|unix.MS_REC, mnt)
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", mnt.Type, err)
	}
	top, err := openIn(m.root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	if mnt.Type == "tmpfs" {
		if keepMode >= 0 {
			// chmod through the magic link: fchmod refuses O_PATH handles.
			if err := unix.Chmod(procfd(top), uint32(keepMode)); err != nil {
				return fmt.Errorf("chmod %o: %w", keepMode, err)
			}
		}
		if mnt.Flags&unix.MS_RDONLY != 0 && dest != "/dev" {
			if err := remountKeeping(top, unix.MS_RDONLY); err != nil {
				return err
			}
		}
	}
	return applyAfter(top, mnt)
}

// mountBind bind-mounts mnt.Source, creating a directory or an empty file
// at the destination to match it.
func (m *mounter) mountBind(mnt spec.Mount, dest string) error {
	fi, err := os.Stat(mnt.Source)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	var target *os.File
	if fi.IsDir() {
		target, err = mkdirIn(m.root, dest)
	} else {
		target, err = fileIn(m.root, dest, 0o644)
	}
	if err != nil {
		return err
	}
	defer target.Close()
	return m.bindOnto(mnt.Source, target, dest, mnt.Flags, mnt)
}

// bindOnto binds source onto target (resolved from dest), remounts it with
// the remaining flags and applies mnt's propagation and attributes.
func (m *mounter) bindOnto(source string, target *os.File, dest string, flags uintptr, mnt spec.Mount) error {
	if err := unix.Mount(source, procfd(target), "", unix.MS_BIND|flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", source, err)
	}
	top, err := openIn(m.root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	if needsBindRemount(flags) {
		if err := remountBind(top, flags); err != nil {
			return err
		}
	}
	return applyAfter(top, mnt)
}

// remountBind applies flags to the bind mount h with MS_BIND|MS_REMOUNT. In
// a user namespace the kernel refuses (EPERM) a remount that drops a locked
// flag of the source (nosuid, nodev, noexec, ro, the atime mode); like
// runc, retry once with those flags read back through statfs.
func remountBind(h *os.File, flags uintptr) error {
	flags |= unix.MS_BIND | unix.MS_REMOUNT
	err := unix.Mount("", procfd(h), "", flags, "")
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) {
		var st unix.Statfs_t
		if serr := unix.Fstatfs(int(h.Fd()), &st); serr != nil {
			return fmt.Errorf("statfs: %w", serr)
		}
		if retry := withLockedFlags(flags, statfsFlags(st.Flags)); retry != flags {
			if err2 := unix.Mount("", procfd(h), "", retry, ""); err2 == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("remount %s: %w", flagNames(flags), err)
}

// remountKeeping remounts the mount h with extra flags added to all the flags
// it has now (read with statfs), so nothing else about it changes and locked
// flags are repeated.
func remountKeeping(h *os.File, extra uintptr) error {
	return remountKeepingAt(procfd(h), extra)
}

// remountKeepingAt is remountKeeping for the mount whose root is target.
func remountKeepingAt(target string, extra uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	flags := statfsFlags(st.Flags) | extra | unix.MS_BIND | unix.MS_REMOUNT
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", flagNames(flags), err)
	}
	return nil
}

// applyAfter sets a fresh mount's propagation, one flag at a time, then its
// mount_setattr(2) attributes recursively ("rro", "rnosuid", ...).
func applyAfter(top *os.File, mnt spec.Mount) error {
	for _, p := range mnt.Propagation {
		if err := unix.Mount("", procfd(top), "", p, ""); err != nil {
			return fmt.Errorf("set propagation %s: %w", flagNames(p), err)
		}
	}
	if mnt.AttrSet == 0 && mnt.AttrClr == 0 {
		return nil
	}
	attr := unix.MountAttr{Attr_set: mnt.AttrSet, Attr_clr: mnt.AttrClr}
	if err := unix.MountSetattr(int(top.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("mount_setattr set=%#x clr=%#x: %w", mnt.AttrSet, mnt.AttrClr, err)
	}
	return nil
}

// checkProcDestination refuses mounts over the container's /proc other than
// procfs itself and the files that lxcfs-style emulators replace: anything
// else could hide the masks applied later or, through a symlink, redirect
// writes to /proc/self/attr (runc's checkProcMount). The destination is
// resolved the same way the mount will resolve it.
func (m *mounter) checkProcDestination(dest, fstype string) error {
	resolved, err := securejoin.SecureJoin(m.rootfs, dest)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	rel, err := filepath.Rel(m.rootfs, resolved)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	if !procDestinationAllowed(filepath.Clean("/"+rel), fstype) {
		return fmt.Errorf("%w: resolves to %s", ErrProcDestination, filepath.Clean("/"+rel))
	}
	return nil
}

// procFiles are the /proc files a bind mount may replace.
var procFiles = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true,
	"/proc/stat": true, "/proc/swaps": true, "/proc/uptime": true,
	"/proc/loadavg": true, "/proc/slabinfo": true, "/proc/net/dev": true,
	"/proc/sys/kernel/ns_last_pid": true,
}

// procDestinationAllowed decides for a resolved, clean container path.
func procDestinationAllowed(path, fstype string) bool {
	if path != "/proc" && !strings.HasPrefix(path, "/proc/") {
		return true
	}
	if path == "/proc" {
		return fstype == "proc"
	}
	return procFiles[path]
}

// flagNames renders mount flags for error messages.
func flagNames(flags uintptr) string {
	names := []struct {
		f uintptr
		n string
	}{
		{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
		{unix.MS_NOEXEC, "noexec"}, {unix.MS_SYNCHRONOUS, "sync"}, {unix.MS_REMOUNT, "remount"},
		{unix.MS_MANDLOCK, "mand"}, {unix.MS_DIRSYNC, "dirsync"}, {unix.MS_NOSYMFOLLOW, "nosymfollow"},
		{unix.MS_NOATIME, "noatime"}, {unix.MS_NODIRATIME, "nodiratime"}, {unix.MS_BIND, "bind"},
		{unix.MS_MOVE, "move"}, {unix.MS_REC, "rec"}, {unix.MS_UNBINDABLE, "unbindable"},
		{unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"}, {unix.MS_SHARED, "shared"},
		{unix.MS_RELATIME, "relatime"}, {unix.MS_STRICTATIME, "strictatime"},
	}
	var out []string
	for _, e := range names {
		if flags&e.f != 0 {
			out = append(out, e.n)
			flags &^= e.f
		}
	}
	if flags != 0 || len(out) == 0 {
		out = append(out, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(out, ",")
}
