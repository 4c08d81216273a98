package hooks

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"blank lines only", 8, []string{"\n \n\t\n"}, ""},
		{"one line", 64, []string{"boom\n"}, "boom"},
		{"lines joined", 64, []string{"a\n\n  b  \n", "c"}, "a; b; c"},
		{"exactly max", 4, []string{"abcd"}, "abcd"},
		{"cut in String", 4, []string{"abcdef"}, "...cdef"},
		{"cut in Write", 4, []string{"0123456789", "xy"}, "...89xy"},
		{"many writes", 3, []string{"a", "b", "c", "d", "e", "f", "g", "h"}, "...fgh"},
		// "é" is two bytes; a cut through it must not leave half a rune.
		{"utf-8 boundary", 3, []string{"aéé"}, "...é"},
		{"cut leaves only blanks", 3, []string{"error\n  \n"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &tailBuffer{max: tt.max}
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if len(b.buf) > 2*tt.max {
				t.Errorf("kept %d bytes, more than twice max %d", len(b.buf), tt.max)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	exit3 := exec.Command("sh", "-c", "exit 3").Run()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"run alone", &Error{Path: "/x", Err: errors.New("boom")}, "/x: boom"},
		{"named", &Error{Hook: "hooks.createRuntime[0]", Path: "/usr/bin/x", Err: exit3, Stderr: "no net"},
			"hooks.createRuntime[0] /usr/bin/x: exit status 3: no net"},
		{"no stderr", &Error{Hook: "hooks.poststop[2]", Path: "/y", Err: ErrTimeout}, "hooks.poststop[2] /y: timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, tt.err.Err) || strings.Contains(tt.err.Error(), "\n") {
				t.Error("bad unwrap or multi-line message")
			}
		})
	}
}

func TestHookEnv(t *testing.T) {
	if got := hookEnv(nil); got == nil || len(got) != 0 {
		t.Errorf("hookEnv(nil) = %#v, want an empty non-nil slice", got)
	}
	if got := hookEnv([]string{"A=1"}); len(got) != 1 || got[0] != "A=1" {
		t.Errorf("hookEnv = %v", got)
	}
}
