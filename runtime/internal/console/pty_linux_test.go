package console

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPair opens a pty and its peer, skipping where the host has no
// devpts behind /dev/ptmx (some build sandboxes).
func openPair(t *testing.T) (master, peer *os.File, slavePath string) {
	t.Helper()
	master, slavePath, err := OpenPty()
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENODEV) {
		t.Skipf("no usable /dev/ptmx on this host: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	peer, err = OpenPeer(master)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		t.Skipf("kernel lacks TIOCGPTPEER (Linux 4.13): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return master, peer, slavePath
}

// readUntil reads r until the data read contains want. The timeout only
// guards against a hang on failure; it orders nothing.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	type result struct {
		got string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var got []byte
		buf := make([]byte, 256)
		for !bytes.Contains(got, []byte(want)) {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				done <- result{string(got), err}
				return
			}
		}
		done <- result{string(got), nil}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatalf("read %q, then %v; want %q", res.got, res.err, want)
		}
		return res.got
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q within 10s", want)
		return ""
	}
}

func TestOpenPtyPeerRoundTrip(t *testing.T) {
	master, peer, slavePath := openPair(t)

	if !strings.HasPrefix(slavePath, "/dev/pts/") {
		t.Errorf("slave path %q, want /dev/pts/N", slavePath)
	}
	if peer.Name() != slavePath {
		t.Errorf("peer named %q, want %q", peer.Name(), slavePath)
	}
	var byPath, byPeer unix.Stat_t
	if err := unix.Stat(slavePath, &byPath); err != nil {
		t.Fatalf("slave path: %v", err)
	}
	if err := unix.Fstat(int(peer.Fd()), &byPeer); err != nil {
		t.Fatal(err)
	}
	if byPath.Rdev != byPeer.Rdev {
		t.Errorf("%s is device %#x, peer is %#x", slavePath, byPath.Rdev, byPeer.Rdev)
	}
	for _, f := range []*os.File{master, peer} {
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: FD_CLOEXEC not set (flags %#x, %v)", f.Name(), flags, err)
		}
	}

	// Slave to master: the line discipline turns \n into \r\n (ONLCR).
	if _, err := peer.Write([]byte("from slave\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, master, "from slave\r\n")
	// Master to slave: a canonical read returns the whole line.
	if _, err := master.Write([]byte("from master\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, peer, "from master\n")
}

func TestSetSize(t *testing.T) {
	master, peer, _ := openPair(t)
	tests := []struct {
		name       string
		cols, rows uint16
	}{
		{"classic", 80, 24},
		{"wide", 320, 90},
		{"tiny", 1, 1},
		{"largest", 65535, 65535},
		{"unknown", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := SetSize(master, tt.cols, tt.rows); err != nil {
				t.Fatal(err)
			}
			ws, err := unix.IoctlGetWinsize(int(peer.Fd()), unix.TIOCGWINSZ)
			if err != nil {
				t.Fatal(err)
			}
			if ws.Col != tt.cols || ws.Row != tt.rows {
				t.Errorf("peer size %dx%d, want %dx%d", ws.Col, ws.Row, tt.cols, tt.rows)
			}
		})
	}
}

func TestSetSizeNotTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := SetSize(r, 80, 24); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("SetSize on a pipe: %v, want ENOTTY", err)
	}
}
