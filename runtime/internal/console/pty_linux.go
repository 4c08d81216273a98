// Package console opens pseudo-terminals for containers, passes their
// descriptors over unix sockets (--console-socket) and proxies a foreground
// terminal to a container's pty.
package console

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

const ptmx = "/dev/ptmx"

// OpenPty opens a new pty pair on the devpts instance behind /dev/ptmx of
// the current mount namespace and returns the close-on-exec master and the
// slave's path. In the init stage that is the container's devpts, so the
// slave is a device of the container: pass the master to the console
// socket and give the slave to the container process (OpenPeer).
func OpenPty() (master *os.File, slavePath string, err error) {
	// O_NOCTTY: the init stage must not make the master its controlling
	// terminal; the container's process takes the slave as its own.
	fd, err := unix.Open(ptmx, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", ptmx, err)
	}
	// A new pty is locked until unlockpt, so that nobody opens the slave
	// before its owner has set it up; TIOCGPTPEER does not need the
	// unlock, opening by path does.
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("unlock pty %s: %w", ptmx, err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("get pty number of %s: %w", ptmx, err)
	}
	return os.NewFile(uintptr(fd), ptmx), ptsPath(n), nil
}

func ptsPath(n uint32) string { return "/dev/pts/" + strconv.FormatUint(uint64(n), 10) }

// OpenPeer opens the slave of master with TIOCGPTPEER (Linux 4.13). Unlike
// opening /dev/pts/N by path it cannot be redirected: a container that
// controls its /dev (a symlink in place of /dev/pts/N, another devpts
// mounted over /dev/pts) could otherwise hand the init stage a file of its
// choosing. The ioctl was added to the kernel for container runtimes for
// this reason. The result is O_RDWR, O_NOCTTY and close-on-exec.
func OpenPeer(master *os.File) (*os.File, error) {
	var peer, n uintptr
	err := control(master, func(fd int) error {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER,
			unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
		if errno != 0 {
			return errno
		}
		peer = r
		// The number only names the file; failing to read it is harmless.
		if num, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN); err == nil {
			n = uintptr(num)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open peer of pty %s: %w", master.Name(), err)
	}
	return os.NewFile(peer, ptsPath(uint32(n))), nil
}

// SetSize sets the window size of the terminal f (either end of a pty).
// The kernel sends SIGWINCH to the terminal's foreground process group when
// the size changes.
func SetSize(f *os.File, cols, rows uint16) error {
	ws := &unix.Winsize{Col: cols, Row: rows}
	err := control(f, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
	if err != nil {
		return fmt.Errorf("set window size of %s to %dx%d: %w", f.Name(), cols, rows, err)
	}
	return nil
}

func getSize(f *os.File) (*unix.Winsize, error) {
	var ws *unix.Winsize
	err := control(f, func(fd int) (err error) {
		ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get window size of %s: %w", f.Name(), err)
	}
	return ws, nil
}

// control runs fn on f's descriptor. Unlike f.Fd() it leaves the file's
// blocking mode alone: Fd() switches a file the runtime poller serves back
// to blocking for good.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
