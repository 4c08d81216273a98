// Package cgroupdelegate owns a container's cgroup: it converts the spec's
// linux.resources into settings for github.com/opencontainers/cgroups,
// creates the cgroup and places the container's init in it, and serves the
// later verbs (pause, resume, kill, delete, events) from a saved description.
//
// On a hybrid host (v1 controllers, an empty cgroup2 tree at
// /sys/fs/cgroup/unified) the v1 fs driver creates the cgroup in every v1
// hierarchy and also in the unified one, whose cgroup.kill makes SIGKILL
// race-free. Everything pure lives in convert.go.
package cgroupdelegate

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config is what a container's cgroup is made from: fields of config.json
// and the --systemd-cgroup flag.
type Config struct {
	ID string // container id
	// Path is linux.cgroupsPath: absolute ("/gtu-test/x", from the hierarchy
	// roots), relative (under gtu's own cgroup, as runc does), empty (the
	// relative path "<ID>"), or "slice:prefix:name" with Systemd.
	Path      string
	Systemd   bool                  // --systemd-cgroup
	Resources *specs.LinuxResources // may be nil
	Devices   []specs.LinuxDevice   // linux.devices: each gets an allow rule

	// Rootless says that gtu is not real root: an unprivileged user, or
	// uid 0 inside a user namespace (gtu's session namespace, podman's).
	// cgroupfs belongs to real root then, so New looks for a delegated
	// cgroup instead (see rootless.go). HostUID and HostGID are the
	// caller's ids on the host: delegated directories and the systemd
	// --user manager belong to them, not to the 0 seen inside.
	Rootless         bool
	HostUID, HostGID int
}

// Cgroup is one container's cgroup.
type Cgroup struct {
	cfg     *cgroups.Cgroup
	mgr     cgroups.Manager
	created []string // directories Create made, for undo
	// rootless is what Save keeps to rebuild a rootless manager; nil for
	// the managers root gets (fs drivers, the system systemd).
	rootless *savedRootless
}

// savedVersion is bumped when the Save format changes incompatibly.
const savedVersion = 1

type savedState struct {
	Version  int               `json:"version"`
	Config   *cgroups.Cgroup   `json:"config"`
	Paths    map[string]string `json:"paths"`
	Rootless *savedRootless    `json:"rootless,omitempty"`
}

// destroyTimeout bounds how long Destroy waits for the last processes to
// leave (a killed process stays in its cgroup until it has fully exited).
const destroyTimeout = 5 * time.Second

// New converts c and prepares the cgroup manager. It writes nothing to
// cgroupfs; Apply does.
func New(c Config) (*Cgroup, error) {
	cg, warnings, err := cgroupConfig(c)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		slog.Warn(w)
	}
	if c.Rootless {
		if c.HostUID <= 0 {
			return nil, fmt.Errorf("rootless cgroups: host uid %d: the caller's uid on the host is needed to find its delegation", c.HostUID)
		}
		return newRootless(c, cg, probeHost(c.HostUID))
	}
	return newCgroup(cg, v1Paths(cg))
}

func newCgroup(cg *cgroups.Cgroup, paths map[string]string) (*Cgroup, error) {
	if cg.Systemd && !systemdBooted() {
		return nil, fmt.Errorf("--systemd-cgroup: %w", ErrSystemdNotRunning)
	}
	if len(cg.Resources.Unified) > 0 && !cgroups.IsCgroup2UnifiedMode() {
		return nil, badField("linux.resources.unified",
			fmt.Errorf("%w: this host keeps its controllers in cgroup v1 hierarchies", ErrUnifiedNeedsV2))
	}
	if cg.Systemd {
		return &Cgroup{cfg: cg, mgr: newSystemdManager(cg, paths)}, nil
	}
	mgr, err := fsManager(cg, paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", describe(cg), err)
	}
	return &Cgroup{cfg: cg, mgr: mgr}, nil
}

