package cgroupdelegate

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Rootless cgroups. cgroupfs belongs to real root, so a rootless gtu
// (an unprivileged user, or uid 0 in a user namespace) uses, in this
// order, one of three real managers:
//
//  1. modeDelegated: directories root delegated to the user's host uid
//     (Delegate, `gtu cgroup-delegate`): the fs driver, with limits.
//  2. modeUserScope: a Delegate=yes scope from the user's systemd --user
//     manager over D-Bus (userscope.go). On a hybrid host the scope has no
//     v2 controllers: freeze and kill work, limits need (1) as well.
//  3. modeDisabled: no cgroup at all (disabled.go); refused when the
//     spec asks for limits, so that they are never silently dropped.
//
// --systemd-cgroup always means (2), with (1) for the limits if present.
const (
	modeDelegated = "delegated"
	modeUserScope = "user-scope"
	modeDisabled  = "disabled"
)

// savedRootless is what Load needs, beyond the cgroup paths, to rebuild
// a rootless manager in a later gtu process (pause, kill, delete...).
type savedRootless struct {
	Mode    string `json:"mode"`
	HostUID int    `json:"hostUID"`
	// modeUserScope: the bus and the unit; Limits are the v1 delegated
	// directories that hold the limits (controller -> directory), if any.
	Bus    string            `json:"bus,omitempty"`
	Unit   string            `json:"unit,omitempty"`
	Slice  string            `json:"slice,omitempty"`
	Limits map[string]string `json:"limits,omitempty"`
}

// hostProbe is what New looks at on the host, gathered by probeHost so
// that the choice itself (chooseMode) is pure.
type hostProbe struct {
	// bases: fs-driver key -> the base directory delegated to the user.
	bases map[string]string
	// ownUnified is this process's cgroup2 directory (absolute), "" if
	// none: a cgroup2 move needs write access to the common ancestor, so
	// the delegated cgroup2 base is only usable from inside it.
	ownUnified string
	// bus is the address of the user's session bus, "" if nothing
	// answers there.
	bus string
	// scopeReachable: the user manager can put a process of ours into a
	// new scope. With systemd as PID 1 it always can (the system manager
	// moves processes between trees); without one only from inside the
	// user manager's own tree (MACHINE.md), where the user owns the
	// common ancestor.
	scopeReachable bool
}

// probeHost finds the delegation and the user's bus for hostUID.
func probeHost(hostUID int) hostProbe {
	var p hostProbe
	ownerHere := hostUID
	if m, err := os.ReadFile("/proc/self/uid_map"); err == nil {
		if id, ok := mapUID(string(m), hostUID); ok {
			ownerHere = id
		}
	}
	hs, err := hierarchies(cgroupRoot)
	if err != nil {
		slog.Debug("rootless cgroups: cannot list the cgroup hierarchies", "err", err)
	}
	for _, h := range hs {
		if h.v2 {
			if own, err := cgroups.ParseCgroupFile("/proc/self/cgroup"); err == nil {
				if rel, ok := own[""]; ok {
					p.ownUnified = filepath.Join(h.dir, rel)
				}
			}
		}
	}
	p.bases = usableBases(findDelegation(hs, hostUID, ownerHere), p.ownUnified)
	p.bus = userBus(hostUID)
	p.scopeReachable = p.bus != "" && (systemdIsInit() || strings.Contains(p.ownUnified+"/", "/user@"+strconv.Itoa(hostUID)+".service/"))
	if p.bus != "" && !p.scopeReachable {
		slog.Debug("rootless cgroups: the systemd --user manager cannot move gtu's processes (no systemd as PID 1, and gtu runs outside the manager's tree)", "cgroup", p.ownUnified)
	}
	return p
}

// usableBases drops a delegated cgroup2 base that this process runs
// outside of: moving a process between cgroup2 cgroups needs write access
// to their common ancestor's cgroup.procs, which is root's. (cgroup v1 has
// no such rule, so its delegated bases are usable from anywhere.)
func usableBases(bases map[string]string, ownUnified string) map[string]string {
	if base, ok := bases[""]; ok && !within(ownUnified, base) {
		slog.Debug("rootless cgroups: not using the delegated cgroup2 directory: gtu runs outside it, and moving a process there needs write access to their common ancestor",
			"dir", base, "own", ownUnified)
		bases = maps.Clone(bases)
		delete(bases, "")
	}
	return bases
}

