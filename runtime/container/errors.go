package container

import (
	"errors"
	"fmt"
)

var (
	// ErrNotRunning is a verb that needs a live container on a stopped one.
	ErrNotRunning = errors.New("container is not running")
	// ErrWrongStatus is a verb used in a status it does not apply to.
	ErrWrongStatus = errors.New("wrong container status")
	// ErrUnsupported is a request for something gtu does not do yet.
	ErrUnsupported = errors.New("not supported")
	// ErrNoInitStage is gtu without gtu-init (cmd/gtu-init) next to it.
	ErrNoInitStage = errors.New("gtu-init (the containers' init stage, built by scripts/build.sh) is not installed next to gtu")
)

// statusError is a verb refused in the container's current status; it reads
// as one plain sentence and matches ErrWrongStatus.
type statusError struct{ msg string }

func (e statusError) Error() string        { return e.msg }
func (e statusError) Is(target error) bool { return target == ErrWrongStatus }

func wrongStatus(format string, args ...any) error {
	return statusError{msg: fmt.Sprintf(format, args...)}
}
