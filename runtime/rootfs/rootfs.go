// Package rootfs builds the container's filesystem view. It runs in the init
// stage, in the container's new mount namespace (and maybe a user namespace
// in which it is root), on a locked OS thread, and only executes what
// spec.Plan says:
//
//	Prepare      / rslave, rootfs bind, Plan.Mounts, /dev, [beforeSwitch],
//	             pivot_root or move+chroot
//	BindConsole  pty slave onto /dev/console (optional)
//	Finalize     masked paths, read-only paths, /dev ro, / ro
//
// The console and sysctls go between Prepare and Finalize, since sysctls
// need /proc/sys writable. Paths from config.json and the image are always
// resolved inside the rootfs (see paths.go).
package rootfs

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// Prepare does everything up to and including the switch to the new root.
// beforeSwitch, when not nil, runs once the mounts are in place but the
// host's filesystem is still in view: the point where the OCI runtime spec
// runs createRuntime and createContainer hooks.
func Prepare(p *spec.Plan, beforeSwitch func() error) error {
	// The host path is trusted; resolve it once so that walking up from it
	// (parentMountPrivate) and comparing with mountinfo see real paths.
	rootfs, err := filepath.EvalSymlinks(p.Rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", p.Rootfs, err)
	}
	if !filepath.IsAbs(rootfs) {
		return fmt.Errorf("rootfs %s: not an absolute path", p.Rootfs)
	}
	m := &mounter{rootfs: rootfs, cgroupNS: p.CgroupNS, cgroupPaths: p.CgroupPaths}
	// The host's cgroup mounts are read before anything changes: after
	// the mounts below (or a bind of a cgroup tree) they are ambiguous.
	for _, mnt := range p.Mounts {
		if (mnt.Type == "cgroup" || mnt.Type == "cgroup2") && !mnt.IsBind() {
			if m.cgroups, err = readCgroupHost("/proc/self"); err != nil {
				return fmt.Errorf("read host cgroup mounts: %w", err)
			}
			break
		}
	}
	if p.SharedMountNS {
		err = prepareSharedRoot(rootfs)
	} else {
		err = prepareRoot(rootfs, p.RootfsPropagation)
	}
	if err != nil {
		return err
	}
	// Opened after the bind: lookups must go through the new mount, or the
	// mounts below would land on the host's copy of the tree.
	if m.root, err = openRoot(rootfs); err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	defer m.root.Close()
	for i, mnt := range p.Mounts {
		if err := m.mount(mnt); err != nil {
			return fmt.Errorf("mounts[%d] %s: %w", i, mnt.Destination, err)
		}
	}
	if needsDevSetup(p.Mounts) {
		if err := createDevices(m.root, p.Devices); err != nil {
			return err
		}
		if err := devSymlinks(m.root, hasMountAt(p.Mounts, "/dev/pts")); err != nil {
			return err
		}
	}
	m.root.Close()
	if beforeSwitch != nil {
		if err := beforeSwitch(); err != nil {
			return err
		}
	}
	switch {
	case p.SharedMountNS:
		// The caller's mount namespace: its root must stay where it is.
		return chrootRoot(rootfs)
	case p.NoPivot:
		err = moveRoot(rootfs)
	default:
		err = pivotRoot(rootfs)
	}
	if err != nil {
		return err
	}
	// A shared or slave root is applied only now: done before the switch
	// on the rootfs mount it could propagate to the host (runc does the
	// same); private was done by parentMountPrivate.
	if p.RootfsPropagation != 0 && p.RootfsPropagation&unix.MS_PRIVATE == 0 {
		if err := unix.Mount("", "/", "", p.RootfsPropagation, ""); err != nil {
			return fmt.Errorf("set propagation of new / to %s: %w", flagNames(p.RootfsPropagation), err)
		}
	}
	return nil
}

// Finalize applies what must come after the console and sysctls: masks,
// read-only paths, a read-only /dev and a read-only root. It runs inside
// the new root.
func Finalize(p *spec.Plan) error {
	devRO := false
	for i := len(p.Mounts) - 1; i >= 0; i-- {
		if cleanDest(p.Mounts[i].Destination) == "/dev" {
			devRO = p.Mounts[i].Flags&unix.MS_RDONLY != 0
			break
		}
	}
	// Masks, read-only paths and /dev name their targets by handle, through
	// /proc/self/fd; a read-only root alone needs no /proc.
	if len(p.MaskedPaths) > 0 || len(p.ReadonlyPaths) > 0 || devRO {
		if err := requireProcfs(); err != nil {
			return err
		}
	}
	root, err := openRoot("/")
	if err != nil {
		return fmt.Errorf("open /: %w", err)
	}
	defer root.Close()
	for i, path := range p.MaskedPaths {
		if err := maskPath(root, path); err != nil {
			return fmt.Errorf("maskedPaths[%d] %s: %w", i, path, err)
		}
	}
	for i, path := range p.ReadonlyPaths {
		if err := readonlyPath(root, path); err != nil {
			return fmt.Errorf("readonlyPaths[%d] %s: %w", i, path, err)
		}
	}
	if devRO {
		dev, err := openIn(root, "/dev")
		if err != nil {
			return fmt.Errorf("read-only /dev: %w", err)
		}
		err = remountKeeping(dev, unix.MS_RDONLY)
		dev.Close()
		if err != nil {
			return fmt.Errorf("read-only /dev: %w", err)
		}
	}
	if p.RootfsReadonly {
		if err := remountKeepingAt("/", unix.MS_RDONLY); err != nil {
			return fmt.Errorf("read-only rootfs: %w", err)
		}
	}
	return nil
}
