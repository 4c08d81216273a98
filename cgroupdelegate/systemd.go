package cgroupdelegate

import (
	"fmt"
	"maps"

	"github.com/opencontainers/cgroups"

	"github.com/gophertainer/gtu/internal/cghelper"
)

// systemdManager is --systemd-cgroup as root: the library's systemd
// manager (the system instance, over D-Bus), which runs in gtu-cgroup
// (helper.go says why) for what asks systemd: Apply, Set, AddPid and
// Destroy, one helper run each. The rest is plain cgroupfs in the
// library's managers too (systemd/v1.go: the freezer, devices and memory
// directories and the subsystems' stats; v2.go: its fs2 manager), and is
// done here by the fs driver over the paths the helper reported.
type systemdManager struct {
	cfg *cgroups.Cgroup
	// paths: controller -> directory; nil before Apply, when only the
	// library's manager (in the helper) can compute them.
	paths map[string]string
	fs    cgroups.Manager // over paths, made on first use
}

func newSystemdManager(cg *cgroups.Cgroup, paths map[string]string) *systemdManager {
	return &systemdManager{cfg: cg, paths: paths}
}

// run runs a systemd-* verb of the helper for this cgroup.
func (m *systemdManager) run(verb string, req cghelper.Systemd, resp any) error {
	req.Config, req.Paths = m.cfg, m.paths
	if req.Set == nil {
		req.SkipDevices = m.cfg.Resources.SkipDevices
	} else {
		req.SkipDevices = req.Set.SkipDevices
	}
	return callHelper("systemd unit for "+describe(m.cfg), req, resp, verb)
}

// Apply creates the unit with pid in it and sets m.cfg.Resources, in one
// helper run; if either step fails, the helper destroys the unit again.
// Its errors say which step failed ("create and join pid N: ...", "set
// limits: ...") as Cgroup.applySystemd's own did.
func (m *systemdManager) Apply(pid int) error {
	var resp cghelper.Paths
	if err := m.run(cghelper.VerbSystemdApply, cghelper.Systemd{Pid: pid}, &resp); err != nil {
		return err
	}
	m.paths, m.fs = resp.Paths, nil
	return nil
}

func (m *systemdManager) Set(r *cgroups.Resources) error {
	if r == nil {
		return nil
	}
	return m.run(cghelper.VerbSystemdSet, cghelper.Systemd{Set: r}, nil)
}

func (m *systemdManager) AddPid(sub string, pid int) error {
	return m.run(cghelper.VerbSystemdAddPid, cghelper.Systemd{Sub: sub, Pid: pid}, nil)
}

func (m *systemdManager) Destroy() error {
	return m.run(cghelper.VerbSystemdDestroy, cghelper.Systemd{}, nil)
}

// cgroupfs is the fs driver over the unit's paths.
func (m *systemdManager) cgroupfs() (cgroups.Manager, error) {
	if m.fs != nil {
		return m.fs, nil
	}
	if len(m.paths) == 0 {
		return nil, fmt.Errorf("systemd unit for %s: not created yet", describe(m.cfg))
	}
	fsm, err := fsManager(m.cfg, maps.Clone(m.paths))
	if err != nil {
		return nil, err
	}
	m.fs = fsm
	return fsm, nil
}

func (m *systemdManager) GetPids() ([]int, error) {
	fsm, err := m.cgroupfs()
	if err != nil {
		return nil, err
	}
	return fsm.GetPids()
}

func (m *systemdManager) GetAllPids() ([]int, error) {
	fsm, err := m.cgroupfs()
	if err != nil {
		return nil, err
	}
	return fsm.GetAllPids()
}

func (m *systemdManager) GetStats() (*cgroups.Stats, error) { return m.Stats(nil) }

func (m *systemdManager) Stats(opts *cgroups.StatsOptions) (*cgroups.Stats, error) {
	fsm, err := m.cgroupfs()
	if err != nil {
		return nil, err
	}
	return fsm.Stats(opts)
}

func (m *systemdManager) Freeze(state cgroups.FreezerState) error {
	fsm, err := m.cgroupfs()
	if err != nil {
		return err
	}
	return fsm.Freeze(state)
}

func (m *systemdManager) GetFreezerState() (cgroups.FreezerState, error) {
	fsm, err := m.cgroupfs()
	if err != nil {
		return cgroups.Undefined, err
	}
	return fsm.GetFreezerState()
}

func (m *systemdManager) OOMKillCount() (uint64, error) {
	fsm, err := m.cgroupfs()
	if err != nil {
		return 0, err
	}
	return fsm.OOMKillCount()
}

func (m *systemdManager) Exists() bool {
	fsm, err := m.cgroupfs()
	return err == nil && fsm.Exists()
}

func (m *systemdManager) Path(k string) string {
	fsm, err := m.cgroupfs()
	if err != nil {
		return ""
	}
	return fsm.Path(k)
}

func (m *systemdManager) GetPaths() map[string]string          { return maps.Clone(m.paths) }
func (m *systemdManager) GetCgroups() (*cgroups.Cgroup, error) { return m.cfg, nil }
