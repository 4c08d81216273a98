// Package protocol is the one conversation between gtu (the parent: create or
// run) and the init stage (gtu-init) it runs as the container's first process.
// Every message that crosses the sync socket is a Message of a Kind below,
// and both ends check the order of steps with a Sequence. After the socket
// closes, exec.fifo carries one last result from the init to `gtu start`.
//
//	parent (gtu create / run)                 child (gtu init, in new namespaces)
//	-------------------------                 ----------------------------------
//	clone the child with the namespace
//	flags; Go writes uid/gid maps before
//	the child runs any of our code
//	put the child's pid into its cgroup
//	        ── Bootstrap{Plan, State} ───▶    unshare cgroup / time namespaces,
//	                                          mounts and /dev under the rootfs
//	   only when the plan has prestart or createRuntime hooks:
//	        ◀──────── CreateRuntime{} ────    (and wait)
//	run prestart, then createRuntime
//	hooks (status creating); if one
//	fails, kill the child, remove all
//	        ── Resume{} ─────────────────▶
//	                                          createContainer hooks (status
//	                                          creating; the host's paths),
//	                                          root switch, console (pty master
//	                                          sent to --console-socket), hostname,
//	                                          sysctls, masked and read-only
//	                                          paths, rlimits, user lookup,
//	                                          executable lookup
//	        ◀──────────── Ready{} ────────    (or Error{Error: "..."} and exit 1)
//	write state.json (keeping the
//	poststart and poststop hooks) and
//	the pid file, close the socket and
//	exit (create)                             block opening exec.fifo for writing
//
//	gtu start (run goes on here)
//	open exec.fifo for reading ─────────▶     the open returns
//	                                          drop privileges (groups, uid,
//	                                          capabilities, no_new_privs,
//	                                          seccomp without no_new_privs),
//	                                          chdir, startContainer hooks
//	                                          (status created, the container's
//	                                          paths and user)
//	        ◀──── exec.fifo: "0" ─────────    seccomp (with no_new_privs), then
//	                                          execve the user's process
//	        ◀──── exec.fifo: "!" error ───    or, on any failure, exit 1
//	remove exec.fifo, run poststart
//	hooks (status running); if one
//	fails, kill the container
//
//	gtu delete (or the end of gtu run): kill, remove the cgroup and state,
//	then poststop hooks (status stopped); their failures are only warnings.
//
// Errors in the child before Ready travel back as an Error message, so the
// user sees one line from the gtu command they ran. After Ready the parent
// may be gone; the child reports to `gtu start` through exec.fifo instead
// (StartResult). What fails after "0" (loading a seccomp filter with
// no_new_privs, or the execve) is left for the child's stderr.
//
// CreateRuntime and Resume are sent only for a plan with such hooks, and
// Bootstrap carries State only when the init runs hooks itself: a container
// without hooks pays for none of them. "0" comes after the privilege drop,
// as in runc: when start returns, the process is about to run, so a signal
// sent right away reaches it rather than gtu.
//
// The socket carries one record per message: a length, a fingerprint of
// the message layout, and the fields in a positional binary encoding (see
// codec.go for why not JSON).
package protocol

import (
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/runtime/spec"
)

// Kind names a message type.
type Kind string

// The message kinds, in protocol order.
const (
	KindBootstrap Kind = "bootstrap" // parent -> child: the plan
	// KindCreateRuntime is child -> parent: the namespaces and mounts
	// exist, the root switch has not happened; run the prestart and
	// createRuntime hooks and answer Resume.
	KindCreateRuntime Kind = "createRuntime"
	KindResume        Kind = "resume" // parent -> child: the hooks ran, go on
	KindReady         Kind = "ready"  // child -> parent: set up, waiting for start
	KindError         Kind = "error"  // child -> parent: set-up failed
)

// Message is one step of the handshake.
type Message struct {
	Kind Kind `json:"kind"`
	// Plan is set on Bootstrap.
	Plan *spec.Plan `json:"plan,omitempty"`
	// LogLevel is set on Bootstrap: the slog level the child logs at.
	LogLevel int `json:"logLevel,omitempty"`
	// State is set on Bootstrap when the init runs hooks itself
	// (createContainer, startContainer): the container's OCI state as the
	// hooks must see it, with the init's pid on the host, which the init
	// cannot learn from inside its pid namespace.
	State *specs.State `json:"state,omitempty"`
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
	step step
}

// step is how far the handshake has come.
type step int

const (
	stepNew     step = iota // nothing yet
	stepSetup               // bootstrap seen: the child sets up
	stepHooks               // the parent runs createRuntime hooks
	stepResumed             // the child finishes its set-up
	stepDone                // ready or error: the handshake is over
)

// transitions are the only allowed moves. The child may fail before it
// has read anything (e.g. bad fds), but not while the parent runs hooks:
// it is blocked waiting for Resume, and a failing hook ends it by SIGKILL.
var transitions = map[step]map[Kind]step{
	stepNew:     {KindBootstrap: stepSetup, KindError: stepDone},
	stepSetup:   {KindCreateRuntime: stepHooks, KindReady: stepDone, KindError: stepDone},
	stepHooks:   {KindResume: stepResumed},
	stepResumed: {KindReady: stepDone, KindError: stepDone},
}

// sender is who may send each kind.
var sender = map[Kind]Role{
	KindBootstrap:     Parent,
	KindCreateRuntime: Child,
	KindResume:        Parent,
	KindReady:         Child,
	KindError:         Child,
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
	next, ok := transitions[s.step][k]
	if !ok {
		return fmt.Errorf("%w: %q after step %d", ErrOrder, k, s.step)
	}
	s.step = next
	return nil
}

// Done reports whether the handshake has finished.
func (s *Sequence) Done() bool { return s.step == stepDone }

// Conn is one end of the sync socket.
type Conn struct {
	role Role
	seq  Sequence
	rw   io.ReadWriter
}

// NewConn wraps rw (the sync socket) for role.
func NewConn(rw io.ReadWriter, role Role) *Conn {
	return &Conn{role: role, rw: rw}
}

// Send writes m after checking it is this end's turn to send it.
func (c *Conn) Send(m *Message) error {
	if err := c.seq.Next(c.role, m.Kind); err != nil {
		return err
	}
	if err := writeRecord(c.rw, m); err != nil {
		return fmt.Errorf("send %s: %w", m.Kind, err)
	}
	return nil
}

// Recv reads the next message and checks its order. An Error message is
// returned as a *ChildError. EOF before the handshake finished means the
// other end died: ErrPeerGone.
func (c *Conn) Recv() (*Message, error) {
	var m Message
	if err := readRecord(c.rw, &m); err != nil {
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
