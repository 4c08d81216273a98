package hooks

import (
	"errors"
	"strings"
)

// ErrTimeout is a hook that ran past its timeout and was killed.
var ErrTimeout = errors.New("timed out")

// Error is a hook that could not start, failed, or timed out. Its message is
// one line naming the hook, e.g.
//
//	hooks.createRuntime[0] /usr/bin/x: exit status 3: no such network
type Error struct {
	// Hook is the hook's config.json field, e.g. "hooks.poststart[1]";
	// empty when the hook was run on its own (Run).
	Hook string
	Path string
	// Err is the cause: an *exec.ExitError, ErrTimeout, or why it could not
	// be started.
	Err error
	// Stderr is the end of what the hook wrote to its stderr, on one line.
	Stderr string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Hook != "" {
		b.WriteString(e.Hook)
		b.WriteByte(' ')
	}
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Stderr != "" {
		b.WriteString(": ")
		b.WriteString(e.Stderr)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