// systemdBooted is sd_booted(3), as the library's systemd.IsRunningSystemd:
// systemd is the init system if /run/systemd/system is a directory. (Here,
// not through that package, which links the D-Bus client: see helper.go.)
func systemdBooted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// fsManager is the library's cgroupfs driver for the host: fs2 on a pure
// cgroup v2 host, fs on v1 and hybrid ones (which also creates the cgroup in
// the unified tree), on paths (nil: computed from cg). It is what the
// library's manager.NewWithPaths picks without Systemd; that package is not
// used because it links the systemd driver.
func fsManager(cg *cgroups.Cgroup, paths map[string]string) (cgroups.Manager, error) {
	if !cgroups.IsCgroup2UnifiedMode() {
		return fs.NewManager(cg, paths)
	}
	// As manager.NewWithPaths: one path at most, under the key "".
	dir := paths[""]
	if len(paths) > 1 || (dir != "" && (!filepath.IsAbs(dir) || filepath.Clean(dir) != dir)) {
		return nil, fmt.Errorf("inconsistent cgroup v2 paths %v: want one absolute clean path under the key \"\"", paths)
	}
	return fs2.NewManager(cg, dir)
}

// describe names the cgroup in errors the way config.json does.
func describe(cg *cgroups.Cgroup) string {
	switch {
	case cg.Systemd:
		return cg.Parent + ":" + cg.ScopePrefix + ":" + cg.Name
	case cg.Path != "":
		return cg.Path
	}
	return cg.Name
}

// Load rebuilds a Cgroup from what Save returned. paths, when not empty,
// overrides the saved paths (controller -> absolute directory).
func Load(raw json.RawMessage, paths map[string]string) (*Cgroup, error) {
	var st savedState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if st.Version != savedVersion || st.Config == nil {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadState, st.Version, savedVersion)
	}
	if st.Config.Resources == nil {
		// The v1 driver insists on non-nil resources; an empty set
		// marshals to nothing at all.
		st.Config.Resources = &cgroups.Resources{}
	}
	if len(paths) == 0 {
		paths = st.Paths
	}
	if len(paths) == 0 && (st.Rootless == nil || st.Rootless.Mode != modeDisabled) {
		return nil, fmt.Errorf("%w: no cgroup paths", ErrBadState)
	}
	for name, p := range paths {
		if err := checkCgroupPath(p); err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrBadState, name, err)
		}
	}
	if st.Rootless != nil {
		return loadRootless(st.Config, maps.Clone(paths), st.Rootless)
	}
	return newCgroup(st.Config, maps.Clone(paths))
}

// Save describes the cgroup for Load, to be kept in the container's state.
func (c *Cgroup) Save() (json.RawMessage, error) {
	cfg := *c.cfg
	res := *cfg.Resources
	// The freezer state is runtime state, not configuration: a Set after
	// Load must not re-freeze the container.
	res.Freezer = cgroups.Undefined
	cfg.Resources = &res
	raw, err := json.Marshal(savedState{Version: savedVersion, Config: &cfg, Paths: c.Paths(), Rootless: c.rootless})
	if err != nil {
		return nil, fmt.Errorf("save cgroup %s: %w", describe(c.cfg), err)
	}
	return raw, nil
}

// Paths returns controller -> absolute cgroup directory. On a hybrid host
// the key "" is the cgroup in the unified hierarchy.
func (c *Cgroup) Paths() map[string]string {
	return maps.Clone(c.mgr.GetPaths())
}

// Apply creates the cgroup, sets its limits and puts pid in it (in every v1
// hierarchy, plus the unified one on a hybrid host). If anything fails, the
// directories Apply created are removed again.
func (c *Cgroup) Apply(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroup %s: apply: bad pid %d", describe(c.cfg), pid)
	}
	if c.placedBySystemd() {
		return c.applySystemd(pid)
	}
	if err := c.Create(); err != nil {
		return err
	}
	if err := c.AddPid(pid); err != nil {
		return errors.Join(err, c.undo())
	}
	return nil
}

