package cgroupdelegate

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"

	"github.com/gophertainer/gtu/internal/userscope"
)

// userScopeManager keeps a container in a transient Delegate=yes scope of
// the user's systemd --user manager, asked for over D-Bus by gtu-cgroup
// (cmd/gtu-cgroup/userscope.go; helper.go says why not here). The scope's
// cgroup2 directory does what cgroup2 offers without controllers (freeze,
// kill, the process list, cgroup.events); limits, when asked for, go to
// the v1 directories root delegated (limits manager), because a scope on
// a hybrid host has no controllers. The library's systemd driver cannot
// do this: it refuses rootless on cgroup v1 and hybrid hosts, and it
// authenticates with the uid it runs as (0 inside a user namespace).
type userScopeManager struct {
	cfg    *cgroups.Cgroup
	r      *savedRootless
	paths  map[string]string // "" (cgroup2) and "name=systemd": the scope's directories; plus r.Limits
	limits cgroups.Manager   // nil without limits
}

// scopeUnit names the scope: "slice:prefix:name" from linux.cgroupsPath
// with --systemd-cgroup (convertPath checked it), else gtu-<id>.scope in
// the manager's default slice.
func scopeUnit(c Config, cg *cgroups.Cgroup) (unit, slice string) {
	if !c.Systemd {
		return systemdScopePrefix + "-" + c.ID + ".scope", ""
	}
	if cg.ScopePrefix == "" {
		return cg.Name + ".scope", cg.Parent
	}
	return cg.ScopePrefix + "-" + cg.Name + ".scope", cg.Parent
}

func newUserScope(cg *cgroups.Cgroup, paths map[string]string, r *savedRootless) (*Cgroup, error) {
	m := &userScopeManager{cfg: cg, r: r, paths: map[string]string{}}
	maps.Copy(m.paths, paths)
	if len(r.Limits) > 0 {
		lcfg := *cg
		lcfg.Systemd = false
		lim, err := fsManager(&lcfg, maps.Clone(r.Limits))
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: delegated v1 cgroups for the limits: %w", describe(cg), err)
		}
		m.limits = lim
		maps.Copy(m.paths, r.Limits)
	}
	return &Cgroup{cfg: cg, mgr: m, rootless: r}, nil
}

// Apply asks the manager for the scope with pid in it, then finds the
// scope's directories and, with limits, places pid in the delegated v1
// cgroups as well.
func (m *userScopeManager) Apply(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("scope %s: a systemd scope needs a process", m.r.Unit)
	}
	req := m.request()
	req.Pid, req.Slice, req.Description = pid, m.r.Slice, "gtu container "+m.cfg.Name
	rel, err := userscope.Start(&req)
	if err != nil {
		return err
	}
	hs, err := hierarchies(cgroupRoot)
	if err != nil {
		return errors.Join(fmt.Errorf("scope %s: %w", m.r.Unit, err), m.stop())
	}
	for _, h := range hs {
		for _, k := range h.keys {
			if k == "" || k == "name=systemd" {
				m.paths[k] = filepath.Join(h.dir, rel)
			}
		}
	}
	if m.paths[""] == "" {
		return errors.Join(fmt.Errorf("scope %s: no cgroup2 hierarchy mounted", m.r.Unit), m.stop())
	}
	if m.limits != nil {
		if err := m.limits.Apply(pid); err != nil {
			return errors.Join(fmt.Errorf("scope %s: delegated v1 cgroups: %w", m.r.Unit, err), m.stop())
		}
	}
	return nil
}

// unified is the scope's cgroup2 directory, driven by the fs2 driver.
func (m *userScopeManager) unified() (*fs2.Manager, error) {
	dir := m.paths[""]
	if dir == "" {
		return nil, fmt.Errorf("scope %s: not started", m.r.Unit)
	}
	cfg := *m.cfg
	// Rootless: the fs2 driver then skips the counters of the controllers
	// that a scope on a hybrid host does not have.
	cfg.Rootless = true
	res := *m.cfg.Resources
	cfg.Resources = &res
	return fs2.NewManager(&cfg, dir)
}

func (m *userScopeManager) AddPid(sub string, pid int) error {
	for _, k := range []string{"", "name=systemd"} {
		if dir := m.paths[k]; dir != "" {
			if err := cgroups.WriteCgroupProc(filepath.Join(dir, sub), pid); err != nil {
				return err
			}
		}
	}
	if m.limits != nil {
		return m.limits.AddPid(sub, pid)
	}
	return nil
}

func (m *userScopeManager) Set(r *cgroups.Resources) error {
	if m.limits != nil {
		return m.limits.Set(r)
	}
	if hasLimits(r) {
		return errSetLimits()
	}
	return nil
}

func (m *userScopeManager) GetPids() ([]int, error)    { return cgroups.GetPids(m.paths[""]) }
func (m *userScopeManager) GetAllPids() ([]int, error) { return cgroups.GetAllPids(m.paths[""]) }
func (m *userScopeManager) GetStats() (*cgroups.Stats, error) {
	return m.Stats(nil)
}

func (m *userScopeManager) Stats(opts *cgroups.StatsOptions) (*cgroups.Stats, error) {
	if m.limits != nil {
		return m.limits.Stats(opts)
	}
	u, err := m.unified()
	if err != nil {
		return nil, err
	}
	return u.Stats(opts)
}

func (m *userScopeManager) Freeze(state cgroups.FreezerState) error {
	u, err := m.unified()
	if err != nil {
		return err
	}
	return u.Freeze(state)
}

func (m *userScopeManager) GetFreezerState() (cgroups.FreezerState, error) {
	u, err := m.unified()
	if err != nil {
		return cgroups.Undefined, err
	}
	return u.GetFreezerState()
}

func (m *userScopeManager) OOMKillCount() (uint64, error) {
	if m.limits != nil {
		return m.limits.OOMKillCount()
	}
	return 0, nil
}

func (m *userScopeManager) Path(k string) string                 { return m.paths[k] }
func (m *userScopeManager) GetPaths() map[string]string          { return maps.Clone(m.paths) }
func (m *userScopeManager) GetCgroups() (*cgroups.Cgroup, error) { return m.cfg, nil }
func (m *userScopeManager) Exists() bool                         { return cgroups.PathExists(m.paths[""]) }

// Destroy stops the scope (systemd removes its directories) and removes
// the delegated v1 cgroups of the limits.
func (m *userScopeManager) Destroy() error {
	err := m.stop()
	if m.limits != nil {
		err = errors.Join(err, m.limits.Destroy())
	}
	return err
}

// request names the scope and the bus for the helper.
func (m *userScopeManager) request() userscope.Request {
	return userscope.Request{Bus: m.r.Bus, HostUID: m.r.HostUID, Unit: m.r.Unit}
}

// stop stops the scope and waits for the job (in the helper). A unit that
// is already gone (systemd drops a scope whose processes have all exited)
// is not an error.
func (m *userScopeManager) stop() error {
	req := m.request()
	return userscope.Stop(&req)
}
