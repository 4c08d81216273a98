package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/cgroupdelegate"
)

// UpdateOptions is `gtu update`: where new limits come from. Every flag is
// kept as the text the user typed ("" when not given), so that parsing
// errors can name the flag.
type UpdateOptions struct {
	// Resources is -r: a file holding runtime-spec's linux.resources
	// object, or "-" for Stdin. Flags given as well override its fields
	// (runc ignores them instead).
	Resources string
	Stdin     io.Reader

	Memory            string // --memory: bytes, or with a unit (512m, 1g); -1 for no limit
	MemorySwap        string // --memory-swap: memory+swap, same syntax
	MemoryReservation string // --memory-reservation: same syntax
	KernelMemory      string // --kernel-memory: accepted and ignored, as runc does
	KernelMemoryTCP   string // --kernel-memory-tcp: the same
	CPUShares         string // --cpu-share
	CPUQuota          string // --cpu-quota (microseconds; -1 for none)
	CPUPeriod         string // --cpu-period (microseconds)
	CPURtPeriod       string // --cpu-rt-period
	CPURtRuntime      string // --cpu-rt-runtime
	CpusetCpus        string // --cpuset-cpus
	CpusetMems        string // --cpuset-mems
	PidsLimit         string // --pids-limit: 0 leaves it, -1 removes it
	BlkioWeight       string // --blkio-weight: 10..1000, 0 leaves it
}

// Update changes the cgroup limits of a created, running or paused
// container and records them in its state, so that later verbs see them.
func Update(g Global, id string, o UpdateOptions) error {
	req, fromFlag, err := o.resources()
	if err != nil {
		return err
	}
	if o.KernelMemory != "" || o.KernelMemoryTCP != "" {
		g.logger().Warn("--kernel-memory and --kernel-memory-tcp are ignored: kernel memory limits no longer exist (Linux 5.4+); kernel memory counts against --memory")
	}
	h, err := open(g, id, true)
	if err != nil {
		return err
	}
	defer h.close()
	if h.status() == Stopped {
		return ErrNotRunning
	}
	cg, err := h.cgroup()
	if err != nil {
		return err
	}
	warnings, err := cg.Update(req)
	if err != nil {
		return cgroupdelegate.RenameField(err, func(field string) string {
			return o.fieldName(field, fromFlag)
		})
	}
	for _, w := range warnings {
		g.logger().Warn(o.fieldName(w, nil))
	}
	raw, err := cg.Save()
	if err != nil {
		return err
	}
	h.st.Cgroup = raw
	h.st.CgroupPaths = cg.Paths()
	if err := h.dir.Save(h.st); err != nil {
		return fmt.Errorf("the limits were changed but not recorded: %w", err)
	}
	return nil
}

// resourcesPrefix is how cgroupdelegate names the fields of linux.resources.
const resourcesPrefix = "linux.resources."

// fieldName turns cgroupdelegate's "linux.resources.memory.limit" into
// what the user wrote: the flag that set it, or the field of the -r input
// (which is the resources object itself, so without the prefix).
func (o UpdateOptions) fieldName(field string, fromFlag map[string]string) string {
	if flag, ok := fromFlag[field]; ok {
		return flag
	}
	rest, ok := strings.CutPrefix(field, resourcesPrefix)
	if !ok || o.Resources == "" {
		return field
	}
	return o.source() + ": " + rest
}

// source names the -r input in messages.
func (o UpdateOptions) source() string {
	if o.Resources == "-" {
		return "-r - (stdin)"
	}
	return "-r " + o.Resources
}

