package container

import (
	"github.com/gophertainer/gtu/runtime/spec"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"TERM", unix.SIGTERM, true},
		{"SIGTERM", unix.SIGTERM, true},
		{"kill", unix.SIGKILL, true},
		{"9", unix.SIGKILL, true},
		{"15", unix.SIGTERM, true},
		{"sigusr1", unix.SIGUSR1, true},
		{"RTMIN", 34, true},
		{"SIGRTMIN+3", 37, true},
		{"RTMAX-1", 63, true},
		{"RTMAX+1", 0, false},
		{"RTMINx", 0, false},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"FOO", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestForwarded(t *testing.T) {
	for _, s := range []unix.Signal{unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE} {
		if forwarded(s) {
			t.Errorf("%v must not be forwarded", s)
		}
	}
	for _, s := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGQUIT} {
		if !forwarded(s) {
			t.Errorf("%v must be forwarded", s)
		}
	}
}

func TestHostID(t *testing.T) {
	maps := []spec.IDMap{{ContainerID: 0, HostID: 100000, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 1000}}
	for _, tt := range []struct{ in, want uint32 }{{0, 100000}, {1, 200000}, {999, 200998}, {1000, 200999}, {1001, 1001}} {
		if got := hostID(maps, tt.in); got != tt.want {
			t.Errorf("hostID(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if u, g := rootIDs(&spec.Plan{}); u != 0 || g != 0 {
		t.Errorf("rootIDs without a user namespace = %d,%d", u, g)
	}
}
