package state

import "errors"

// Sentinel errors; callers test them with errors.Is. The messages are worded so
// that the wrapping error reads as one line, e.g. `container "web" does not exist`.
var (
	// ErrExists: a container with this id already has a state directory.
	ErrExists = errors.New("already exists")
	// ErrNotExist: the container's directory or its state.json is missing.
	ErrNotExist = errors.New("does not exist")
	// ErrInvalidID: the id is empty, too long, "." or "..", or has a
	// character outside [A-Za-z0-9_+.-].
	ErrInvalidID = errors.New("invalid container id")
)
