package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/state"
)

// EventsOptions is `gtu events`.
type EventsOptions struct {
	Stats    bool          // --stats: print one stats object and return
	Interval time.Duration // --interval: time between stats objects (runc: 5s)
}

// Events writes the events of container id to w, one JSON object a line,
// shaped like runc's (the types below): with Stats one "stats" object;
// otherwise a "stats" object every Interval and an "oom" object whenever
// the cgroup runs out of memory, until the container stops. Unlike runc
// 1.1, which keeps printing the counters of a stopped container until its
// cgroup is deleted, gtu ends the stream when the container's init exits.
func Events(g Global, id string, o EventsOptions, w io.Writer) error {
	if o.Interval <= 0 {
		return fmt.Errorf("--interval %s: must be greater than 0", o.Interval)
	}
	h, err := open(g, id, false)
	if err != nil {
		return err
	}
	// The lock is only held while looking: a stream that lasts for hours
	// must not keep delete (which takes it exclusively) waiting.
	loop, err := h.eventLoop(g, o)
	h.close()
	if err != nil {
		return err
	}
	loop.enc = json.NewEncoder(w)
	if o.Stats {
		return loop.emitStats(true)
	}
	defer loop.close()
	return loop.run()
}

// eventLoop is one events stream. It multiplexes, with one poll(2), the
// stats timer, the OOM watch and the init's pidfd, and handles what is
// ready in a fixed order (OOM before exit), so an OOM that kills the
// container is always reported before the stream ends.
type eventLoop struct {
	id       string
	interval time.Duration
	stats    func() (*cgroups.Stats, error)
	oomFd    int // -1: no OOM events
	readOOM  func() (ooms int, gone bool, err error)
	pidfd    int // the init's pidfd; readable once it has exited
	closers  []func() error
	log      *slog.Logger
	enc      *json.Encoder
}

func (h *handle) eventLoop(g Global, o EventsOptions) (*eventLoop, error) {
	if h.status() == Stopped {
		return nil, ErrNotRunning
	}
	cg, err := h.cgroup()
	if err != nil {
		return nil, err
	}
	l := &eventLoop{id: h.st.ID, interval: o.Interval, stats: cg.Stats, oomFd: -1, pidfd: -1, log: g.logger()}
	if o.Stats {
		return l, nil
	}
	pidfd, err := unix.PidfdOpen(h.st.Pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", h.st.Pid, err)
	}
	l.pidfd = pidfd
	l.closers = append(l.closers, func() error { return unix.Close(pidfd) })
	// The pid may have been reused between the status check and the open.
	if !state.Alive(procRoot, h.st.Pid, h.st.PidStart) {
		l.close()
		return nil, ErrNotRunning
	}
	watch, err := cg.WatchOOM()
	if err != nil {
		l.log.Warn("OOM events will not be reported; only stats", "container", h.st.ID, "err", err)
		return l, nil
	}
	l.oomFd, l.readOOM = watch.Fd(), watch.Read
	l.closers = append(l.closers, watch.Close)
	return l, nil
}

func (l *eventLoop) close() {
	for _, c := range l.closers {
		_ = c()
	}
	l.closers = nil
}

// run streams until the init exits or the cgroup disappears. As runc, the
// first stats object comes after one interval.
func (l *eventLoop) run() error {
	next := time.Now().Add(l.interval)
	for {
		wait := time.Until(next)
		if wait <= 0 {
			if err := l.emitStats(false); err != nil {
				return err
			}
			next = next.Add(l.interval)
			if now := time.Now(); next.Before(now) {
				next = now.Add(l.interval) // we were suspended: do not catch up
			}
			continue
		}
		fds := []unix.PollFd{
			{Fd: int32(l.oomFd), Events: unix.POLLIN}, // a negative fd is ignored by poll
			{Fd: int32(l.pidfd), Events: unix.POLLIN},
		}
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		if _, err := unix.Poll(fds, ms); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("events: poll: %w", err)
		}
		if fds[0].Revents != 0 {
			gone, err := l.emitOOMs()
			if err != nil || gone {
				return err
			}
		}
		if fds[1].Revents != 0 {
			// The init has exited. An OOM that killed it was signalled
			// before the kill; report it if the poll above missed it.
			if l.oomFd >= 0 {
				if _, err := l.emitOOMs(); err != nil {
					return err
				}
			}
			return nil
		}
	}
}

func (l *eventLoop) emitOOMs() (gone bool, err error) {
	n, gone, err := l.readOOM()
	if err != nil {
		// Say it once and stop polling a descriptor that keeps failing.
		l.log.Warn("OOM events will not be reported any more", "container", l.id, "err", err)
		l.oomFd = -1
		return false, nil
	}
	for range n {
		if err := l.enc.Encode(event{Type: "oom", ID: l.id}); err != nil {
			return false, fmt.Errorf("events: write: %w", err)
		}
	}
	return gone, nil
}

