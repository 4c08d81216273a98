package exeseal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// openOverlay returns an O_PATH descriptor of the binary at src as seen
// through a private overlayfs that has no upper layer, trying the way of
// naming layers that current kernels take, then the one older kernels take.
func openOverlay(src string) (*os.File, error) {
	f, err := openOverlayWith(src, modernLayers)
	if err == nil || errors.Is(err, errReplaced) {
		return f, err
	}
	f, lerr := openOverlayWith(src, legacyLayers)
	if lerr == nil {
		return f, nil
	}
	return nil, errors.Join(err, lerr)
}

// layerFunc configures the lower layers of the overlay context ctx: the
// directory holding the binary on top, then the empty tmpfs mount emptyFd.
type layerFunc func(ctx int, binDir string, emptyFd int) error

// modernLayers passes each layer on its own: "lowerdir+" with a path needs
// Linux 6.5, with a descriptor 6.13. The tmpfs needs no path at all.
func modernLayers(ctx int, binDir string, emptyFd int) error {
	if err := unix.FsconfigSetString(ctx, "lowerdir+", binDir); err != nil {
		return fmt.Errorf("fsconfig overlay lowerdir+=%s: %w", binDir, err)
	}
	if err := unix.FsconfigSetFd(ctx, "lowerdir+", emptyFd); err != nil {
		return fmt.Errorf("fsconfig overlay lowerdir+=<fd of empty tmpfs>: %w", err)
	}
	return nil
}

// legacyLayers uses the one-string "lowerdir" option, naming the detached
// tmpfs by its /proc/self/fd entry. Some kernels refuse a layer that is not
// in a mount namespace; Open then falls back to a memfd copy.
func legacyLayers(ctx int, binDir string, emptyFd int) error {
	v := escapeLowerDir(binDir) + ":/proc/self/fd/" + strconv.Itoa(emptyFd)
	if err := unix.FsconfigSetString(ctx, "lowerdir", v); err != nil {
		return fmt.Errorf("fsconfig overlay lowerdir=%s: %w", v, err)
	}
	return nil
}

// escapeLowerDir escapes the separator ':' and the escape '\' itself, the
// only characters the legacy lowerdir string interprets.
func escapeLowerDir(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(p)
}

func openOverlayWith(src string, layers layerFunc) (*os.File, error) {
	path := src
	if src == SelfExe {
		var err error
		if path, err = os.Readlink(src); err != nil {
			return nil, fmt.Errorf("readlink %s: %w", src, err)
		}
	}
	var want unix.Stat_t
	if err := unix.Stat(src, &want); err != nil {
		return nil, fmt.Errorf("stat %s: %w", src, err)
	}
	return sealOverlay(path, &want, layers)
}

// sealOverlay opens path through a fresh lower-only overlay and checks that
// it is the file described by want.
func sealOverlay(path string, want *unix.Stat_t, layers layerFunc) (*os.File, error) {
	if strings.HasSuffix(path, " (deleted)") {
		return nil, fmt.Errorf("%s: %w", path, errReplaced)
	}
	binDir, name := filepath.Split(path)

	// Overlayfs refuses a single lower layer without an upper one, so an
	// empty tmpfs is the second. It is put below the binary's directory so
	// that nothing in it could mask the binary's name.
	empty, err := detachedMount("tmpfs", nil)
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)

	mnt, err := detachedMount("overlay", func(ctx int) error {
		if err := layers(ctx, binDir, empty); err != nil {
			return err
		}
		// xino would be switched on automatically when the layers are on
		// different filesystems, log to dmesg on every start and remap inode
		// numbers, which the identity check below relies on. Off is only an
		// optimisation, so older kernels that lack it are fine.
		_ = unix.FsconfigSetString(ctx, "xino", "off")
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The mount is never attached to a namespace: once this descriptor is
	// closed, the returned file is its only reference, and nobody can reach
	// it by path to remount or unmount it.
	defer unix.Close(mnt)

	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s through overlay of %s: %w", name, binDir, err)
	}
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat %s through overlay: %w", name, err)
	}
	if !sameFile(want, &got) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", path, errReplaced)
	}
	return os.NewFile(uintptr(fd), "exeseal-overlay:"+path), nil
}

// sameFile compares what overlayfs passes through unchanged for a file of a
// lower layer with xino off: the inode number, size, modification and
// change times. The device number is the overlay's own, so it is skipped.
func sameFile(a, b *unix.Stat_t) bool {
	return a.Ino == b.Ino && a.Size == b.Size && a.Mtim == b.Mtim && a.Ctim == b.Ctim
}

// detachedMount creates a read-only, nodev, nosuid mount of fstype with the
// new mount API and returns its root as a descriptor, without attaching it
// anywhere. configure, if not nil, sets options before the superblock is
// created.
func detachedMount(fstype string, configure func(ctx int) error) (int, error) {
	ctx, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(ctx)
	if configure != nil {
		if err := configure(ctx); err != nil {
			return -1, withFsLog(err, ctx)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, withFsLog(fmt.Errorf("fsconfig create %s: %w", fstype, err), ctx)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC,
		unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return mnt, nil
}

// withFsLog appends the messages the filesystem left in the context's log:
// fsconfig only returns an errno, the reason ("at least 2 lowerdir are
// needed", "failed to resolve ...") is in the log.
func withFsLog(err error, ctx int) error {
	var msgs []string
	buf := make([]byte, 256)
	for len(msgs) < 8 {
		n, rerr := unix.Read(ctx, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, string(buf[:n]))
	}
	if len(msgs) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(msgs, "; "))
}