func (c *Cgroup) applySystemd(pid int) error {
	name := describe(c.cfg)
	if m, ok := c.mgr.(*systemdManager); ok {
		// One helper run creates the unit with the pid in it and sets
		// the limits, and destroys the unit again if either fails.
		if err := m.Apply(pid); err != nil {
			return fmt.Errorf("cgroup %s: %w", name, err)
		}
		return nil
	}
	// systemd creates the scope with the pid already in it.
	if err := c.mgr.Apply(pid); err != nil {
		return errors.Join(fmt.Errorf("cgroup %s: create and join pid %d: %w", name, pid, err), c.mgr.Destroy())
	}
	if err := c.mgr.Set(c.cfg.Resources); err != nil {
		return errors.Join(fmt.Errorf("cgroup %s: set limits: %w", name, err), c.mgr.Destroy())
	}
	return nil
}

// CanEnterThread reports whether EnterThread may be used: the fs drivers
// (v1, hybrid, v2), not systemd, which places processes itself.
func (c *Cgroup) CanEnterThread() bool { return !c.placedBySystemd() }

// placedBySystemd: a systemd manager (the system one, or a user's) creates
// the scope with the process already in it.
func (c *Cgroup) placedBySystemd() bool {
	return c.cfg.Systemd || (c.rootless != nil && c.rootless.Mode == modeUserScope)
}

// Create makes the cgroup directories and sets the limits, with no process
// inside yet. A failing limit removes what was created, so the process never
// runs in a half-configured cgroup.
func (c *Cgroup) Create() error {
	if c.placedBySystemd() {
		return fmt.Errorf("cgroup %s: %w", describe(c.cfg), ErrSystemdPlacement)
	}
	c.created = missingRoots(c.Paths())
	name := describe(c.cfg)
	// -1 means "create, add no pid".
	if err := c.mgr.Apply(-1); err != nil {
		return errors.Join(fmt.Errorf("cgroup %s: create: %w", name, err), c.undo())
	}
	if err := c.mgr.Set(c.cfg.Resources); err != nil {
		return errors.Join(fmt.Errorf("cgroup %s: set limits: %w", name, err), c.undo())
	}
	return nil
}

// AddPid moves a whole process into the created cgroup. Each such write
// takes the kernel's cgroup_threadgroup_rwsem for writing, which waits for
// an RCU grace period (about 12 ms measured here): EnterThread avoids it.
func (c *Cgroup) AddPid(pid int) error {
	if err := c.mgr.AddPid("", pid); err != nil {
		return fmt.Errorf("cgroup %s: add pid %d: %w", describe(c.cfg), pid, err)
	}
	return nil
}

// EnterThread moves only the calling OS thread into the created cgroup, so
// that a process it clones starts inside. The caller must hold the thread
// locked (runtime.LockOSThread) and must never unlock it: the thread is no
// longer in gtu's cgroups. Writing "0" to a v1 hierarchy's tasks file moves
// the current thread without the global threadgroup lock and so without an
// RCU grace period; a cgroup2 hierarchy has no such file, so for it (the
// unified tree of a hybrid host, or a pure v2 host) EnterThread returns an
// open directory for clone3's CLONE_INTO_CGROUP, or nil when there is none.
func (c *Cgroup) EnterThread() (*os.File, error) {
	var unified *os.File
	for key, dir := range c.Paths() {
		if key == "" {
			f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, fmt.Errorf("cgroup %s: open %s: %w", describe(c.cfg), dir, err)
			}
			unified = f
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "tasks"), []byte("0"), 0); err != nil {
			if unified != nil {
				unified.Close()
			}
			return nil, fmt.Errorf("cgroup %s: enter %s: %w", describe(c.cfg), dir, err)
		}
	}
	return unified, nil
}

// undo removes the directories Create made.
func (c *Cgroup) undo() error {
	if err := removeDirs(c.created); err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	return nil
}

// Freeze stops every process in the cgroup (pause).
func (c *Cgroup) Freeze() error {
	if err := c.mgr.Freeze(cgroups.Frozen); err != nil {
		return fmt.Errorf("cgroup %s: freeze: %w", describe(c.cfg), err)
	}
	return nil
}

// Thaw resumes a frozen cgroup (resume).
func (c *Cgroup) Thaw() error {
	if err := c.mgr.Freeze(cgroups.Thawed); err != nil {
		return fmt.Errorf("cgroup %s: thaw: %w", describe(c.cfg), err)
	}
	return nil
}

