package cgroupdelegate

import (
	"errors"
	"fmt"
	"maps"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the limits of a live cgroup (`gtu update`). r holds only
// what changes: a nil field leaves the current value alone. Values are
// checked exactly as config.json's are at create, so a bad one is reported
// against its linux.resources field (see RenameField). The fields runc's
// update changes are applied; the others (devices, hugepage limits,
// throttles, network...) are returned as warnings and left alone.
//
// The merged configuration is written with the cgroup manager's Set and
// kept in c, so that a following Save describes the new limits. If the
// kernel refuses a value, the previous limits are written back.
func (c *Cgroup) Update(r *specs.LinuxResources) (warnings []string, err error) {
	if r == nil {
		return nil, nil
	}
	next, warnings, err := mergeUpdate(c.cfg.Resources, r, cgroups.IsCgroup2UnifiedMode())
	if err != nil {
		return nil, err
	}
	name := describe(c.cfg)
	if err := c.set(next); err != nil {
		err = fmt.Errorf("cgroup %s: update: %w", name, err)
		if rerr := c.set(c.cfg.Resources); rerr != nil {
			err = errors.Join(err, fmt.Errorf("cgroup %s: restoring the previous limits also failed, the cgroup may be half updated: %w", name, rerr))
		}
		return nil, err
	}
	c.cfg.Resources = next
	return warnings, nil
}

// set writes res without touching the device rules (update cannot change
// them, and rewriting a v1 devices list means deny-all first, which a
// running container would notice) or the freezer (a paused container stays
// paused).
func (c *Cgroup) set(res *cgroups.Resources) error {
	r := *res
	r.SkipDevices = true
	r.Freezer = cgroups.Undefined
	return c.mgr.Set(&r)
}

// RenameField rewrites the field named by a validation error from New or
// Update, for callers whose input was not config.json (update's flags, a
// resources file): rename gets e.g. "linux.resources.memory.limit" and
// returns what to show instead. Other errors are returned as they are.
func RenameField(err error, rename func(field string) string) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return err
	}
	return &fieldError{field: rename(fe.field), err: fe.err}
}

// mergeUpdate applies the set fields of r to a copy of cur. v2 says whether
// the host is cgroup v2 unified (linux.resources.unified needs it).
func mergeUpdate(cur *cgroups.Resources, r *specs.LinuxResources, v2 bool) (*cgroups.Resources, []string, error) {
	conv, warnings, err := convertResources(r)
	if err != nil {
		return nil, nil, err
	}
	next := new(cgroups.Resources)
	if cur != nil {
		*next = *cur
	}
	if err := mergeMemory(next, conv, r.Memory); err != nil {
		return nil, nil, err
	}
	mergeCPU(next, conv, r.CPU)
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		next.BlkioWeight = conv.BlkioWeight
	}
	// runc 1.1 reads a pids limit of 0 as "unchanged" (its flag's default),
	// and so does gtu: -1 removes the limit.
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit != 0 {
		next.PidsLimit = conv.PidsLimit
	}
	if len(r.Unified) > 0 {
		if !v2 {
			return nil, nil, badField("linux.resources.unified",
				fmt.Errorf("%w: this host keeps its controllers in cgroup v1 hierarchies", ErrUnifiedNeedsV2))
		}
		next.Unified = maps.Clone(next.Unified)
		if next.Unified == nil {
			next.Unified = make(map[string]string, len(conv.Unified))
		}
		maps.Copy(next.Unified, conv.Unified)
	}
	return next, append(warnings, notUpdated(r)...), nil
}

func mergeMemory(next, conv *cgroups.Resources, m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	const pre = "linux.resources.memory."
	if m.Limit != nil {
		next.Memory = conv.Memory
		// As runc: "no limit" without a word about swap means no limit on
		// memory+swap either, or the kernel would refuse memory above it.
		if conv.Memory == -1 && m.Swap == nil {
			next.MemorySwap = -1
		}
	}
	if m.Swap != nil {
		next.MemorySwap = conv.MemorySwap
	}
	if m.Reservation != nil {
		next.MemoryReservation = conv.MemoryReservation
	}
	if m.CheckBeforeUpdate != nil {
		next.MemoryCheckBeforeUpdate = conv.MemoryCheckBeforeUpdate
	}
	// The kernel keeps memory.limit at or below memory+swap; say which
	// setting is in the way instead of passing on its EINVAL.
	if next.Memory > 0 && next.MemorySwap > 0 && next.MemorySwap < next.Memory {
		if m.Limit != nil && m.Swap == nil {
			return badField(pre+"limit", fmt.Errorf("%d: above the memory+swap limit %d; change swap as well", next.Memory, next.MemorySwap))
		}
		return badField(pre+"swap", fmt.Errorf("%d: is memory+swap and must not be below the memory limit %d", next.MemorySwap, next.Memory))
	}
	return nil
}

func mergeCPU(next, conv *cgroups.Resources, c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	if c.Shares != nil && *c.Shares != 0 {
		next.CpuShares, next.CpuWeight = conv.CpuShares, conv.CpuWeight
	}
	if c.Quota != nil {
		next.CpuQuota = conv.CpuQuota
	}
	// A period of 0 means "the system default", which the drivers read
	// as "leave it".
	if c.Period != nil && *c.Period != 0 {
		next.CpuPeriod = conv.CpuPeriod
	}
	if c.Burst != nil {
		next.CpuBurst = conv.CpuBurst
	}
	if c.RealtimeRuntime != nil {
		next.CpuRtRuntime = conv.CpuRtRuntime
	}
	if c.RealtimePeriod != nil {
		next.CpuRtPeriod = conv.CpuRtPeriod
	}
	if c.Cpus != "" {
		next.CpusetCpus = conv.CpusetCpus
	}
	if c.Mems != "" {
		next.CpusetMems = conv.CpusetMems
	}
	if c.Idle != nil {
		next.CPUIdle = conv.CPUIdle
	}
}

// notUpdated warns about each field of r that update leaves alone, as
// runc does: it was checked (a bad value is still an error) but not applied.
func notUpdated(r *specs.LinuxResources) []string {
	var fields []string
	if m := r.Memory; m != nil {
		if m.Swappiness != nil {
			fields = append(fields, "memory.swappiness")
		}
		if m.DisableOOMKiller != nil {
			fields = append(fields, "memory.disableOOMKiller")
		}
		if m.UseHierarchy != nil {
			fields = append(fields, "memory.useHierarchy")
		}
	}
	if b := r.BlockIO; b != nil {
		if b.LeafWeight != nil {
			fields = append(fields, "blockIO.leafWeight")
		}
		if len(b.WeightDevice) > 0 {
			fields = append(fields, "blockIO.weightDevice")
		}
		if len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0 {
			fields = append(fields, "blockIO.throttle*Device")
		}
	}
	if len(r.Devices) > 0 {
		fields = append(fields, "devices")
	}
	if len(r.HugepageLimits) > 0 {
		fields = append(fields, "hugepageLimits")
	}
	if r.Network != nil {
		fields = append(fields, "network")
	}
	if len(r.Rdma) > 0 {
		fields = append(fields, "rdma")
	}
	warnings := make([]string, 0, len(fields))
	for _, f := range fields {
		warnings = append(warnings, "linux.resources."+f+": update does not change it (nor does runc's); ignored")
	}
	return warnings
}