// emitStats writes one stats object. A failure to read the counters ends
// a one-shot --stats; a stream logs it and goes on, as runc does.
func (l *eventLoop) emitStats(once bool) error {
	s, err := l.stats()
	if err != nil {
		if once {
			return err
		}
		l.log.Warn("cannot read stats", "container", l.id, "err", err)
		return nil
	}
	if err := l.enc.Encode(event{Type: "stats", ID: l.id, Data: convertStats(s)}); err != nil {
		return fmt.Errorf("events: write: %w", err)
	}
	return nil
}

// The objects `runc events` prints (runc 1.1's types package), with the
// same JSON names and omitempty choices, so that tools written for runc's
// output read gtu's. Only what cgroups provide is filled in: runc, too,
// prints an empty intel_rdt and null network_interfaces for OCI containers.

type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *stats `json:"data,omitempty"`
}

type stats struct {
	CPU               cpuStats            `json:"cpu"`
	CPUSet            cpusetStats         `json:"cpuset"`
	Memory            memoryStats         `json:"memory"`
	Pids              pidsStats           `json:"pids"`
	Blkio             blkioStats          `json:"blkio"`
	Hugetlb           map[string]hugetlb  `json:"hugetlb"`
	IntelRdt          intelRdt            `json:"intel_rdt"`
	NetworkInterfaces []*networkInterface `json:"network_interfaces"`
}

type hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type blkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type blkioStats struct {
	IoServiceBytesRecursive []blkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []blkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []blkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []blkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []blkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []blkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []blkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []blkioEntry `json:"sectorsRecursive,omitempty"`
}

type pidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

type cpuUsage struct {
	Total        uint64   `json:"total,omitempty"` // nanoseconds
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type cpuStats struct {
	Usage      cpuUsage   `json:"usage,omitempty"`
	Throttling throttling `json:"throttling,omitempty"`
}

type cpusetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type memoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     memoryEntry       `json:"usage,omitempty"`
	Swap      memoryEntry       `json:"swap,omitempty"`
	Kernel    memoryEntry       `json:"kernel,omitempty"`
	KernelTCP memoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// intelRdt is always empty: gtu does not manage resctrl groups.
type intelRdt struct{}

// networkInterface is runc's (untagged) per-interface counter set; gtu,
// like runc for OCI containers, never has any.
type networkInterface struct {
	Name      string
	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}

// convertStats turns the cgroup library's counters into runc's shape.
func convertStats(cg *cgroups.Stats) *stats {
	if cg == nil {
		return nil
	}
	u := cg.CpuStats.CpuUsage
	t := cg.CpuStats.ThrottlingData
	cs := cg.CPUSetStats
	m := cg.MemoryStats
	b := cg.BlkioStats
	s := &stats{
		CPU: cpuStats{
			Usage: cpuUsage{Total: u.TotalUsage, Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode,
				PercpuUser: u.PercpuUsageInUsermode, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode},
			Throttling: throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime},
		},
		CPUSet: cpusetStats{CPUs: cs.CPUs, CPUExclusive: cs.CPUExclusive, Mems: cs.Mems, MemHardwall: cs.MemHardwall,
			MemExclusive: cs.MemExclusive, MemoryMigrate: cs.MemoryMigrate, MemorySpreadPage: cs.MemorySpreadPage,
			MemorySpreadSlab: cs.MemorySpreadSlab, MemoryPressure: cs.MemoryPressure, SchedLoadBalance: cs.SchedLoadBalance,
			SchedRelaxDomainLevel: cs.SchedRelaxDomainLevel},
		Memory: memoryStats{Cache: m.Cache, Usage: memEntry(m.Usage), Swap: memEntry(m.SwapUsage),
			Kernel: memEntry(m.KernelUsage), KernelTCP: memEntry(m.KernelTCPUsage), Raw: m.Stats},
		Pids: pidsStats{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit},
		Blkio: blkioStats{
			IoServiceBytesRecursive: blkio(b.IoServiceBytesRecursive),
			IoServicedRecursive:     blkio(b.IoServicedRecursive),
			IoQueuedRecursive:       blkio(b.IoQueuedRecursive),
			IoServiceTimeRecursive:  blkio(b.IoServiceTimeRecursive),
			IoWaitTimeRecursive:     blkio(b.IoWaitTimeRecursive),
			IoMergedRecursive:       blkio(b.IoMergedRecursive),
			IoTimeRecursive:         blkio(b.IoTimeRecursive),
			SectorsRecursive:        blkio(b.SectorsRecursive),
		},
		Hugetlb: make(map[string]hugetlb, len(cg.HugetlbStats)),
	}
	for size, h := range cg.HugetlbStats {
		s.Hugetlb[size] = hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return s
}

func memEntry(d cgroups.MemoryData) memoryEntry {
	return memoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkio(in []cgroups.BlkioStatEntry) []blkioEntry {
	var out []blkioEntry
	for _, e := range in {
		out = append(out, blkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}
