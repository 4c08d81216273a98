package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// deviceMode returns the mknod(2) mode (file type and permission bits).
func deviceMode(d spec.Device) (uint32, error) {
	var t uint32
	switch d.Type {
	case "c", "u":
		t = unix.S_IFCHR
	case "b":
		t = unix.S_IFBLK
	case "p":
		t = unix.S_IFIFO
	default:
		return 0, fmt.Errorf("%w %q", ErrDeviceType, d.Type)
	}
	return t | d.FileMode&0o7777, nil
}

// needsDevSetup reports whether Prepare populates /dev: like runc, unless
// /dev is a bind mount (the caller then provides its content).
func needsDevSetup(mounts []spec.Mount) bool {
	for _, m := range mounts {
		if cleanDest(m.Destination) == "/dev" && m.IsBind() {
			return false
		}
	}
	return true
}

// hasMountAt reports whether some mount targets dest.
func hasMountAt(mounts []spec.Mount, dest string) bool {
	for _, m := range mounts {
		if cleanDest(m.Destination) == dest {
			return true
		}
	}
	return false
}

// createDevices makes each device node inside root. mknod(2) needs
// CAP_MKNOD in the initial user namespace; when it fails with EPERM (a user
// namespace) this and every following node is a bind mount of the host's
// node onto an empty file instead, and keeps the host's owner and mode.
func createDevices(root *os.File, devs []spec.Device) error {
	// The exact modes are wanted, not the caller's umask applied to them.
	old := unix.Umask(0)
	defer unix.Umask(old)
	bind := false
	// The nodes are nearly all in /dev: each directory is resolved (a
	// verified lookup, about ten system calls) once, not once a node.
	dirs := map[string]*os.File{}
	defer func() {
		for _, f := range dirs {
			f.Close()
		}
	}()
	for _, d := range devs {
		dir := filepath.Dir(d.Path)
		parent, ok := dirs[dir]
		if !ok {
			var err error
			if parent, err = mkdirIn(root, dir); err != nil {
				return fmt.Errorf("device %s: %w", d.Path, err)
			}
			dirs[dir] = parent
		}
		if err := createDevice(parent, d, &bind); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

// createDevice makes the node d in parent, its directory.
func createDevice(parent *os.File, d spec.Device, bind *bool) error {
	mode, err := deviceMode(d)
	if err != nil {
		return err
	}
	base := filepath.Base(d.Path)
	if !*bind {
		dev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
		err := unix.Mknodat(int(parent.Fd()), base, mode, dev)
		switch {
		case err == nil:
			if err := unix.Fchownat(int(parent.Fd()), base, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("chown %d:%d: %w", d.UID, d.GID, err)
			}
			return nil
		case errors.Is(err, unix.EEXIST):
			return nil
		case errors.Is(err, unix.EPERM):
			*bind = true
		default:
			return fmt.Errorf("mknod %d:%d: %w", d.Major, d.Minor, err)
		}
	}
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EEXIST) {
		return nil // as with mknod: an earlier entry or the image made it
	} else if err != nil {
		return fmt.Errorf("create bind target: %w", err)
	}
	_ = unix.Close(fd)
	target, err := openAt(parent, base, d.Path, 0)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Mount(d.Path, procfd(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host node %s: %w", d.Path, err)
	}
	return nil
}

// devSymlinks adds the conventional /dev links; /dev/core only where the
// kernel has /proc/kcore (CONFIG_PROC_KCORE), /dev/ptmx only over a devpts
// instance mounted at /dev/pts (newinstance makes the host's ptmx useless).
func devSymlinks(root *os.File, ptmx bool) error {
	dev, err := openIn(root, "/dev")
	if err != nil {
		return err
	}
	defer dev.Close()
	links := [][2]string{
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"core", "/proc/kcore"})
	}
	if ptmx {
		if err := unix.Unlinkat(int(dev.Fd()), "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove /dev/ptmx: %w", err)
		}
		links = append(links, [2]string{"ptmx", "pts/ptmx"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[1], int(dev.Fd()), l[0]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s -> %s: %w", l[0], l[1], err)
		}
	}
	return nil
}

// BindConsole bind-mounts the pty slave at slavePath (e.g. /dev/pts/3) onto
// /dev/console, an empty file of mode 0666 created for it. It runs after
// Prepare, inside the container's root.
func BindConsole(slavePath string) error {
	if err := requireProcfs(); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	root, err := openRoot("/")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer root.Close()
	dev, err := mkdirIn(root, "/dev")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer dev.Close()
	// Whatever the image left at /dev/console (a node, a symlink) goes.
	if err := unix.Unlinkat(int(dev.Fd()), "console", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("/dev/console: remove: %w", err)
	}
	old := unix.Umask(0)
	fd, err := unix.Openat(int(dev.Fd()), "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o666)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("/dev/console: create: %w", err)
	}
	_ = unix.Close(fd)
	target, err := openAt(dev, "console", "/dev/console", 0)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Mount(slavePath, procfd(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("/dev/console: bind %s: %w", slavePath, err)
	}
	return nil
}
