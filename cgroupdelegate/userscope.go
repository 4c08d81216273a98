package cgroupdelegate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/cgroups/manager"
)

// userScopeManager keeps a container in a transient Delegate=yes scope of
// the user's systemd --user manager, asked for over D-Bus. The scope's
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

// busTimeout bounds each conversation with the user manager.
const busTimeout = 10 * time.Second

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
		lim, err := manager.NewWithPaths(&lcfg, maps.Clone(r.Limits))
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: delegated v1 cgroups for the limits: %w", describe(cg), err)
		}
		m.limits = lim
		maps.Copy(m.paths, r.Limits)
	}
	return &Cgroup{cfg: cg, mgr: m, rootless: r}, nil
}

// dialUser connects to the user's bus as the host uid. The bus compares
// an EXTERNAL identity with the socket's peer credentials, which it sees as
// the host uid: a client in a user namespace that names its uid there (0)
// is refused (measured: "AUTH EXTERNAL 30" gets REJECTED). godbus v5 names
// no identity at all ("AUTH EXTERNAL", then an empty DATA, godbus#264), so
// the kernel's answer is taken; the host uid is given here so that the
// right identity is the one named if the library ever sends it.
func dialUser(ctx context.Context, bus string, hostUID int) (*sddbus.Conn, error) {
	conn, err := sddbus.NewConnection(func() (*dbus.Conn, error) {
		c, err := dbus.Dial(bus, dbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(hostUID))}); err != nil {
			c.Close()
			return nil, fmt.Errorf("authenticate as uid %d: %w", hostUID, err)
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("systemd --user at %s: %w", bus, err)
	}
	return conn, nil
}

// Apply asks the manager for the scope with pid in it, then finds the
// scope's directories and, with limits, places pid in the delegated v1
// cgroups as well.
func (m *userScopeManager) Apply(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("scope %s: a systemd scope needs a process", m.r.Unit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	conn, err := dialUser(ctx, m.r.Bus, m.r.HostUID)
	if err != nil {
		return err
	}
	defer conn.Close()
	props := []sddbus.Property{
		sddbus.PropDescription("gtu container " + m.cfg.Name),
		sddbus.PropPids(uint32(pid)),
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
		// As runc: no implicit ordering on or conflict with shutdown
		// targets; the container's lifetime is its own.
		{Name: "DefaultDependencies", Value: dbus.MakeVariant(false)},
	}
	if m.r.Slice != "" {
		props = append(props, sddbus.PropSlice(m.r.Slice))
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, m.r.Unit, "fail", props, done); err != nil {
		return fmt.Errorf("scope %s: start: %w", m.r.Unit, err)
	}
	if err := waitJob(ctx, m.r.Unit, "start", done); err != nil {
		return err
	}
	prop, err := conn.GetUnitTypePropertyContext(ctx, m.r.Unit, "Scope", "ControlGroup")
	if err != nil {
		return errors.Join(fmt.Errorf("scope %s: read its cgroup: %w", m.r.Unit, err), m.stop())
	}
	rel, ok := prop.Value.Value().(string)
	if !ok || rel == "" {
		return errors.Join(fmt.Errorf("scope %s: no cgroup (%v)", m.r.Unit, prop.Value), m.stop())
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

// stop stops the scope and waits for the job. A unit that is already gone
// (systemd drops a scope whose processes have all exited) is not an error.
func (m *userScopeManager) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	conn, err := dialUser(ctx, m.r.Bus, m.r.HostUID)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, m.r.Unit, "replace", done); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit" {
			return nil
		}
		return fmt.Errorf("scope %s: stop: %w", m.r.Unit, err)
	}
	if err := waitJob(ctx, m.r.Unit, "stop", done); err != nil {
		return err
	}
	// A scope that ended in "failed" stays loaded; forget it, so that
	// the name can be used again.
	_ = conn.ResetFailedUnitContext(ctx, m.r.Unit)
	return nil
}

// waitJob waits for a systemd job's result on done ("done" is success).
func waitJob(ctx context.Context, unit, verb string, done <-chan string) error {
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("scope %s: %s job %s", unit, verb, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scope %s: %s: %w", unit, verb, ctx.Err())
	}
}
