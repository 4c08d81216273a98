package protocol

import (
	"fmt"
	"unicode/utf8"
)

// After Ready, the init blocks opening exec.fifo for writing until `gtu
// start` opens it for reading. It then writes one StartResult: "0" when it
// goes on to execve the user's process (at once, or once its startContainer
// hooks succeeded), or "!" and the error line when it failed and exits.
const (
	startOK     = '0'
	startFailed = '!'
)

// MaxStartResult is PIPE_BUF: a pipe write of at most this many bytes is
// atomic (pipe(7)), so `gtu start` reads a whole result in one read of a
// buffer this large and never sees half an error.
const MaxStartResult = 4096

// StartResult encodes the init's outcome for exec.fifo: nil is "go".
// A long message is cut (at a character boundary) to fit MaxStartResult.
func StartResult(err error) []byte {
	if err == nil {
		return []byte{startOK}
	}
	msg := err.Error()
	if i := MaxStartResult - 1; len(msg) > i {
		// Cut before the character that straddles the limit.
		for i > 0 && !utf8.RuneStart(msg[i]) {
			i--
		}
		msg = msg[:i]
	}
	return append([]byte{startFailed}, msg...)
}

// ParseStartResult decodes what `gtu start` read from exec.fifo: nil for
// "go", a *ChildError carrying the init's message for a failure. Nothing
// read at all is ErrPeerGone: the init died without a word.
func ParseStartResult(b []byte) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w (nothing written to exec.fifo)", ErrPeerGone)
	case b[0] == startOK && len(b) == 1:
		return nil
	case b[0] == startFailed:
		return &ChildError{Msg: string(b[1:])}
	default:
		return fmt.Errorf("%w: unexpected start result %q on exec.fifo", ErrOrder, b)
	}
}
