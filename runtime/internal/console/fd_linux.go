package console

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxNameLen is the payload buffer of runc's RecvFile and the limit its
// SendFile enforces; conmon and containerd read into buffers at least as
// large. A longer name would arrive cut, and the rest would be read as the
// next message.
const maxNameLen = 4096

// SendFd sends f over the unix socket sock as SCM_RIGHTS, with f's name as
// the payload, which is what --console-socket peers expect: they read one
// descriptor and treat the payload as its name.
func SendFd(sock *os.File, f *os.File) error {
	name := f.Name()
	// On a stream socket the descriptor travels with the first payload
	// byte; a message without payload is dropped with its descriptor.
	if name == "" {
		name = "fd"
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("send %.64s... over %s: %w", name, sock.Name(), ErrNameTooLong)
	}
	return SendFdWith(sock, f, []byte(name))
}

// SendFdWith sends f over sock with payload as the message (the seccomp
// listener protocol sends a JSON document with the notify descriptor).
func SendFdWith(sock *os.File, f *os.File, payload []byte) error {
	name := f.Name()
	if len(payload) == 0 {
		return fmt.Errorf("send %s over %s: empty payload", name, sock.Name())
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return fmt.Errorf("send %s over %s: %w", name, sock.Name(), err)
	}
	err = control(f, func(fd int) error {
		rights := unix.UnixRights(fd)
		var serr error
		werr := rc.Write(func(s uintptr) bool {
			for len(payload) > 0 {
				n, err := retry(func() (int, error) { return unix.SendmsgN(int(s), payload, rights, nil, 0) })
				if err != nil {
					serr = err
					// Only a non-blocking socket says EAGAIN; the poller
					// calls again once it is writable.
					return !errors.Is(err, unix.EAGAIN)
				}
				// The descriptor went with the first bytes; a short send
				// leaves the rest of the name to send plainly.
				payload, rights = payload[n:], nil
			}
			serr = nil
			return true
		})
		return errors.Join(werr, serr)
	})
	if err != nil {
		return fmt.Errorf("send %s over %s: %w", name, sock.Name(), err)
	}
	return nil
}

// RecvFd receives one descriptor sent by SendFd or any peer following the
// same convention, and names the file after the payload. The descriptor is
// close-on-exec.
func RecvFd(sock *os.File) (*os.File, error) {
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("receive fd over %s: %w", sock.Name(), err)
	}
	name := make([]byte, maxNameLen)
	// Room for a few descriptors, so that a peer sending too many is
	// detected and its descriptors closed instead of cut off silently.
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn, flags int
	var rerr error
	err = rc.Read(func(s uintptr) bool {
		rerr = nil
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(s), name, oob, unix.MSG_CMSG_CLOEXEC)
			if !errors.Is(rerr, unix.EINTR) {
				break
			}
		}
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err = errors.Join(err, rerr); err != nil {
		return nil, fmt.Errorf("receive fd over %s: %w", sock.Name(), err)
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive fd over %s: %w", sock.Name(), err)
	}
	if n == 0 && len(fds) == 0 {
		return nil, fmt.Errorf("receive fd over %s: %w", sock.Name(), io.ErrUnexpectedEOF)
	}
	if len(fds) != 1 || flags&unix.MSG_CTRUNC != 0 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive fd over %s: got %d: %w", sock.Name(), len(fds), ErrNoFd)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("parse SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// Connect connects a stream socket to the unix socket at path, such as
// --console-socket, and returns it close-on-exec.
func Connect(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: socket: %w", path, err)
	}
	addr := path
	// sun_path holds 108 bytes with its NUL; bundle and state paths can
	// be longer. An O_PATH descriptor of the socket file reaches it through
	// its /proc/self/fd entry, which connect follows like any symlink.
	if len(path) >= len(unix.RawSockaddrUnix{}.Path) {
		p, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("connect to %s: %w", path, err)
		}
		defer unix.Close(p)
		addr = "/proc/self/fd/" + strconv.Itoa(p)
	}
	_, err = retry(func() (int, error) { return 0, unix.Connect(fd, &unix.SockaddrUnix{Name: addr}) })
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// retry repeats a system call interrupted by a signal; the Go runtime's
// own signals (preemption, SIGCHLD of the container) make that common.
func retry(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
