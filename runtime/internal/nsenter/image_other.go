//go:build !amd64

package nsenter

// image is empty: c/nsenter.c has system-call code for amd64 only so far, and
// Open reports ErrUnsupported.
var image []byte
