package initproc

import (
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/hooks"
	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/spec"
)

// beforeSwitch is what rootfs.Prepare runs between the mounts and the root
// switch (config.md: createRuntime and createContainer hooks run "after the
// runtime environment has been created ... but before the pivot_root"):
// stop for the parent's prestart and createRuntime hooks, then run the
// createContainer hooks here. Nil when the plan has neither, so the common
// case costs nothing.
func (s *stage) beforeSwitch(p *spec.Plan) func() error {
	h := p.Hooks
	if !h.RuntimeStop() && (h == nil || len(h.CreateContainer) == 0) {
		return nil
	}
	return func() error {
		if h.RuntimeStop() {
			if err := s.conn.Send(&protocol.Message{Kind: protocol.KindCreateRuntime}); err != nil {
				return err
			}
			// The Sequence admits only Resume here; a failing hook ends
			// us with SIGKILL instead.
			if _, err := s.conn.Recv(); err != nil {
				return fmt.Errorf("wait for the createRuntime hooks: %w", err)
			}
			s.log.Debug("createRuntime hooks done")
		}
		if len(h.CreateContainer) == 0 {
			return nil
		}
		// runc runs them from the rootfs; their paths still resolve in
		// the host's filesystem, since the root has not moved yet.
		if err := unix.Chdir(p.Rootfs); err != nil {
			return fmt.Errorf("chdir %s: %w", p.Rootfs, err)
		}
		return s.runHooks("createContainer", h.CreateContainer, specs.StateCreating)
	}
}

// runHooks runs one list of the plan's hooks with the container's state,
// in the given status, on their stdin.
func (s *stage) runHooks(name string, list []spec.Hook, status specs.ContainerState) error {
	if len(list) == 0 {
		return nil
	}
	if s.state == nil {
		return errors.New("hooks: the bootstrap message carried no container state")
	}
	st := *s.state
	st.Status = status
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	return hooks.RunAll(name, list, b)
}
