package slirp

import "errors"

var (
	// ErrUnknownDriver: Options.Driver names no driver this package has.
	ErrUnknownDriver = errors.New("unknown network driver")
	// ErrNoDriver: neither slirp4netns nor pasta is installed.
	ErrNoDriver = errors.New("no rootless network driver found (install slirp4netns or passt)")
	// ErrBadPort: a port forward spec or Port value is invalid.
	ErrBadPort = errors.New("invalid port forward")
)
