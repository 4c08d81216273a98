package container

import (
	"fmt"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A container without a mount namespace (spec.Plan.SharedMountNS) leaves
// its mounts in the caller's namespace: a bind of the rootfs onto itself
// with everything else on top of it. Delete detaches them, and only them:
// the rootfs may itself be a mount someone else made (podman's overlay), so
// the number of mounts at that path before the container existed is kept
// and nothing below it is touched.

// mountsAt counts the mounts whose mount point is path.
func mountsAt(path string) (int, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, err
	}
	infos, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return i.Mountpoint != real, false
	})
	if err != nil {
		return 0, fmt.Errorf("read mountinfo: %w", err)
	}
	return len(infos), nil
}

// undoHostMounts detaches what the container stacked on rootfs above base.
func undoHostMounts(rootfs string, base int) error {
	for range 64 {
		n, err := mountsAt(rootfs)
		if err != nil {
			return err
		}
		if n <= base {
			return nil
		}
		if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach the container's mounts on %s: %w", rootfs, err)
		}
	}
	return fmt.Errorf("detach the container's mounts on %s: still mounted", rootfs)
}
