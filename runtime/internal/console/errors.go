package console

import "errors"

var (
	// ErrNoFd means a message on a console socket carried no descriptor,
	// or more than the one every peer (runc, conmon, containerd) sends.
	ErrNoFd = errors.New("message does not carry exactly one file descriptor")
	// ErrNameTooLong means a file name does not fit the 4096-byte payload
	// buffer that receivers of console sockets read into.
	ErrNameTooLong = errors.New("file name longer than the 4096 bytes a console socket peer reads")
)
