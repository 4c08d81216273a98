package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// prepareRoot cuts propagation back to the host and makes the rootfs a mount
// point of its own, which pivot_root(2) and MS_MOVE require.
func prepareRoot(rootfs string, propagation uintptr) error {
	flag := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if propagation != 0 {
		flag = propagation
	}
	if err := unix.Mount("", "/", "", flag, ""); err != nil {
		return fmt.Errorf("set propagation of / to %s: %w", flagNames(flag), err)
	}
	// pivot_root refuses a new root whose parent mount is shared, and a
	// shared parent would also propagate the bind below to its peers.
	if err := parentMountPrivate(rootfs); err != nil {
		return err
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", rootfs, err)
	}
	return nil
}

// prepareSharedRoot is prepareRoot for a container without a mount
// namespace: nothing of the caller's namespace may change but the rootfs
// itself, bound onto itself and made recursively private, so that the
// container's mounts on it reach no peer of the caller's mounts. Delete
// detaches this bind and everything on it.
func prepareSharedRoot(rootfs string) error {
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", rootfs, err)
	}
	if err := unix.Mount("", rootfs, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make rootfs %s private: %w", rootfs, err)
	}
	return nil
}

// chrootRoot switches to rootfs without touching the mount namespace.
func chrootRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / after chroot: %w", err)
	}
	return nil
}

// parentMountPrivate makes the mount containing path private: mount(2) with
// MS_PRIVATE answers EINVAL for a path that is not a mount point, so walk up
// until one is found.
func parentMountPrivate(path string) error {
	for {
		err := unix.Mount("", path, "", unix.MS_PRIVATE, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || path == "/" {
			return fmt.Errorf("make mount at %s private: %w", path, err)
		}
		path = filepath.Dir(path)
	}
}

// pivotRoot switches to rootfs with pivot_root(".", "."): the old root ends
// up mounted on top of the new one, where it is detached without needing a
// directory for it in the image (runc's trick, from lxc).
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", rootfs, err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir to new root %s: %w", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// The old root may still be shared with the host in part (e.g. with a
	// rootfsPropagation of rshared); unmounting must not propagate.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// moveRoot is the no-pivot switch: MS_MOVE the rootfs onto / and chroot.
// The host's mounts stay in the namespace underneath, so first detach the
// host's full proc and sysfs mounts: the kernel lets a user namespace mount
// proc or sysfs only while a fully visible instance exists in the mount
// namespace, and a chroot leaves those reachable (runc's msMoveRoot).
func moveRoot(rootfs string) error {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("proc", "sysfs"))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	for _, p := range hostProcSysMounts(infos, rootfs) {
		if err := unix.Mount("", p, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
				continue // went with a parent detached before it
			}
			return fmt.Errorf("make %s rslave: %w", p, err)
		}
		err := unix.Unmount(p, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			// Locked in a user namespace: cover it instead.
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
		}
		if err != nil {
			return fmt.Errorf("hide host %s: %w", p, err)
		}
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// hostProcSysMounts lists the full (root "/") proc and sysfs mounts outside
// rootfs, outermost first.
func hostProcSysMounts(infos []*mountinfo.Info, rootfs string) []string {
	var out []string
	for _, mi := range infos {
		if mi.FSType != "proc" && mi.FSType != "sysfs" || mi.Root != "/" {
			continue
		}
		if mi.Mountpoint == rootfs || strings.HasPrefix(mi.Mountpoint, rootfs+"/") {
			continue
		}
		out = append(out, mi.Mountpoint)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") < strings.Count(out[j], "/")
	})
	return out
}
