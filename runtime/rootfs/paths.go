package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Every path below comes from config.json or from the container image, so it
// is resolved inside a root handle with pathrs-lite (openat2 RESOLVE_IN_ROOT
// or its O_PATH emulation): a symlink in the rootfs can never lead out of it.
// Mounts then target /proc/self/fd/N of the O_PATH handle, as runc does, so a
// symlink swapped in after the lookup cannot redirect the mount either.

// procfd names the magic link of an open handle, for use as a mount target.
func procfd(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// inRoot opens path inside root, as pathrs-lite's OpenatInRoot does, for
// less. A path without ".." is resolved by one openat2 with
// RESOLVE_IN_ROOT and RESOLVE_NO_SYMLINKS: the kernel confines the walk to
// root and refuses every symlink, so it is a plain descent through
// directories (and the mounts on them), which nothing can lead out of
// root. OpenatInRoot does the same openat2 but follows symlinks inside
// root, so it then checks the result through /proc/thread-self/fd (about
// ten system calls more, counted with strace). A symlink on the way
// (ELOOP), "..", or any error but "does not exist" goes to pathrs-lite,
// which also gives the authoritative error.
func inRoot(root *os.File, path string) (*os.File, error) {
	if !slices.Contains(strings.Split(path, "/"), "..") {
		clean := filepath.Clean("/" + path)
		fd, err := unix.Openat2(int(root.Fd()), clean, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), clean), nil
		case errors.Is(err, unix.ENOENT):
			return nil, &os.PathError{Op: "openat2", Path: clean, Err: err}
		}
	}
	return pathrs.OpenatInRoot(root, path)
}

// openRoot opens an O_PATH handle on a directory used as the root of lookups.
func openRoot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openIn resolves path inside root and returns an O_PATH handle of whatever
// is there now; after a mount it is the root of the topmost mount, which the
// pre-mount handle is not (remount and propagation changes need it).
func openIn(root *os.File, path string) (*os.File, error) {
	f, err := inRoot(root, path)
	if err != nil {
		return nil, fmt.Errorf("open %s in root: %w", path, err)
	}
	return f, nil
}

// mkdirIn creates path and its parents inside root and returns a handle.
//
// A directory that already exists (most mount points: /proc, /dev, /sys,
// and every parent) is only opened (inRoot): pathrs-lite's MkdirAllHandle
// verifies each step it resolves through /proc/thread-self/fd (about
// twenty system calls a directory, counted with strace). So is a directory
// whose parent exists (/dev/pts, /dev/shm and /dev/mqueue in the fresh /dev
// tmpfs): the parent is opened, and the last component made and opened
// relative to it with mkdirat and an O_NOFOLLOW openat, which cannot leave
// the parent. Anything else is MkdirAllHandle's.
func mkdirIn(root *os.File, path string) (*os.File, error) {
	f, err := inRoot(root, path)
	if err == nil {
		if isDir(f) {
			return f, nil
		}
		f.Close()
	} else if errors.Is(err, os.ErrNotExist) {
		if f, ok := mkdirLast(root, path); ok {
			return f, nil
		}
	}
	f, err = pathrs.MkdirAllHandle(root, path, 0o755)
	if err != nil {
		return nil, fmt.Errorf("mkdir %s in root: %w", path, err)
	}
	return f, nil
}

// mkdirLast makes the last component of path in its existing parent
// directory; false if anything is not as expected (MkdirAllHandle then
// does it the long way and reports the error).
func mkdirLast(root *os.File, path string) (*os.File, bool) {
	clean := filepath.Clean("/" + path)
	base := filepath.Base(clean)
	if clean == "/" || base == ".." {
		return nil, false
	}
	parent, err := inRoot(root, filepath.Dir(clean))
	if err != nil {
		return nil, false
	}
	defer parent.Close()
	if !isDir(parent) {
		return nil, false
	}
	f, err := dirAt(parent, base, clean)
	if err != nil {
		return nil, false
	}
	return f, true
}

// dirAt makes the directory base in parent when it is missing and opens
// it; O_NOFOLLOW and O_DIRECTORY refuse anything else found there.
func dirAt(parent *os.File, base, display string) (*os.File, error) {
	if err := unix.Mkdirat(int(parent.Fd()), base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("mkdir %s: %w", display, err)
	}
	return openAt(parent, base, display, unix.O_DIRECTORY)
}

// isDir reports whether the handle f is a directory.
func isDir(f *os.File) bool {
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// fileIn returns a handle of the file at path inside root, creating an empty
// file (and the parent directories) when nothing is there, for bind-mounting
// a file onto it.
func fileIn(root *os.File, path string, mode uint32) (*os.File, error) {
	if f, err := inRoot(root, path); err == nil {
		return f, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open %s in root: %w", path, err)
	}
	parent, err := mkdirIn(root, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	base := filepath.Base(path)
	// O_NOFOLLOW|O_EXCL: a dangling symlink left there is an error, not a
	// way to create a file elsewhere.
	fd, err := unix.Openat(int(parent.Fd()), base,
		unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, mode)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	_ = unix.Close(fd)
	return openAt(parent, base, path, 0)
}

// openAt opens name in dir with O_PATH|O_NOFOLLOW (plus extra flags).
func openAt(dir *os.File, name, display string, extra int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC|extra, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", display, err)
	}
	return os.NewFile(uintptr(fd), display), nil
}

// plainDirIn returns a handle of the directory at path inside root, creating
// it if missing, and refuses a last component that is anything but a
// directory: mounting proc or sysfs through a symlink the image planted is
// how CVE-2019-16884 disabled AppArmor.
func plainDirIn(root *os.File, path string) (*os.File, error) {
	parent, err := mkdirIn(root, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	base := filepath.Base(path)
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return nil, fmt.Errorf("stat %s: %w", path, err)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotPlainDir, path, fileKind(st.Mode))
	}
	return dirAt(parent, base, path)
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	default:
		return "special file"
	}
}

// requireProcfs checks that /proc is procfs before /proc/self/fd is trusted
// as a way to name handles: after the root switch it is the container's own
// mount, which Prepare made itself (CVE-2019-19921 abused a fake /proc).
func requireProcfs() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil {
		return fmt.Errorf("statfs /proc: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return ErrNotProcfs
	}
	return nil
}

// maskPath hides path: a directory under an empty read-only tmpfs, anything
// else under a bind of /dev/null. A missing path is not an error.
func maskPath(root *os.File, path string) error {
	h, err := inRoot(root, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := unix.Mount("tmpfs", procfd(h), "tmpfs", unix.MS_RDONLY, "size=0k,mode=0555"); err != nil {
			return fmt.Errorf("mount tmpfs: %w", err)
		}
		return nil
	}
	if err := unix.Mount("/dev/null", procfd(h), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/null: %w", err)
	}
	return nil
}

// readonlyPath bind-mounts path onto itself and makes that mount read-only,
// keeping its other flags (in a user namespace nosuid/nodev/noexec and the
// atime mode may be locked and must be repeated). A missing path is not an
// error.
func readonlyPath(root *os.File, path string) error {
	h, err := inRoot(root, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	err = unix.Mount(procfd(h), procfd(h), "", unix.MS_BIND|unix.MS_REC, "")
	h.Close()
	if err != nil {
		return fmt.Errorf("bind onto itself: %w", err)
	}
	top, err := inRoot(root, path)
	if err != nil {
		return fmt.Errorf("open %s in root: %w", path, err)
	}
	defer top.Close()
	return remountKeeping(top, unix.MS_RDONLY|unix.MS_REC)
}
