package hooks

import (
	"strings"
	"unicode/utf8"
)

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	// Trim only when twice over, so that a chatty hook costs amortised
	// O(1) per byte.
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.truncated = true
	}
	return len(p), nil
}

// String returns the kept text as one line: the last max bytes, starting at
// a whole UTF-8 character, lines trimmed and joined with "; ", prefixed with
// "..." when something was cut.
func (t *tailBuffer) String() string {
	b, cut := t.buf, t.truncated
	if len(b) > t.max {
		b, cut = b[len(b)-t.max:], true
	}
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	s := strings.Join(lines, "; ")
	if cut && s != "" {
		s = "..." + s
	}
	return s
}