// systemdIsInit reports whether PID 1 is systemd.
func systemdIsInit() bool {
	b, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(b)) == "systemd"
}

// cgroupRoot is where the hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// userBus returns the address of hostUID's session bus if a socket
// accepts connections there: $DBUS_SESSION_BUS_ADDRESS (a unix:path= one),
// else $XDG_RUNTIME_DIR/bus, else /run/user/UID/bus. Only connect(2) is
// tried here (tens of microseconds); authenticating costs a round trip and
// is left to the first real call.
func userBus(hostUID int) string {
	var candidates []string
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		candidates = append(candidates, a)
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, "unix:path="+filepath.Join(d, "bus"))
	}
	candidates = append(candidates, "unix:path=/run/user/"+strconv.Itoa(hostUID)+"/bus")
	for _, a := range candidates {
		path, ok := strings.CutPrefix(a, "unix:path=")
		if !ok {
			continue
		}
		path, _, _ = strings.Cut(path, ",")
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			continue
		}
		c.Close()
		return "unix:path=" + path
	}
	return ""
}

// requestedLimit names the first field of linux.resources that asks for a
// limit, "" if none does. Device rules do not count: a rootless container
// cannot create device nodes (mknod needs real root), it only gets bind
// mounts of nodes the user may open anyway.
func requestedLimit(r *specs.LinuxResources) string {
	if r == nil {
		return ""
	}
	fields := []struct {
		name string
		set  bool
	}{
		{"memory", r.Memory != nil && !reflect.ValueOf(*r.Memory).IsZero()},
		{"cpu", r.CPU != nil && !reflect.ValueOf(*r.CPU).IsZero()},
		{"pids", r.Pids != nil && r.Pids.Limit != nil},
		{"blockIO", r.BlockIO != nil && !reflect.ValueOf(*r.BlockIO).IsZero()},
		{"hugepageLimits", len(r.HugepageLimits) > 0},
		{"network", r.Network != nil && !reflect.ValueOf(*r.Network).IsZero()},
		{"rdma", len(r.Rdma) > 0},
		{"unified", len(r.Unified) > 0},
	}
	for _, f := range fields {
		if f.set {
			return "linux.resources." + f.name
		}
	}
	return ""
}

// hasLimits reports whether r sets anything but device rules and the
// freezer state: what Set (and so `gtu update`) cannot put anywhere when
// the manager has no controllers.
func hasLimits(r *cgroups.Resources) bool {
	if r == nil {
		return false
	}
	c := *r
	c.Devices, c.SkipDevices, c.Freezer = nil, false, cgroups.Undefined
	return !reflect.ValueOf(c).IsZero()
}

func errSetLimits() error {
	return fmt.Errorf("set limits: %w: ask root to run `gtu cgroup-delegate --user USER`, or run under a systemd --user session whose cgroup v2 tree has the controllers delegated", ErrNeedsDelegation)
}

// chooseMode picks the rootless manager (see the list at the top).
func chooseMode(c Config, p hostProbe) (string, error) {
	limit := requestedLimit(c.Resources)
	delegated := len(v1Bases(p.bases)) > 0
	if c.Systemd {
		if p.bus == "" {
			return "", fmt.Errorf("--systemd-cgroup: %w for uid %d: start one (e.g. a login session, or `systemctl start user@%d`) or drop --systemd-cgroup", ErrNoUserManager, c.HostUID, c.HostUID)
		}
		if limit != "" && !delegated {
			return "", needsDelegation(limit, true)
		}
		return modeUserScope, nil
	}
	switch {
	case delegated:
		return modeDelegated, nil
	case p.scopeReachable && limit == "":
		return modeUserScope, nil
	case limit != "":
		return "", needsDelegation(limit, p.bus != "")
	}
	return modeDisabled, nil
}

func needsDelegation(field string, haveScope bool) error {
	why := "no cgroup is delegated to this user"
	if haveScope {
		why = "the systemd --user scope on this host has no cgroup v2 controllers"
	}
	return fmt.Errorf("%s: %w (%s): ask root to run `gtu cgroup-delegate --user USER` (cgroup v1 or hybrid hosts), "+
		"or run under a systemd --user session whose cgroup v2 tree has the controllers delegated, or remove the limits", field, ErrNeedsDelegation, why)
}

