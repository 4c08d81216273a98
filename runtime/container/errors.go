package container

import "errors"

var (
	// ErrNotRunning is a verb that needs a live container on a stopped one.
	ErrNotRunning = errors.New("container is not running")
	// ErrWrongStatus is a verb used in a status it does not apply to.
	ErrWrongStatus = errors.New("wrong container status")
	// ErrUnsupported is a request for something gtu does not do yet.
	ErrUnsupported = errors.New("not supported")
)
