package console

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// resized, when set by a test, is called after each window size copy.
var resized func()

// Proxy connects the foreground terminal to a container's pty master for
// `gtu run -t`: in is copied to master and master to out. If in is a
// terminal it is put in raw mode, so that keys such as ^C reach the
// container's line discipline instead of signalling gtu, and its window size
// is copied to master now and on every SIGWINCH (out's, if only out is a
// terminal). in may be nil; out may not. Proxy reads master through a
// duplicate in non-blocking mode, a flag master shares, so the caller should
// not read master itself meanwhile; it may close it.
//
// restore stops the SIGWINCH forwarding, writes out what the container has
// already written to the pty, stops the output copy and puts in back into
// its previous mode. It returns once nothing more is written to out, so the
// caller can print its own messages after it. Output also stops by itself
// when every slave descriptor is closed (the kernel then reports EIO).
//
// The input copy cannot be interrupted while it waits on in: it ends at the
// first read after restore, when writing to the closed master fails. That
// is harmless for a process about to exit, which is the use it serves; in
// is never switched to non-blocking mode, since that flag would be shared
// with the shell holding the same terminal.
func Proxy(master *os.File, in *os.File, out *os.File) (restore func(), err error) {
	m, err := pollable(master)
	if err != nil {
		return nil, err
	}
	var state *term.State
	var sizeFrom *os.File
	if in != nil && isTerminal(in) {
		err := control(in, func(fd int) (err error) {
			state, err = term.MakeRaw(fd)
			return err
		})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("set %s to raw mode: %w", in.Name(), err)
		}
		sizeFrom = in
	} else if isTerminal(out) {
		sizeFrom = out
	}

	winch := make(chan os.Signal, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if sizeFrom != nil {
		// Subscribe before the first copy, so that a resize in between is
		// not lost.
		signal.Notify(winch, unix.SIGWINCH)
		copySize(sizeFrom, m)
		wg.Go(func() {
			for {
				select {
				case <-winch:
					copySize(sizeFrom, m)
				case <-stop:
					return
				}
			}
		})
	}
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		copyOutput(out, m)
	}()
	if in != nil {
		go func() { _, _ = io.Copy(m, in) }()
	}

	return sync.OnceFunc(func() {
		signal.Stop(winch)
		close(stop)
		wg.Wait()
		// A deadline in the past wakes the output copy, which then drains
		// what is buffered without waiting for more.
		_ = m.SetReadDeadline(time.Now())
		<-outDone
		m.Close()
		if state != nil {
			_ = control(in, func(fd int) error { return term.Restore(fd, state) })
		}
	}), nil
}

// pollable returns a non-blocking duplicate of master served by the
// runtime poller, so that reads can be woken by a deadline. The flag is
// shared with master's open file description, which only the caller and
// this process use.
func pollable(master *os.File) (*os.File, error) {
	var dup int
	err := control(master, func(fd int) (err error) {
		dup, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.SetNonblock(dup, true); err != nil {
			unix.Close(dup)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("duplicate pty master %s: %w", master.Name(), err)
	}
	return os.NewFile(uintptr(dup), master.Name()), nil
}

func isTerminal(f *os.File) bool {
	ok := false
	_ = control(f, func(fd int) error { ok = term.IsTerminal(fd); return nil })
	return ok
}

// copySize copies the window size of from to the pty master m. A failure
// leaves the container with a wrong size, which is not worth stopping for.
func copySize(from, m *os.File) {
	if ws, err := getSize(from); err == nil {
		_ = SetSize(m, ws.Col, ws.Row)
	}
	if resized != nil {
		resized()
	}
}

// copyOutput copies m to out until m fails: EIO once every slave is
// closed, or the deadline set by restore, after which it drains what the
// pty already holds.
func copyOutput(out, m *os.File) {
	buf := make([]byte, 32*1024)
	for {
		n, err := m.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			drain(out, m, buf)
		}
		return
	}
}

// drain copies what m holds now, without waiting. Before a pty master read
// gives up with EAGAIN, the kernel flushes the slave's pending writes into
// the read buffer, so nothing the container wrote before is left behind.
func drain(out, m *os.File, buf []byte) {
	_ = m.SetReadDeadline(time.Time{})
	rc, err := m.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Read(int(fd), buf)
			if n > 0 {
				if _, werr := out.Write(buf[:n]); werr != nil {
					return true
				}
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || n <= 0 {
				return true
			}
		}
	})
}
