// Package protocol is the one conversation between gtu (the parent: create or
// run) and the init stage it re-executes as the container's first process.
// Every message that crosses the sync socket is a Message of a Kind below,
// and both ends check the order of steps with a Sequence.
//
//	parent (gtu create / run)                 child (gtu init, in new namespaces)
//	-------------------------                 ----------------------------------
//	clone the child with the namespace
//	flags; Go writes uid/gid maps before
//	the child runs any of our code
//	put the child's pid into its cgroup
//	        ── Bootstrap{Plan} ──────────▶    unshare cgroup / time namespaces,
//	                                          mounts, /dev, console (pty master
//	                                          sent to --console-socket), hostname,
//	                                          sysctls, root switch, masked and
//	                                          read-only paths, rlimits, user
//	                                          lookup, executable lookup
//	        ◀──────────── Ready{} ────────    (or Error{Error: "..."} and exit 1)
//	write state.json and the pid file,
//	close the socket and exit (create)        block opening exec.fifo for writing
//	                                          until `gtu start` opens it to read,
//	                                          then drop privileges (groups, uid,
//	                                          capabilities, no_new_privs) and
//	                                          execve the user's process
//
// Errors in the child before Ready travel back as an Error message, so the
// user sees one line from the gtu command they ran. After Ready the parent
// may be gone; the child can only report on its stderr.
//
// The socket carries a stream of JSON objects, one per message.
package protocol

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/gophertainer/gtu/runtime/spec"
)

// Kind names a message type.
type Kind string

// The message kinds, in protocol order.
const (
	KindBootstrap Kind = "bootstrap" // parent -> child: the plan
	KindReady     Kind = "ready"     // child -> parent: set up, waiting for start
	KindError     Kind = "error"     // child -> parent: set-up failed
)

// Message is one step of the handshake.
type Message struct {
	Kind Kind `json:"kind"`
	// Plan is set on Bootstrap.
	Plan *spec.Plan `json:"plan,omitempty"`
	// LogLevel is set on Bootstrap: the slog level the child logs at.
	LogLevel int `json:"logLevel,omitempty"`
	// Error is set on Error: one line, naming what failed.
	Error string `json:"error,omitempty"`
}

// Role says which end of the socket a Conn is.
type Role int

// The two ends.
const (
	Parent Role = iota
	Child
)

func (r Role) String() string {
	if r == Parent {
		return "parent"
	}
	return "child"
}

// Sequence checks that messages come in protocol order. It does no I/O, so
// the order rules are tested apart from any socket.
type Sequence struct {
	step int // 0: nothing yet, 1: bootstrap seen, 2: finished
}

// sender is who may send each kind.
var sender = map[Kind]Role{
	KindBootstrap: Parent,
	KindReady:     Child,
	KindError:     Child,
}

// Next accepts message kind k sent by from, or says why it is out of order.
func (s *Sequence) Next(from Role, k Kind) error {
	want, ok := sender[k]
	if !ok {
		return fmt.Errorf("%w: unknown message kind %q", ErrOrder, k)
	}
	if want != from {
		return fmt.Errorf("%w: %s may not send %q", ErrOrder, from, k)
	}
	switch {
	case s.step == 0 && k == KindBootstrap:
		s.step = 1
	case s.step == 0 && k == KindError:
		// The child may fail before it has read anything (e.g. bad fds).
		s.step = 2
	case s.step == 1 && (k == KindReady || k == KindError):
		s.step = 2
	default:
		return fmt.Errorf("%w: %q after step %d", ErrOrder, k, s.step)
	}
	return nil
}

// Done reports whether the handshake has finished.
func (s *Sequence) Done() bool { return s.step == 2 }

// Conn is one end of the sync socket.
type Conn struct {
	role Role
	seq  Sequence
	enc  *json.Encoder
	dec  *json.Decoder
}

// NewConn wraps rw (the sync socket) for role.
func NewConn(rw io.ReadWriter, role Role) *Conn {
	return &Conn{role: role, enc: json.NewEncoder(rw), dec: json.NewDecoder(rw)}
}

// Send writes m after checking it is this end's turn to send it.
func (c *Conn) Send(m *Message) error {
	if err := c.seq.Next(c.role, m.Kind); err != nil {
		return err
	}
	if err := c.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s: %w", m.Kind, err)
	}
	return nil
}

// Recv reads the next message and checks its order. An Error message is
// returned as a *ChildError. EOF before the handshake finished means the
// other end died: ErrPeerGone.
func (c *Conn) Recv() (*Message, error) {
	var m Message
	if err := c.dec.Decode(&m); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w (no message from the %s)", ErrPeerGone, other(c.role))
		}
		return nil, fmt.Errorf("receive from the %s: %w", other(c.role), err)
	}
	if err := c.seq.Next(other(c.role), m.Kind); err != nil {
		return nil, err
	}
	if m.Kind == KindError {
		return &m, &ChildError{Msg: m.Error}
	}
	return &m, nil
}

func other(r Role) Role {
	if r == Parent {
		return Child
	}
	return Parent
}

// ChildError is a failure the init stage reported.
type ChildError struct{ Msg string }

func (e *ChildError) Error() string { return e.Msg }