// resources builds the request: the -r input, then the flags on top.
// fromFlag maps each field a flag set to the flag's name.
func (o UpdateOptions) resources() (*specs.LinuxResources, map[string]string, error) {
	r := new(specs.LinuxResources)
	if o.Resources != "" {
		var err error
		if r, err = o.readResources(); err != nil {
			return nil, nil, err
		}
	}
	fromFlag := map[string]string{}
	err := applyFlags(r, []flagSetter{
		{"--memory", o.Memory, "memory.limit", func(s string) error { return setBytes(s, &memory(r).Limit) }},
		{"--memory-swap", o.MemorySwap, "memory.swap", func(s string) error { return setBytes(s, &memory(r).Swap) }},
		{"--memory-reservation", o.MemoryReservation, "memory.reservation", func(s string) error { return setBytes(s, &memory(r).Reservation) }},
		{"--cpu-share", o.CPUShares, "cpu.shares", func(s string) error { return setUint(s, &cpu(r).Shares) }},
		{"--cpu-quota", o.CPUQuota, "cpu.quota", func(s string) error { return setInt(s, &cpu(r).Quota) }},
		{"--cpu-period", o.CPUPeriod, "cpu.period", func(s string) error { return setUint(s, &cpu(r).Period) }},
		{"--cpu-rt-period", o.CPURtPeriod, "cpu.realtimePeriod", func(s string) error { return setUint(s, &cpu(r).RealtimePeriod) }},
		{"--cpu-rt-runtime", o.CPURtRuntime, "cpu.realtimeRuntime", func(s string) error { return setInt(s, &cpu(r).RealtimeRuntime) }},
		{"--cpuset-cpus", o.CpusetCpus, "cpu.cpus", func(s string) error { cpu(r).Cpus = s; return nil }},
		{"--cpuset-mems", o.CpusetMems, "cpu.mems", func(s string) error { cpu(r).Mems = s; return nil }},
		{"--pids-limit", o.PidsLimit, "pids.limit", func(s string) error {
			if r.Pids == nil {
				r.Pids = new(specs.LinuxPids)
			}
			return setInt(s, &r.Pids.Limit)
		}},
		{"--blkio-weight", o.BlkioWeight, "blockIO.weight", func(s string) error {
			v, err := strconv.ParseUint(s, 10, 16)
			if err != nil {
				return errors.New("not a number from 10 to 1000")
			}
			if r.BlockIO == nil {
				r.BlockIO = new(specs.LinuxBlockIO)
			}
			w := uint16(v)
			r.BlockIO.Weight = &w
			return nil
		}},
	}, fromFlag)
	if err != nil {
		return nil, nil, err
	}
	return r, fromFlag, nil
}

func (o UpdateOptions) readResources() (*specs.LinuxResources, error) {
	src, name := o.Stdin, o.source()
	if o.Resources != "-" {
		f, err := os.Open(o.Resources)
		if err != nil {
			return nil, fmt.Errorf("-r: %w", err)
		}
		defer f.Close()
		src = f
	}
	if src == nil {
		return nil, fmt.Errorf("%s: no standard input", name)
	}
	r := new(specs.LinuxResources)
	// Like runc: one JSON value, unknown fields ignored (they may be
	// newer runtime-spec fields).
	if err := json.NewDecoder(src).Decode(r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("%s: %s: want %s, got a JSON %s", name, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("%s: not a linux.resources JSON object: %w", name, err)
	}
	return r, nil
}

// flagSetter is one update flag: its name, value, the linux.resources
// field it sets (relative to linux.resources) and how.
type flagSetter struct {
	flag, value, field string
	set                func(string) error
}

func applyFlags(r *specs.LinuxResources, flags []flagSetter, fromFlag map[string]string) error {
	for _, f := range flags {
		if f.value == "" {
			continue
		}
		if err := f.set(f.value); err != nil {
			return fmt.Errorf("%s %q: %w", f.flag, f.value, err)
		}
		fromFlag[resourcesPrefix+f.field] = f.flag
	}
	return nil
}

func memory(r *specs.LinuxResources) *specs.LinuxMemory {
	if r.Memory == nil {
		r.Memory = new(specs.LinuxMemory)
	}
	return r.Memory
}

func cpu(r *specs.LinuxResources) *specs.LinuxCPU {
	if r.CPU == nil {
		r.CPU = new(specs.LinuxCPU)
	}
	return r.CPU
}

func setBytes(s string, dst **int64) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*dst = &v
	return nil
}

func setUint(s string, dst **uint64) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return errors.New("not an unsigned integer")
	}
	*dst = &v
	return nil
}

func setInt(s string, dst **int64) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	*dst = &v
	return nil
}

var (
	errNotSize  = errors.New("not a size like 1024, 512k, 64m or 1g")
	errTooLarge = errors.New("too large")
)

// parseBytes reads a memory size the way runc's update does (docker's
// units.RAMInBytes): a decimal number, an optional space, then an optional
// binary unit k, m, g, t or p (any case, 1024-based), optionally followed by
// "i" and/or "b": 512, 512b, 64k, 512m, 1.5g, 2GiB, "1 GB". -1 means no
// limit.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	num := s
	i := 0
	for i < len(num) && (num[i] >= '0' && num[i] <= '9' || num[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimPrefix(s[i:], " "))
	if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, errNotSize
	}
	shift := 0
	if unit != "" {
		if p := strings.IndexByte("kmgtp", unit[0]); p >= 0 {
			shift = 10 * (p + 1)
			unit = unit[1:]
		}
		unit = strings.TrimPrefix(unit, "i")
		unit = strings.TrimPrefix(unit, "b")
		if unit != "" {
			return 0, errNotSize
		}
	}
	if !strings.Contains(num, ".") {
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || (shift > 0 && v > math.MaxInt64>>shift) {
			return 0, errTooLarge
		}
		return v << shift, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errNotSize
	}
	f *= float64(int64(1) << shift)
	if f >= math.MaxInt64 {
		return 0, errTooLarge
	}
	return int64(f), nil
}
