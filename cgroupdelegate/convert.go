package cgroupdelegate

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Everything in this file is pure: it reads neither /proc nor /sys, so that
// every branch can be table-tested.

// systemdScopePrefix names the transient scope systemd creates when
// config.json has no "slice:prefix:name" cgroupsPath (runc uses "runc").
const systemdScopePrefix = "gtu"

// Kernel ranges, checked here so that a bad value is reported against its
// config.json field instead of as an EINVAL from some cgroupfs file.
const (
	minCPUShares  = 2      // kernel/sched: MIN_SHARES
	maxCPUShares  = 262144 // kernel/sched: MAX_SHARES
	minCFSQuotaUs = 1000   // cfs_quota_us below 1ms is EINVAL
	minCFSPeriod  = 1000   // cfs_period_us is 1ms..1s
	maxCFSPeriod  = 1000000
	minBlkioW     = 10 // blkio.weight and friends are 10..1000
	maxBlkioW     = 1000
	maxSwappiness = 100
)

// defaultDevices are the rules runc 1.1 adds to every container after the
// spec's own linux.resources.devices (specconv.AllowedDevices). Measured
// against runc 1.1.5 on the project machine: devices.list of a container
// whose spec denies everything holds exactly these, tun/tap included and
// /dev/console (5:1) not. Entries with a path are dropped when linux.devices
// names the same path, as runc does: the spec's device takes priority.
var defaultDevices = []struct {
	path string
	rule devconfig.Rule
}{
	// mknod of any node; access is still governed by the rules below.
	{"", charRule(devconfig.Wildcard, devconfig.Wildcard, "m")},
	{"", devconfig.Rule{Type: devconfig.BlockDevice, Major: devconfig.Wildcard, Minor: devconfig.Wildcard, Permissions: "m", Allow: true}},
	{"/dev/null", charRule(1, 3, "rwm")},
	{"/dev/random", charRule(1, 8, "rwm")},
	{"/dev/full", charRule(1, 7, "rwm")},
	{"/dev/tty", charRule(5, 0, "rwm")},
	{"/dev/zero", charRule(1, 5, "rwm")},
	{"/dev/urandom", charRule(1, 9, "rwm")},
	{"", charRule(136, devconfig.Wildcard, "rwm")}, // /dev/pts/*
	{"", charRule(5, 2, "rwm")},                    // /dev/ptmx
	{"", charRule(10, 200, "rwm")},                 // /dev/net/tun
}

func charRule(major, minor int64, perms devconfig.Permissions) devconfig.Rule {
	return devconfig.Rule{Type: devconfig.CharDevice, Major: major, Minor: minor, Permissions: perms, Allow: true}
}

// cgroupConfig turns Config into the library's description of the cgroup:
// where it lives and what it limits. Warnings are degradations the caller
// should log (settings that are accepted but ignored).
func cgroupConfig(c Config) (*cgroups.Cgroup, []string, error) {
	cg := &cgroups.Cgroup{Systemd: c.Systemd}
	if err := convertPath(c, cg); err != nil {
		return nil, nil, err
	}
	res, warnings, err := convertResources(c.Resources)
	if err != nil {
		return nil, nil, err
	}
	var specRules []specs.LinuxDeviceCgroup
	if c.Resources != nil {
		specRules = c.Resources.Devices
	}
	res.Devices, err = deviceRules(specRules, c.Devices)
	if err != nil {
		return nil, nil, err
	}
	cg.Resources = res
	return cg, warnings, nil
}

// convertPath places the cgroup the way runc does. For the fs drivers an
// absolute path is taken from the hierarchy roots, a relative one is joined
// under gtu's own cgroup (per hierarchy), and an empty one means the
// relative path "<ID>". For systemd the path is "slice:prefix:name".
func convertPath(c Config, cg *cgroups.Cgroup) error {
	const field = "linux.cgroupsPath"
	if c.Systemd {
		if c.Path == "" {
			if err := checkName(c.ID); err != nil {
				return badField("container id", err)
			}
			cg.ScopePrefix = systemdScopePrefix
			cg.Name = c.ID
			return nil
		}
		parts := strings.Split(c.Path, ":")
		if len(parts) != 3 {
			return badField(field, fmt.Errorf(`%q: expected "slice:prefix:name" with --systemd-cgroup`, c.Path))
		}
		if err := checkName(parts[2]); err != nil {
			return badField(field, fmt.Errorf("%q: name: %w", c.Path, err))
		}
		if parts[0] != "" && !strings.HasSuffix(parts[0], ".slice") {
			return badField(field, fmt.Errorf(`%q: slice %q does not end in ".slice"`, c.Path, parts[0]))
		}
		cg.Parent, cg.ScopePrefix, cg.Name = parts[0], parts[1], parts[2]
		return nil
	}
	if c.Path == "" {
		if err := checkName(c.ID); err != nil {
			return badField("container id", err)
		}
		cg.Name = c.ID
		return nil
	}
	p := cleanPath(c.Path)
	switch p {
	case "/":
		return badField(field, fmt.Errorf("%q: %w", c.Path, ErrHierarchyRoot))
	case ".", "":
		// "." cleans to gtu's own cgroup, whose removal would take
		// every sibling container with it.
		return badField(field, fmt.Errorf("%q names gtu's own cgroup", c.Path))
	}
	cg.Path = p
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a cgroup name", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%q contains '/' or NUL", name)
	}
	return nil
}