// Frozen reports whether the cgroup itself is frozen (not merely an
// ancestor).
func (c *Cgroup) Frozen() (bool, error) {
	st, err := c.mgr.GetFreezerState()
	if err != nil {
		return false, fmt.Errorf("cgroup %s: freezer state: %w", describe(c.cfg), err)
	}
	return st == cgroups.Frozen, nil
}

// FrozenAt answers Frozen from the saved paths alone when the cgroup has a
// v1 freezer (what the fs drivers and the delegated rootless manager use):
// the same two files GetFreezerState reads, without Load decoding the
// saved manager config first (a cold encoding/json decoder for
// cgroups.Cgroup costs every status, state and exec about 0.3 ms). known is
// false without a v1 freezer path: then Load and ask Frozen.
func FrozenAt(paths map[string]string) (frozen, known bool, err error) {
	dir := paths["freezer"]
	if dir == "" {
		return false, false, nil
	}
	st, err := (&fs.FreezerGroup{}).GetState(dir)
	if err != nil {
		return false, true, fmt.Errorf("cgroup %s: freezer state: %w", dir, err)
	}
	return st == cgroups.Frozen, true, nil
}

// Pids lists every process in the cgroup and its sub-cgroups.
func (c *Cgroup) Pids() ([]int, error) {
	pids, err := c.mgr.GetAllPids()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: list processes: %w", describe(c.cfg), err)
	}
	return pids, nil
}

// Stats reads the cgroup's counters.
func (c *Cgroup) Stats() (*cgroups.Stats, error) {
	st, err := c.mgr.GetStats()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: stats: %w", describe(c.cfg), err)
	}
	return st, nil
}

