package container

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseSignal accepts a signal as kill(1) does: a number, a name with or
// without the SIG prefix, in any case ("TERM", "sigkill", "9").
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d: out of range 1-64", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	// Real-time signals: SIGRTMIN+N and SIGRTMAX-N, as runc accepts.
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN"); ok {
		return rtSignal(s, 34, rest)
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMAX"); ok {
		return rtSignal(s, 64, rest)
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func rtSignal(orig string, base int, rest string) (unix.Signal, error) {
	off := 0
	if rest != "" {
		n, err := strconv.Atoi(rest)
		if err != nil {
			return 0, fmt.Errorf("unknown signal %q", orig)
		}
		off = n
	}
	n := base + off
	if n < 34 || n > 64 {
		return 0, fmt.Errorf("signal %q: out of range", orig)
	}
	return unix.Signal(n), nil
}
