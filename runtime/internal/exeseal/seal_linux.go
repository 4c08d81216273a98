package exeseal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// SelfExe names the running binary.
const SelfExe = "/proc/self/exe"

// OpenPath returns a close-on-exec descriptor of an image of the executable
// at path (absolute, or SelfExe) that cannot be written through, or
// (nil, nil) when no protection is needed (see the package comment). Hand
// the result to Apply; close it once cmd.Start has returned, since by then
// the child has executed it.
func OpenPath(path string) (*os.File, error) {
	if !needed(path) {
		return nil, nil
	}
	f, oerr := openOverlay(path)
	if oerr == nil {
		return f, nil
	}
	// Not a loss of protection, only of speed: debug level, no warning.
	slog.Debug("exeseal: overlayfs unavailable, copying the binary into a sealed memfd", "err", oerr)
	f, merr := openMemfd(path)
	if merr == nil {
		return f, nil
	}
	return nil, fmt.Errorf("protect %s from the container (CVE-2019-5736): %w", path, errors.Join(oerr, merr))
}

// Apply makes cmd execute exe, or path when exe is nil (SelfExe for the
// running binary).
//
// exe goes into cmd.ExtraFiles and cmd.Path names it by the number it gets
// in the child, 3+index. Naming the parent's descriptor number instead
// would be wrong: the child reshuffles descriptors (dup2 of ExtraFiles onto
// 3, 4, ...) before execve resolves the path, and may overwrite that number
// with another file. Call Apply after the last change to cmd.ExtraFiles
// that replaces the slice (appending later is fine). The init stage
// inherits that descriptor without close-on-exec; the image is read-only,
// but the init stage must still close it, like every descriptor it was not
// told about, before executing the user process.
// cmd.Args is left alone, so argv[0] stays whatever the caller chose.
func Apply(cmd *exec.Cmd, exe *os.File, path string) {
	// exec.Command records a failed $PATH lookup of its name in cmd.Err;
	// that name is no longer what runs.
	var lookErr *exec.Error
	if errors.As(cmd.Err, &lookErr) {
		cmd.Err = nil
	}
	if exe == nil {
		cmd.Path = path
		return
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, exe)
	cmd.Path = "/proc/self/fd/" + strconv.Itoa(2+len(cmd.ExtraFiles))
}

// needed reports whether a container started by this process could write
// the binary at path through /proc/PID/exe. Any doubt answers yes.
func needed(path string) bool {
	if unix.Geteuid() == 0 {
		m, err := os.ReadFile("/proc/self/uid_map")
		if err != nil || initialUserNS(m) {
			// Real root: the container may be real root too.
			return true
		}
	}
	// Otherwise the container holds at most our credentials, so it can
	// write the binary exactly when we can: one faccessat answers it.
	err := unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK, unix.AT_EACCESS)
	switch {
	case err == nil:
		return true
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EROFS), errors.Is(err, unix.EPERM):
		return false
	default:
		return true
	}
}

// reopenPath returns an O_PATH descriptor of the file open as f. A path
// descriptor can be executed through /proc/self/fd but carries no access
// mode, so no writable open description of the image stays around.
func reopenPath(f *os.File, name string) (*os.File, error) {
	p, err := unix.Open("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s as O_PATH: %w", name, err)
	}
	return os.NewFile(uintptr(p), name), nil
}