// v1Bases are the delegated bases of the v1 hierarchies (and of a pure v2
// host's root), the ones that can hold limits: on a hybrid host the
// cgroup2 tree has no controllers.
func v1Bases(bases map[string]string) map[string]string {
	out := map[string]string{}
	for k, d := range bases {
		if k != "" || !cgroups.IsCgroup2HybridMode() {
			out[k] = d
		}
	}
	return out
}

// delegatedPaths places the container's cgroup below each delegated base:
// linux.cgroupsPath, absolute or relative, and the id when empty, are all
// taken relative to the base.
func delegatedPaths(cg *cgroups.Cgroup, p hostProbe) map[string]string {
	rel := strings.TrimPrefix(cg.Path, "/")
	if rel == "" {
		rel = cg.Name
	}
	paths := map[string]string{}
	for k, base := range p.bases {
		paths[k] = filepath.Join(base, rel)
	}
	return paths
}

func within(dir, base string) bool {
	return dir != "" && (dir == base || strings.HasPrefix(dir, base+"/"))
}

// newRootless builds the manager chooseMode picks.
func newRootless(c Config, cg *cgroups.Cgroup, p hostProbe) (*Cgroup, error) {
	mode, err := chooseMode(c, p)
	if err != nil {
		return nil, err
	}
	// A v1 devices cgroup only lets real root write devices.allow and
	// devices.deny, even in a delegated directory, and a user namespace
	// cannot create device nodes anyway: the rules are not written. The
	// delegated devices directory is still created (the fs driver lists
	// processes from it).
	cg.Resources.SkipDevices = true
	r := &savedRootless{Mode: mode, HostUID: c.HostUID}
	switch mode {
	case modeDelegated:
		slog.Debug("rootless cgroups: using the cgroups root delegated to the user", "uid", c.HostUID)
		return newDelegated(cg, delegatedPaths(cg, p), r)
	case modeUserScope:
		r.Bus = p.bus
		r.Unit, r.Slice = scopeUnit(c, cg)
		if requestedLimit(c.Resources) != "" {
			// The scope holds the process in the cgroup2 and name=systemd
			// trees; the delegated ones there must not take it out again.
			r.Limits = delegatedPaths(cg, hostProbe{bases: v1Bases(p.bases)})
			delete(r.Limits, "")
			delete(r.Limits, "name=systemd")
			slog.Debug("rootless cgroups: the systemd --user scope has no controllers here; limits go to the delegated v1 cgroups", "dirs", r.Limits)
		}
		return newUserScope(cg, nil, r)
	}
	slog.Debug("rootless cgroups: no delegated cgroup and no systemd --user manager; the container runs without a cgroup (no pause, no kill --all, no stats)",
		"uid", c.HostUID)
	return newDisabled(cg, r), nil
}

// loadRootless is Load for what a rootless New made.
func loadRootless(cg *cgroups.Cgroup, paths map[string]string, r *savedRootless) (*Cgroup, error) {
	switch r.Mode {
	case modeDelegated:
		return newDelegated(cg, paths, r)
	case modeUserScope:
		for k, p := range r.Limits {
			if err := checkCgroupPath(p); err != nil {
				return nil, fmt.Errorf("%w: limits %q: %w", ErrBadState, k, err)
			}
		}
		return newUserScope(cg, paths, r)
	case modeDisabled:
		return newDisabled(cg, r), nil
	}
	return nil, fmt.Errorf("%w: rootless mode %q", ErrBadState, r.Mode)
}

// newDelegated is the fs driver on explicit paths below the delegated
// bases (delegatedManager).
func newDelegated(cg *cgroups.Cgroup, paths map[string]string, r *savedRootless) (*Cgroup, error) {
	c, err := newCgroup(cg, paths)
	if err != nil {
		return nil, err
	}
	c.mgr = delegatedManager{c.mgr, paths["devices"]}
	c.rootless = r
	return c, nil
}

// delegatedManager is the fs driver with device rules skipped (see
// newRootless), which also skips creating the devices cgroup; but the
// driver lists and finds the container's processes through that cgroup,
// so this manager creates and joins it itself.
type delegatedManager struct {
	cgroups.Manager
	devices string
}

func (m delegatedManager) Apply(pid int) error {
	if err := m.Manager.Apply(pid); err != nil {
		return err
	}
	if m.devices == "" {
		return nil
	}
	if err := os.MkdirAll(m.devices, 0o755); err != nil {
		return err
	}
	return cgroups.WriteCgroupProc(m.devices, pid)
}
