package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/hooks"
	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/spec"
)

// The hooks gtu runs itself, in the runtime namespace. (createContainer and
// startContainer run in the init stage; package protocol draws the whole
// sequence.)

// setHookState records the OCI state the container's hooks see, and
// returns it when the init runs hooks too (Bootstrap.State); nil without.
func (l *launched) setHookState(s *specs.Spec, id string, pid int) *specs.State {
	if l.plan.Hooks == nil {
		return nil
	}
	l.hookState = &specs.State{Version: s.Version, ID: id, Status: specs.StateCreating, Pid: pid,
		Bundle: l.plan.Bundle, Annotations: s.Annotations}
	if !l.plan.Hooks.InContainer() {
		return nil
	}
	return l.hookState
}

// createRuntime answers the init's CreateRuntime message: it runs the
// prestart hooks, then the createRuntime hooks, lets the init go on and
// waits for its Ready. A failing hook fails create, whose caller kills the
// init and removes everything.
func (l *launched) createRuntime(conn *protocol.Conn) error {
	st, err := marshalState(*l.hookState, specs.StateCreating)
	if err != nil {
		return err
	}
	// A hook that runs `gtu state` must get runc's answer (no such
	// container yet: state.json comes after Ready), not wait for our lock.
	// Without state.json no other verb can act on the container meanwhile.
	if err := l.h.dir.Unlock(); err != nil {
		return err
	}
	hs := l.plan.Hooks
	err = hooks.RunAll("prestart", hs.Prestart, st)
	if err == nil {
		err = hooks.RunAll("createRuntime", hs.CreateRuntime, st)
	}
	if lerr := l.h.dir.Lock(); err == nil {
		err = lerr
	}
	if err != nil {
		return err
	}
	if err := conn.Send(&protocol.Message{Kind: protocol.KindResume}); err != nil {
		return err
	}
	_, err = conn.Recv()
	return err
}

// poststop runs after a failed create, as runc does (runtime.md: a failed
// create step continues the lifecycle at the destroy step).
func (l *launched) poststop(log *slog.Logger) {
	if l.hookState == nil || l.plan.Hooks == nil {
		return
	}
	runPoststop(log, l.plan.Hooks.Poststop, *l.hookState)
}

// laterHooks is what create saves for start and delete: nil without
// poststart or poststop hooks.
func laterHooks(h *spec.Hooks) (json.RawMessage, error) {
	later := h.Later()
	if later == nil {
		return nil, nil
	}
	b, err := json.Marshal(later)
	if err != nil {
		return nil, fmt.Errorf("save hooks: %w", err)
	}
	return b, nil
}

// savedHooks loads what laterHooks saved; nil when there is nothing.
func (h *handle) savedHooks() (*spec.Hooks, error) {
	if len(h.st.Hooks) == 0 {
		return nil, nil
	}
	var hs spec.Hooks
	if err := json.Unmarshal(h.st.Hooks, &hs); err != nil {
		return nil, fmt.Errorf("container %q: saved hooks: %w", h.st.ID, err)
	}
	return &hs, nil
}

func (h *handle) ociHookState() specs.State {
	return specs.State{Version: h.st.OCIVersion, ID: h.st.ID, Pid: h.st.Pid, Bundle: h.st.Bundle,
		Annotations: h.st.Annotations}
}

// poststart runs the poststart hooks once the user's process runs. The
// caller must not hold the container's lock: a hook may well run `gtu
// state`. If one fails the container is killed and start fails, as in runc
// 1.1 (which runs them at the end of create, where the failure kills and
// removes the container) and as runtime-spec's lifecycle now asks ("generate
// an error, stop the container"); delete then removes it and runs poststop.
func (h *handle) poststart(log *slog.Logger) error {
	hs, err := h.savedHooks()
	if err != nil || hs == nil || len(hs.Poststart) == 0 {
		return err
	}
	st, err := marshalState(h.ociHookState(), specs.StateRunning)
	if err != nil {
		return err
	}
	herr := hooks.RunAll("poststart", hs.Poststart, st)
	if herr == nil {
		return nil
	}
	// Without a private pid namespace, kill signals the whole cgroup.
	if err := h.kill(unix.SIGKILL, false); err != nil && !errors.Is(err, ErrNotRunning) {
		log.Warn("poststart hook failed and the container could not be killed", "err", err)
	} else if err := waitGone(h.st.Pid, h.st.PidStart, 10*time.Second); err != nil {
		log.Warn("poststart hook failed and the container did not die", "err", err)
	}
	return herr
}

// poststop runs the poststop hooks of a deleted container.
func (h *handle) poststop(log *slog.Logger) {
	hs, err := h.savedHooks()
	if err != nil {
		log.Warn("poststop hooks not run", "err", err)
		return
	}
	if hs != nil {
		runPoststop(log, hs.Poststop, h.ociHookState())
	}
}

// runPoststop runs every poststop hook; a failure is only a warning
// (runtime.md: the lifecycle continues as if the hook had succeeded).
func runPoststop(log *slog.Logger, list []spec.Hook, st specs.State) {
	if len(list) == 0 {
		return
	}
	b, err := marshalState(st, specs.StateStopped)
	if err != nil {
		log.Warn("poststop hooks not run", "err", err)
		return
	}
	for _, err := range hooks.RunEvery("poststop", list, b) {
		log.Warn("poststop hook failed; the container is deleted anyway", "err", err)
	}
}

// marshalState is the OCI state JSON a hook reads on stdin. A stopped
// container has no pid.
func marshalState(st specs.State, status specs.ContainerState) ([]byte, error) {
	st.Status = status
	if status == specs.StateStopped {
		st.Pid = 0
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("hooks: container state: %w", err)
	}
	return b, nil
}
