package cgroupdelegate

import (
	"fmt"

	"github.com/opencontainers/cgroups"
)

// disabledManager is the rootless manager when nothing is delegated and the
// spec asks for no limits: the container runs in gtu's own cgroups.
// Creating and placing are no-ops; whatever needs the container's own
// cgroup (pause needs a freezer, kill --all and ps a process list, events
// the counters) fails with ErrNoCgroup.
type disabledManager struct {
	cfg *cgroups.Cgroup
}

func (disabledManager) Set(r *cgroups.Resources) error {
	if hasLimits(r) {
		return errSetLimits()
	}
	return nil
}

func newDisabled(cg *cgroups.Cgroup, r *savedRootless) *Cgroup {
	return &Cgroup{cfg: cg, mgr: disabledManager{cfg: cg}, rootless: r}
}

func (disabledManager) Apply(int) error                        { return nil }
func (disabledManager) AddPid(string, int) error               { return nil }
func (disabledManager) Destroy() error                         { return nil }
func (disabledManager) Path(string) string                     { return "" }
func (disabledManager) GetPaths() map[string]string            { return map[string]string{} }
func (disabledManager) Exists() bool                           { return false }
func (m disabledManager) GetCgroups() (*cgroups.Cgroup, error) { return m.cfg, nil }

func (disabledManager) GetPids() ([]int, error)    { return nil, noCgroup("list processes") }
func (disabledManager) GetAllPids() ([]int, error) { return nil, noCgroup("list processes") }
func (disabledManager) GetStats() (*cgroups.Stats, error) {
	return nil, noCgroup("read counters")
}
func (disabledManager) Stats(*cgroups.StatsOptions) (*cgroups.Stats, error) {
	return nil, noCgroup("read counters")
}
func (disabledManager) Freeze(cgroups.FreezerState) error {
	return noCgroup("freeze or thaw (needs a freezer cgroup)")
}

// GetFreezerState: a container without a freezer is never frozen.
func (disabledManager) GetFreezerState() (cgroups.FreezerState, error) { return cgroups.Thawed, nil }
func (disabledManager) OOMKillCount() (uint64, error)                  { return 0, noCgroup("count OOM kills") }

func noCgroup(what string) error {
	return fmt.Errorf("cannot %s: %w; to get one, ask root to run `gtu cgroup-delegate --user USER` or run under a systemd --user session", what, ErrNoCgroup)
}
