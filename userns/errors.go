package userns

import "errors"

var (
	// ErrNoSession means no session is running.
	ErrNoSession = errors.New("no rootless session is running")
	// errDied means the session's process exited before it was ready.
	errDied = errors.New("the session exited during start-up")
)