// cleanPath cleans p lexically without letting a relative path climb out of
// its base: "../../x" becomes "x" (runc's utils.CleanPath).
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	rel, _ := filepath.Rel("/", filepath.Clean("/"+p))
	return rel
}

// convertResources converts linux.resources (all but devices, see
// deviceRules). A nil r gives empty resources: the fs v1 driver needs a
// non-nil Resources even when nothing is limited.
func convertResources(r *specs.LinuxResources) (*cgroups.Resources, []string, error) {
	res := &cgroups.Resources{}
	if r == nil {
		return res, nil, nil
	}
	var warnings []string
	steps := []func() error{
		func() error {
			w, err := convertMemory(r.Memory, res)
			warnings = append(warnings, w...)
			return err
		},
		func() error { return convertCPU(r.CPU, res) },
		func() error { return convertBlockIO(r.BlockIO, res) },
		func() error { return convertMisc(r, res) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	return res, warnings, nil
}

// limitOrUnset accepts the values the memory files take: a byte count, -1
// for no limit, and 0, which the library reads as "leave as is".
func limitOrUnset(field string, v *int64) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if *v < -1 {
		return 0, badField(field, fmt.Errorf("%d: must be a byte count or -1 (no limit)", *v))
	}
	return *v, nil
}

func convertMemory(m *specs.LinuxMemory, res *cgroups.Resources) ([]string, error) {
	if m == nil {
		return nil, nil
	}
	const pre = "linux.resources.memory."
	var err error
	if res.Memory, err = limitOrUnset(pre+"limit", m.Limit); err != nil {
		return nil, err
	}
	if res.MemoryReservation, err = limitOrUnset(pre+"reservation", m.Reservation); err != nil {
		return nil, err
	}
	if res.MemorySwap, err = limitOrUnset(pre+"swap", m.Swap); err != nil {
		return nil, err
	}
	// swap is memory+swap in the spec (v1 memsw semantics); the kernel
	// refuses memsw below the memory limit.
	if res.MemorySwap > 0 && res.Memory > 0 && res.MemorySwap < res.Memory {
		return nil, badField(pre+"swap", fmt.Errorf("%d: is memory+swap and must not be below memory.limit (%d)", res.MemorySwap, res.Memory))
	}
	if m.Swappiness != nil {
		// A uint64 max is how -1 ("leave as is") arrives from some callers.
		if *m.Swappiness != math.MaxUint64 {
			if *m.Swappiness > maxSwappiness {
				return nil, badField(pre+"swappiness", fmt.Errorf("%d: must be 0..100", *m.Swappiness))
			}
			v := *m.Swappiness
			res.MemorySwappiness = &v
		}
	}
	if m.DisableOOMKiller != nil {
		res.OomKillDisable = *m.DisableOOMKiller
	}
	if m.CheckBeforeUpdate != nil {
		res.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
	}
	var warnings []string
	//nolint:staticcheck // Kernel and KernelTCP are deprecated; read only to warn.
	if m.Kernel != nil || m.KernelTCP != nil {
		// Kernel memory limits were removed in Linux 5.4 (v1 kmem is
		// accounted in the memory limit since), and runc ignores them too.
		warnings = append(warnings, pre+"kernel and kernelTCP are ignored: kernel memory limits no longer exist; it is counted in memory.limit")
	}
	return warnings, nil
}

func convertCPU(c *specs.LinuxCPU, res *cgroups.Resources) error {
	if c == nil {
		return nil
	}
	const pre = "linux.resources.cpu."
	if c.Shares != nil && *c.Shares != 0 {
		if *c.Shares < minCPUShares || *c.Shares > maxCPUShares {
			return badField(pre+"shares", fmt.Errorf("%d: must be %d..%d", *c.Shares, minCPUShares, maxCPUShares))
		}
		res.CpuShares = *c.Shares
		// The fs2 and systemd v2 drivers write CpuWeight and never look at
		// CpuShares: the conversion is the caller's job.
		res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*c.Shares)
	}
	if c.Quota != nil {
		q := *c.Quota
		if q < -1 || (q > 0 && q < minCFSQuotaUs) {
			return badField(pre+"quota", fmt.Errorf("%d: must be -1 (no limit) or at least %d (microseconds)", q, minCFSQuotaUs))
		}
		res.CpuQuota = q
	}
	if c.Period != nil && *c.Period != 0 {
		if *c.Period < minCFSPeriod || *c.Period > maxCFSPeriod {
			return badField(pre+"period", fmt.Errorf("%d: must be %d..%d (microseconds)", *c.Period, minCFSPeriod, maxCFSPeriod))
		}
		res.CpuPeriod = *c.Period
	}
	if c.Burst != nil {
		v := *c.Burst
		res.CpuBurst = &v
	}
	if c.RealtimeRuntime != nil {
		if *c.RealtimeRuntime < -1 {
			return badField(pre+"realtimeRuntime", fmt.Errorf("%d: must be -1 (no limit) or a time in microseconds", *c.RealtimeRuntime))
		}
		res.CpuRtRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		res.CpuRtPeriod = *c.RealtimePeriod
	}
	if res.CpuRtRuntime > 0 && res.CpuRtPeriod > 0 && uint64(res.CpuRtRuntime) > res.CpuRtPeriod {
		return badField(pre+"realtimeRuntime", fmt.Errorf("%d: exceeds realtimePeriod %d", res.CpuRtRuntime, res.CpuRtPeriod))
	}
	if err := checkCPUList(c.Cpus); err != nil {
		return badField(pre+"cpus", err)
	}
	if err := checkCPUList(c.Mems); err != nil {
		return badField(pre+"mems", err)
	}
	res.CpusetCpus, res.CpusetMems = c.Cpus, c.Mems
	if c.Idle != nil {
		if *c.Idle != 0 && *c.Idle != 1 {
			return badField(pre+"idle", fmt.Errorf("%d: must be 0 or 1", *c.Idle))
		}
		v := *c.Idle
		res.CPUIdle = &v
	}
	return nil
}