// Signal sends sig to every process in the cgroup, for a kill without a
// private pid namespace (where killing init would not take the rest along).
func (c *Cgroup) Signal(sig unix.Signal) error {
	name := describe(c.cfg)
	if c.rootless != nil && c.rootless.Mode == modeDisabled {
		// Without a cgroup there is no list of the container's processes
		// to signal; only its init can be (by the caller).
		return fmt.Errorf("cgroup %s: signal all processes: %w", name, errNoCgroupGone)
	}
	if !c.mgr.Exists() {
		return fmt.Errorf("cgroup %s: signal: %w", name, os.ErrNotExist)
	}
	if sig == unix.SIGKILL {
		done, err := c.killUnified()
		if err != nil {
			return fmt.Errorf("cgroup %s: kill: %w", name, err)
		}
		if done {
			return nil
		}
	}
	// Without cgroup.kill, a process may fork between our reading the
	// pid list and signalling it, and its child would escape. Freezing
	// first closes that window (runc does the same).
	wasFrozen, _ := c.Frozen()
	froze := true
	if err := c.Freeze(); err != nil {
		froze = false
		slog.Warn("cannot freeze the cgroup before signalling it; a process that forks meanwhile may survive", "cgroup", name, "err", err)
	}
	pids, err := c.mgr.GetAllPids()
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("cgroup %s: list processes: %w", name, err))
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("cgroup %s: signal pid %d: %w", name, pid, err))
		}
	}
	// A paused container stays paused after a signal it cannot act on yet,
	// except SIGKILL: frozen v1 tasks only die once thawed.
	if froze && (!wasFrozen || sig == unix.SIGKILL) {
		if err := c.Thaw(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killUnified writes cgroup.kill (Linux 5.14+) in the unified cgroup, which
// kills everything in it atomically, forks included. done says that nothing
// is left to do: true on a pure v2 host. On a hybrid host the unified cgroup
// only holds what was placed there, so the caller still sweeps the v1 tree.
func (c *Cgroup) killUnified() (done bool, _ error) {
	dir := c.mgr.Path("")
	if dir == "" {
		return false, nil
	}
	err := cgroups.WriteFile(dir, "cgroup.kill", "1")
	switch {
	case err == nil:
		// A user's systemd scope lives in the unified tree and holds
		// every process of the container.
		return cgroups.IsCgroup2UnifiedMode() || (c.rootless != nil && c.rootless.Mode == modeUserScope), nil
	case errors.Is(err, os.ErrNotExist):
		// Older kernel, or the unified cgroup is gone: sweep instead.
		return false, nil
	}
	return false, err
}

// Destroy removes the cgroup from every hierarchy, waiting briefly for the
// last processes to leave. A cgroup that is already gone is not an error.
func (c *Cgroup) Destroy() error {
	if c.placedBySystemd() {
		if err := c.mgr.Destroy(); err != nil {
			return fmt.Errorf("cgroup %s: destroy: %w", describe(c.cfg), err)
		}
		return nil
	}
	paths := c.Paths()
	dirs := make([]string, 0, len(paths))
	for _, name := range slices.Sorted(maps.Keys(paths)) {
		dirs = append(dirs, paths[name])
	}
	return removeDirs(dirs)
}

// DestroySaved removes the directories of a cgroup saved by Save when the
// fs drivers made it (root, no --systemd-cgroup), without rebuilding its
// manager: the delete of a stopped container needs nothing else from it,
// and Load's rebuild starts with a cold encoding/json decode of the
// library's whole configuration type. For any other kind of saved cgroup
// (systemd, rootless) it does nothing and reports false: Load it then.
func DestroySaved(raw json.RawMessage, paths map[string]string) (bool, error) {
	var st struct {
		Version int `json:"version"`
		Config  *struct {
			Systemd bool `json:"Systemd"`
		} `json:"config"`
		Paths    map[string]string `json:"paths"`
		Rootless json.RawMessage   `json:"rootless"`
	}
	if err := json.Unmarshal(raw, &st); err != nil || st.Version != savedVersion || st.Config == nil ||
		st.Config.Systemd || (len(st.Rootless) > 0 && string(st.Rootless) != "null") {
		return false, nil
	}
	if len(paths) == 0 {
		paths = st.Paths
	}
	if len(paths) == 0 {
		return false, nil
	}
	dirs := make([]string, 0, len(paths))
	for _, name := range slices.Sorted(maps.Keys(paths)) {
		if err := checkCgroupPath(paths[name]); err != nil {
			return true, fmt.Errorf("%w: %q: %w", ErrBadState, name, err)
		}
		dirs = append(dirs, paths[name])
	}
	return true, removeDirs(dirs)
}

// checkCgroupPath checks a path Load was given before anything may remove it.
func checkCgroupPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("%q is not an absolute clean path", p)
	}
	if isMountRoot(p) {
		return fmt.Errorf("%s: %w", p, ErrHierarchyRoot)
	}
	return nil
}

// isMountRoot reports whether p is a mount point (the root of a cgroup
// hierarchy): its device differs from its parent's.
func isMountRoot(p string) bool {
	if p == "/" {
		return true
	}
	var st, parent unix.Stat_t
	if unix.Lstat(p, &st) != nil || unix.Lstat(filepath.Dir(p), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// missingRoots returns, for each path, its topmost ancestor that does not
// exist yet: what creating the path will create.
func missingRoots(paths map[string]string) []string {
	var roots []string
	for _, name := range slices.Sorted(maps.Keys(paths)) {
		top := ""
		for q := paths[name]; q != "/" && q != "."; q = filepath.Dir(q) {
			if _, err := os.Lstat(q); err == nil {
				break
			}
			top = q
		}
		if top != "" && !slices.Contains(roots, top) {
			roots = append(roots, top)
		}
	}
	return roots
}

// removeDirs removes cgroup directories and their sub-cgroups, retrying
// while the kernel says EBUSY (processes still exiting).
func removeDirs(dirs []string) error {
	var errs []error
	deadline := time.Now().Add(destroyTimeout)
	for _, d := range dirs {
		if isMountRoot(d) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, ErrHierarchyRoot))
			continue
		}
		for {
			// RemovePath itself retries EBUSY for about a second.
			err := cgroups.RemovePath(d)
			if err == nil {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				break
			}
		}
	}
	return errors.Join(errs...)
}
