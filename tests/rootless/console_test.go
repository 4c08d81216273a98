package rootless

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// receivePty plays the console-socket server's part (as conmon does): accept
// one connection and take the pty master the runtime sends with SCM_RIGHTS.
func receivePty(ln *net.UnixListener) (*os.File, error) {
	conn, err := ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("reading the console message: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("want 1 control message, got %d", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		return nil, fmt.Errorf("want 1 fd, got %d", len(fds))
	}
	// Non-blocking, so the runtime poller owns it and Close ends a read.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// ptyLog collects everything read from a pty master.
type ptyLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

// readFrom copies everything the pty master gives into the log until it
// fails (EIO once the container's side is closed).
func (l *ptyLog) readFrom(t *testing.T, pty *os.File) {
	b := make([]byte, 4096)
	for {
		n, err := pty.Read(b)
		l.mu.Lock()
		l.buf.Write(b[:n])
		l.mu.Unlock()
		if err != nil {
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, unix.EIO) {
				t.Logf("reading the pty: %v", err)
			}
			return
		}
	}
}

func (l *ptyLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// hasLine reports whether a whole line of the terminal output equals want.
func (l *ptyLog) hasLine(want string) bool {
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.TrimSpace(line) == want {
			return true
		}
	}
	return false
}

func TestConsoleSocket(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	sock := filepath.Join(shortTempDir(t, "gtuc"), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type received struct {
		f   *os.File
		err error
	}
	got := make(chan received, 1)
	go func() {
		f, err := receivePty(ln)
		got <- received{f, err}
	}()

	c := e.newContainer(t, "sh")
	c.spec.Process.Terminal = true
	if r := c.create("--console-socket", sock); r.code != 0 {
		t.Fatalf("%v", r)
	}
	var pty *os.File
	select {
	case rcv := <-got:
		if rcv.err != nil {
			t.Fatalf("console socket: %v", rcv.err)
		}
		pty = rcv.f
	case <-time.After(pollTimeout):
		t.Fatalf("create returned but no pty arrived on %s within %v", sock, pollTimeout)
	}
	defer pty.Close()
	var out ptyLog
	go out.readFrom(t, pty)

	c.mustStart()
	// The terminal echoes what we type, so the expected lines are computed
	// by the shell and never appear literally in the input.
	if _, err := pty.WriteString("echo hi-$((40+2)); tty; test -t 0 && echo tty-ok-$((6*7))\n"); err != nil {
		t.Fatal(err)
	}
	poll(t, "the shell's answers on the pty", func() (bool, string) {
		return out.hasLine("hi-42") && out.hasLine("/dev/pts/0") && out.hasLine("tty-ok-42"), fmt.Sprintf("%q", out.String())
	})
	if _, err := pty.WriteString("exit\n"); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("stopped")
	e.mustRuntime("delete", c.id)
	c.assertGone()
}
