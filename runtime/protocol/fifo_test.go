package protocol

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStartResult(t *testing.T) {
	long := strings.Repeat("x", MaxStartResult-2) + "é" // the é straddles the limit
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"ok", nil, "0"},
		{"error", errors.New("hooks.startContainer[0] /hook: exit status 4: boom"), "!hooks.startContainer[0] /hook: exit status 4: boom"},
		{"empty message", errors.New(""), "!"},
		{"cut to PIPE_BUF", errors.New(long), "!" + strings.Repeat("x", MaxStartResult-2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := StartResult(tt.err)
			if string(b) != tt.want {
				t.Fatalf("StartResult = %q (%d bytes), want %q", b, len(b), tt.want)
			}
			if len(b) > MaxStartResult || !utf8.Valid(b) {
				t.Fatalf("%d bytes, valid UTF-8 %v", len(b), utf8.Valid(b))
			}
			// What the init writes, gtu start reads back.
			err := ParseStartResult(b)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("ParseStartResult(%q) = %v", b, err)
				}
				return
			}
			var ce *ChildError
			if !errors.As(err, &ce) || ce.Msg != tt.want[1:] {
				t.Fatalf("ParseStartResult(%q) = %v, want ChildError %q", b, err, tt.want[1:])
			}
		})
	}
}

func TestParseStartResultBad(t *testing.T) {
	if err := ParseStartResult(nil); !errors.Is(err, ErrPeerGone) {
		t.Errorf("empty: %v, want ErrPeerGone", err)
	}
	for _, b := range []string{"1", "00", "x!"} {
		if err := ParseStartResult([]byte(b)); !errors.Is(err, ErrOrder) {
			t.Errorf("%q: %v, want ErrOrder", b, err)
		}
	}
}
