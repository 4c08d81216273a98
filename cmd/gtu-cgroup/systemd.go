package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"

	"github.com/gophertainer/gtu/internal/cghelper"
)

// systemdVerb runs one systemd-* verb with the library's manager, built
// exactly as gtu built it in-process before this helper existed
// (manager.NewWithPaths: the legacy manager on v1 and hybrid hosts, the
// unified one on v2). The manager's D-Bus connection lives for this run.
func systemdVerb(verb string, req *cghelper.Systemd, out io.Writer) error {
	if req.Config == nil {
		return fmt.Errorf("%s: request without a cgroup configuration", verb)
	}
	cg := req.Config
	if cg.Resources == nil {
		cg.Resources = &cgroups.Resources{}
	}
	cg.Resources.SkipDevices = req.SkipDevices
	m, err := manager.NewWithPaths(cg, req.Paths)
	if err != nil {
		return err
	}
	switch verb {
	case cghelper.VerbSystemdApply:
		// systemd creates the scope with the pid already in it.
		if err := m.Apply(req.Pid); err != nil {
			return errors.Join(fmt.Errorf("create and join pid %d: %w", req.Pid, err), m.Destroy())
		}
		if err := m.Set(cg.Resources); err != nil {
			return errors.Join(fmt.Errorf("set limits: %w", err), m.Destroy())
		}
		return json.NewEncoder(out).Encode(cghelper.Paths{Paths: m.GetPaths()})
	case cghelper.VerbSystemdSet:
		if req.Set == nil {
			return nil
		}
		req.Set.SkipDevices = req.SkipDevices
		return m.Set(req.Set)
	case cghelper.VerbSystemdAddPid:
		return m.AddPid(req.Sub, req.Pid)
	}
	return m.Destroy()
}
