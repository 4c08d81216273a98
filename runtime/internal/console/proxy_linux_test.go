package console

import (
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func canonical(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ICANON != 0
}

func waitSize(t *testing.T, ticks <-chan struct{}, f *os.File, cols, rows uint16) {
	t.Helper()
	for {
		ws, err := getSize(f)
		if err != nil {
			t.Fatal(err)
		}
		if ws.Col == cols && ws.Row == rows {
			return
		}
		select {
		case <-ticks:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s is %dx%d, want %dx%d", f.Name(), ws.Col, ws.Row, cols, rows)
		}
	}
}

// TestProxyTerminal stands a second pty in for the user's terminal: its
// master is the keyboard and screen, its slave is gtu's stdin and stdout.
func TestProxyTerminal(t *testing.T) {
	user, tty, _ := openPair(t)
	master, ctr, _ := openPair(t)
	if err := SetSize(user, 100, 30); err != nil {
		t.Fatal(err)
	}
	ticks := make(chan struct{}, 16)
	resized = func() { ticks <- struct{}{} }
	t.Cleanup(func() { resized = nil })

	restore, err := Proxy(master, tty, tty)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()

	if canonical(t, tty) {
		t.Error("terminal still in canonical mode after Proxy")
	}
	waitSize(t, ticks, ctr, 100, 30)

	if _, err := user.Write([]byte("typed\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, ctr, "typed\n")

	if _, err := ctr.Write([]byte("printed\n")); err != nil {
		t.Fatal(err)
	}
	// ONLCR of the container's pty; the raw user terminal adds nothing.
	readUntil(t, user, "printed\r\n")

	if err := SetSize(user, 132, 43); err != nil {
		t.Fatal(err)
	}
	// The kernel signals only the terminal's foreground process group,
	// which this test is not; signal ourselves the same way.
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	waitSize(t, ticks, ctr, 132, 43)

	// Written before restore, still buffered in the pty: restore must not
	// lose it, although the container keeps its slave open.
	if _, err := ctr.Write([]byte("last words\n")); err != nil {
		t.Fatal(err)
	}
	restore()
	readUntil(t, user, "last words\r\n")
	if !canonical(t, tty) {
		t.Error("terminal not restored to canonical mode")
	}
}

// TestProxyPipes covers `run -t` with redirected stdio: nothing is made
// raw and no size is copied, and output ends when the container's last
// slave descriptor closes.
func TestProxyPipes(t *testing.T) {
	master, ctr, _ := openPair(t)
	if err := SetSize(master, 7, 3); err != nil {
		t.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer inW.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	defer outW.Close()

	restore, err := Proxy(master, inR, outW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inW.Write([]byte("stdin line\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, ctr, "stdin line\n")
	if _, err := ctr.Write([]byte("bye\n")); err != nil {
		t.Fatal(err)
	}
	ctr.Close() // the container exits
	restore()
	outW.Close()
	readUntil(t, outR, "bye\r\n")
	if ws, err := getSize(master); err != nil || ws.Col != 7 || ws.Row != 3 {
		t.Errorf("size changed to %+v (%v) without a terminal to copy from", ws, err)
	}
}