// checkCPUList checks the kernel's list format, e.g. "0-3,5,7-8".
func checkCPUList(s string) error {
	if s == "" {
		return nil
	}
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || b < a {
			return fmt.Errorf("%q: %q is not a number or a range N-M", s, item)
		}
	}
	return nil
}

func checkWeight(field string, w *uint16) (uint16, error) {
	if w == nil || *w == 0 {
		return 0, nil
	}
	if *w < minBlkioW || *w > maxBlkioW {
		return 0, badField(field, fmt.Errorf("%d: must be %d..%d", *w, minBlkioW, maxBlkioW))
	}
	return *w, nil
}

func checkBlockDevice(field string, d specs.LinuxBlockIODevice) error {
	if d.Major < 0 || d.Minor < 0 {
		return badField(field, fmt.Errorf("%d:%d: major and minor must not be negative", d.Major, d.Minor))
	}
	return nil
}

func convertBlockIO(b *specs.LinuxBlockIO, res *cgroups.Resources) error {
	if b == nil {
		return nil
	}
	const pre = "linux.resources.blockIO."
	var err error
	if res.BlkioWeight, err = checkWeight(pre+"weight", b.Weight); err != nil {
		return err
	}
	if res.BlkioLeafWeight, err = checkWeight(pre+"leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for i, wd := range b.WeightDevice {
		f := fmt.Sprintf("%sweightDevice[%d]", pre, i)
		if err := checkBlockDevice(f, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		w, err := checkWeight(f+".weight", wd.Weight)
		if err != nil {
			return err
		}
		lw, err := checkWeight(f+".leafWeight", wd.LeafWeight)
		if err != nil {
			return err
		}
		res.BlkioWeightDevice = append(res.BlkioWeightDevice, cgroups.NewWeightDevice(wd.Major, wd.Minor, w, lw))
	}
	throttles := []struct {
		name string
		in   []specs.LinuxThrottleDevice
		out  *[]*cgroups.ThrottleDevice
	}{
		{"throttleReadBpsDevice", b.ThrottleReadBpsDevice, &res.BlkioThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", b.ThrottleWriteBpsDevice, &res.BlkioThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", b.ThrottleReadIOPSDevice, &res.BlkioThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice, &res.BlkioThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for i, td := range t.in {
			if err := checkBlockDevice(fmt.Sprintf("%s%s[%d]", pre, t.name, i), td.LinuxBlockIODevice); err != nil {
				return err
			}
			*t.out = append(*t.out, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
		}
	}
	return nil
}

// hugePageSize is the spec's "<size><unit-prefix>B", e.g. 2MB, 1GB, 64KB.
var hugePageSize = regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`)

// convertMisc converts pids, hugepageLimits, network, rdma and unified.
func convertMisc(r *specs.LinuxResources, res *cgroups.Resources) error {
	if r.Pids != nil && r.Pids.Limit != nil {
		// Passed through: -1 (any negative) is "max", a positive value is
		// the limit, and 0 is written as 1, which behaves the same for a
		// cgroup that holds a process (runtime-spec#1279).
		v := *r.Pids.Limit
		res.PidsLimit = &v
	}
	for i, l := range r.HugepageLimits {
		if !hugePageSize.MatchString(l.Pagesize) {
			return badField(fmt.Sprintf("linux.resources.hugepageLimits[%d].pageSize", i),
				fmt.Errorf("%q: expected <size><K|M|G>B, e.g. 2MB", l.Pagesize))
		}
		res.HugetlbLimit = append(res.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: l.Pagesize, Limit: l.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			res.NetClsClassid = *n.ClassID
		}
		for i, p := range n.Priorities {
			if p.Name == "" || strings.ContainsAny(p.Name, " \n/") {
				return badField(fmt.Sprintf("linux.resources.network.priorities[%d].name", i), fmt.Errorf("%q is not an interface name", p.Name))
			}
			res.NetPrioIfpriomap = append(res.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		res.Rdma = make(map[string]cgroups.LinuxRdma, len(r.Rdma))
		for dev, v := range r.Rdma {
			if dev == "" || strings.ContainsAny(dev, " \n") {
				return badField("linux.resources.rdma", fmt.Errorf("%q is not an RDMA device name", dev))
			}
			res.Rdma[dev] = cgroups.LinuxRdma{HcaHandles: v.HcaHandles, HcaObjects: v.HcaObjects}
		}
	}
	if len(r.Unified) > 0 {
		keys := make([]string, 0, len(r.Unified))
		for k := range r.Unified {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		res.Unified = make(map[string]string, len(keys))
		for _, k := range keys {
			ctrl, param, ok := strings.Cut(k, ".")
			if !ok || ctrl == "" || param == "" || strings.ContainsAny(k, "/\x00") {
				return badField(fmt.Sprintf("linux.resources.unified[%q]", k), errors.New("key must be a cgroup v2 file name: <controller>.<parameter>"))
			}
			res.Unified[k] = r.Unified[k]
		}
	}
	return nil
}

// deviceRules builds the device allow-list in runc's order: the spec's
// linux.resources.devices, then defaultDevices, then an rwm allow rule for
// each linux.devices entry (the container gets the node, so it may use it).
func deviceRules(spec []specs.LinuxDeviceCgroup, devs []specs.LinuxDevice) ([]*devconfig.Rule, error) {
	var rules []*devconfig.Rule
	for i, d := range spec {
		f := fmt.Sprintf("linux.resources.devices[%d]", i)
		t := devconfig.WildcardDevice
		switch d.Type {
		case "", "a":
		case "b":
			t = devconfig.BlockDevice
		case "c":
			t = devconfig.CharDevice
		default:
			return nil, badField(f+".type", fmt.Errorf("%q: must be a, b or c", d.Type))
		}
		major, minor := int64(devconfig.Wildcard), int64(devconfig.Wildcard)
		if d.Major != nil {
			major = *d.Major
		}
		if d.Minor != nil {
			minor = *d.Minor
		}
		if major < devconfig.Wildcard || minor < devconfig.Wildcard {
			return nil, badField(f, fmt.Errorf("%d:%d: major and minor must be -1 (any) or non-negative", major, minor))
		}
		perms := devconfig.Permissions(d.Access)
		if perms.IsEmpty() || !perms.IsValid() {
			return nil, badField(f+".access", fmt.Errorf("%q: must be a non-empty combination of r, w and m", d.Access))
		}
		rules = append(rules, &devconfig.Rule{Type: t, Major: major, Minor: minor, Permissions: perms, Allow: d.Allow})
	}
	named := make(map[string]bool, len(devs))
	for _, d := range devs {
		named[d.Path] = true
	}
	for _, dd := range defaultDevices {
		if dd.path != "" && named[dd.path] {
			continue
		}
		r := dd.rule
		rules = append(rules, &r)
	}
	for i, d := range devs {
		f := fmt.Sprintf("linux.devices[%d]", i)
		var t devconfig.Type
		switch d.Type {
		case "c", "u":
			t = devconfig.CharDevice
		case "b":
			t = devconfig.BlockDevice
		case "p":
			// A FIFO is not governed by the devices cgroup.
			continue
		default:
			return nil, badField(f+".type", fmt.Errorf("%q: must be c, u, b or p", d.Type))
		}
		if d.Major < 0 || d.Minor < 0 {
			return nil, badField(f, fmt.Errorf("%d:%d: major and minor must not be negative", d.Major, d.Minor))
		}
		rules = append(rules, &devconfig.Rule{Type: t, Major: d.Major, Minor: d.Minor, Permissions: "rwm", Allow: true})
	}
	return rules, nil
}
