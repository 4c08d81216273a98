package console

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (a, b *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b = os.NewFile(uintptr(fds[0]), "sock-a"), os.NewFile(uintptr(fds[1]), "sock-b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// renamed returns a duplicate of f under another name.
func renamed(t *testing.T, f *os.File, name string) *os.File {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := os.NewFile(uintptr(fd), name)
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSendRecvFd(t *testing.T) {
	tests := []struct {
		name     string
		fileName string
		wantName string
	}{
		{"pipe end", "|1", "|1"},
		{"pty-like path", "/dev/ptmx", "/dev/ptmx"},
		{"no name still carries the fd", "", "fd"},
		{"longest name", strings.Repeat("n", maxNameLen), strings.Repeat("n", maxNameLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			named := renamed(t, w, tt.fileName)
			if err := SendFd(a, named); err != nil {
				t.Fatal(err)
			}
			// Only the receiver's copy keeps the write end open now.
			named.Close()
			w.Close()

			got, err := RecvFd(b)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if got.Name() != tt.wantName {
				t.Errorf("received name %.20q (%d bytes), want %.20q (%d bytes)",
					got.Name(), len(got.Name()), tt.wantName, len(tt.wantName))
			}
			flags, err := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("received fd not close-on-exec (flags %#x, %v)", flags, err)
			}
			if _, err := got.Write([]byte("through the received fd")); err != nil {
				t.Fatal(err)
			}
			got.Close()
			data, err := io.ReadAll(r)
			if err != nil || string(data) != "through the received fd" {
				t.Errorf("pipe read %q, %v", data, err)
			}
		})
	}
}

func TestSendFdNameTooLong(t *testing.T) {
	a, _ := socketPair(t)
	if err := SendFd(a, renamed(t, a, strings.Repeat("n", maxNameLen+1))); !errors.Is(err, ErrNameTooLong) {
		t.Errorf("SendFd: %v, want ErrNameTooLong", err)
	}
}

func TestRecvFdErrors(t *testing.T) {
	tests := []struct {
		name string
		send func(t *testing.T, a *os.File)
		want error
	}{
		{"peer closed", func(t *testing.T, a *os.File) { a.Close() }, io.ErrUnexpectedEOF},
		{"payload without fd", func(t *testing.T, a *os.File) {
			if _, err := a.Write([]byte("just a name")); err != nil {
				t.Fatal(err)
			}
		}, ErrNoFd},
		{"two fds", func(t *testing.T, a *os.File) {
			rights := unix.UnixRights(int(os.Stdin.Fd()), int(os.Stdout.Fd()))
			if err := unix.Sendmsg(int(a.Fd()), []byte("x"), rights, nil, 0); err != nil {
				t.Fatal(err)
			}
		}, ErrNoFd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			tt.send(t, a)
			f, err := RecvFd(b)
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("RecvFd: %v, want %v", err, tt.want)
			}
		})
	}
}

// listen binds a unix socket at dir/name through a descriptor of dir, so
// that paths longer than sun_path can be tested too.
func listen(t *testing.T, dir, name string) *os.File {
	t.Helper()
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	l := os.NewFile(uintptr(s), filepath.Join(dir, name))
	t.Cleanup(func() { l.Close() })
	if err := unix.Bind(s, &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(d) + "/" + name}); err != nil {
		t.Fatalf("bind %s: %v", l.Name(), err)
	}
	if err := unix.Listen(s, 1); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConnect(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
	}{
		{"short path", t.TempDir()},
		{"path longer than sun_path", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t, tt.dir, "console.sock")
			c, err := Connect(l.Name())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			nfd, _, err := unix.Accept4(int(l.Fd()), unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			srv := os.NewFile(uintptr(nfd), "accepted")
			defer srv.Close()

			// What a --console-socket consumer does with the connection.
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			if err := SendFd(c, w); err != nil {
				t.Fatal(err)
			}
			got, err := RecvFd(srv)
			if err != nil {
				t.Fatal(err)
			}
			got.Close()
		})
	}
}

func TestConnectErrors(t *testing.T) {
	dir := t.TempDir()
	notSock := filepath.Join(dir, "file")
	if err := os.WriteFile(notSock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "closed.sock"))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "missing.sock"), unix.ENOENT},
		{"not a socket", notSock, unix.ECONNREFUSED},
		{"nobody listening", filepath.Join(dir, "closed.sock"), unix.ECONNREFUSED},
		{"long and missing", filepath.Join(dir, strings.Repeat("m", 120)), unix.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Connect(tt.path)
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Connect(%s): %v, want %v naming the path", tt.path, err, tt.want)
			}
		})
	}
}
