package protocol

import "errors"

var (
	// ErrOrder is a message that breaks the protocol's order.
	ErrOrder = errors.New("protocol: message out of order")
	// ErrPeerGone is end of stream before the handshake finished: the other
	// process exited or crashed.
	ErrPeerGone = errors.New("protocol: the other end closed the sync socket")
)
