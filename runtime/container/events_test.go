package container

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// runcStats is what `runc events --stats` (runc 1.1.5) printed here for a
// busybox container on the hybrid v1 host, with memory.raw cut down to a
// few keys; the counters below reproduce it.
const runcStats = `{"type":"stats","id":"runcref","data":{"cpu":{"usage":{"total":13676866,"percpu":[9266901,4409965],"percpu_kernel":[8000000,4000000],"percpu_user":[4000000,0],"kernel":10000000,"user":0},"throttling":{}},"cpuset":{"cpus":[0,1],"cpu_exclusive":0,"mems":[0],"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":1,"sched_relax_domain_level":-1},"memory":{"usage":{"limit":33554432,"usage":692224,"max":2588672,"failcnt":0},"swap":{"limit":9223372036854771712,"usage":692224,"max":2588672,"failcnt":0},"kernel":{"limit":9223372036854771712,"usage":323584,"max":671744,"failcnt":0},"kernelTCP":{"limit":9223372036854771712,"failcnt":0},"raw":{"active_anon":4096,"cache":0,"hierarchical_memory_limit":33554432,"pgfault":851}},"pids":{"current":2,"limit":50},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}}
`

func runcRefStats() *cgroups.Stats {
	const noLimit = 9223372036854771712
	s := cgroups.NewStats()
	s.CpuStats.CpuUsage = cgroups.CpuUsage{TotalUsage: 13676866, PercpuUsage: []uint64{9266901, 4409965},
		PercpuUsageInKernelmode: []uint64{8000000, 4000000}, PercpuUsageInUsermode: []uint64{4000000, 0},
		UsageInKernelmode: 10000000}
	s.CPUSetStats = cgroups.CPUSetStats{CPUs: []uint16{0, 1}, Mems: []uint16{0}, SchedLoadBalance: 1, SchedRelaxDomainLevel: -1}
	s.MemoryStats.Usage = cgroups.MemoryData{Limit: 33554432, Usage: 692224, MaxUsage: 2588672}
	s.MemoryStats.SwapUsage = cgroups.MemoryData{Limit: noLimit, Usage: 692224, MaxUsage: 2588672}
	s.MemoryStats.KernelUsage = cgroups.MemoryData{Limit: noLimit, Usage: 323584, MaxUsage: 671744}
	s.MemoryStats.KernelTCPUsage = cgroups.MemoryData{Limit: noLimit}
	s.MemoryStats.Stats = map[string]uint64{"active_anon": 4096, "cache": 0, "hierarchical_memory_limit": 33554432, "pgfault": 851}
	s.PidsStats = cgroups.PidsStats{Current: 2, Limit: 50}
	return s
}

func TestConvertStatsLikeRunc(t *testing.T) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(event{Type: "stats", ID: "runcref", Data: convertStats(runcRefStats())}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != runcStats {
		t.Errorf("got\n%s\nwant (runc 1.1.5)\n%s", got, runcStats)
	}
}

func TestConvertStatsFull(t *testing.T) {
	s := runcRefStats()
	s.CpuStats.ThrottlingData = cgroups.ThrottlingData{Periods: 10, ThrottledPeriods: 2, ThrottledTime: 300}
	s.MemoryStats.Cache = 4096
	s.BlkioStats.IoServiceBytesRecursive = []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Op: "Read", Value: 512}}
	s.BlkioStats.SectorsRecursive = []cgroups.BlkioStatEntry{{Major: 8, Op: "Total"}}
	s.HugetlbStats["2MB"] = cgroups.HugetlbStats{Usage: 1, MaxUsage: 2, Failcnt: 3}
	b, err := json.Marshal(convertStats(s))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"throttling":{"periods":10,"throttledPeriods":2,"throttledTime":300}`,
		`"memory":{"cache":4096,`,
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":512}],"sectorsRecursive":[{"major":8,"op":"Total"}]}`,
		`"hugetlb":{"2MB":{"usage":1,"max":2,"failcnt":3}}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s\ndoes not contain %s", b, want)
		}
	}
	if convertStats(nil) != nil {
		t.Error("convertStats(nil) is not nil")
	}
	// An oom event has no data at all, as in runc.
	b, _ = json.Marshal(event{Type: "oom", ID: "c"})
	if string(b) != `{"type":"oom","id":"c"}` {
		t.Errorf("oom event: %s", b)
	}
}

// testLoop builds an event loop over a real child process (its pidfd is
// the "init") and an eventfd standing in for the OOM watch.
func testLoop(t *testing.T, interval time.Duration) (*eventLoop, *exec.Cmd, int, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("needs sleep")
	}
	child := exec.Command("sleep", "1000")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	pidfd, err := unix.PidfdOpen(child.Process.Pid, 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pidfd); unix.Close(efd) })
	var out, logs bytes.Buffer
	l := &eventLoop{
		id: "c", interval: interval, oomFd: efd, pidfd: pidfd,
		stats: func() (*cgroups.Stats, error) { return runcRefStats(), nil },
		readOOM: func() (int, bool, error) {
			var b [8]byte
			if _, err := unix.Read(efd, b[:]); errors.Is(err, unix.EAGAIN) {
				return 0, false, nil
			} else if err != nil {
				return 0, false, err
			}
			return int(binary.NativeEndian.Uint64(b[:])), false, nil
		},
		log: slog.New(slog.NewTextHandler(&logs, nil)),
		enc: json.NewEncoder(&out),
	}
	return l, child, efd, &out, &logs
}

func signalEventfd(t *testing.T, fd int, n uint64) {
	t.Helper()
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], n)
	if _, err := unix.Write(fd, b[:]); err != nil {
		t.Fatal(err)
	}
}

func types(out string) []string {
	var ts []string
	for line := range strings.Lines(out) {
		var e struct{ Type, ID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return append(ts, "invalid: "+line)
		}
		ts = append(ts, e.Type)
	}
	return ts
}

// TestEventLoopOOMBeforeExit: an OOM that kills the init is signalled
// before the exit; both are ready together, and the OOM must come out.
func TestEventLoopOOMBeforeExit(t *testing.T) {
	l, child, efd, out, _ := testLoop(t, time.Hour)
	signalEventfd(t, efd, 2)
	_ = child.Process.Kill()
	_ = child.Wait()
	if err := l.run(); err != nil {
		t.Fatal(err)
	}
	if got := types(out.String()); strings.Join(got, ",") != "oom,oom" {
		t.Errorf("events %v, want two ooms and the end", got)
	}
}

// TestEventLoopStatsUntilExit: stats every interval, the first after one
// interval, and the stream ends when the init exits.
func TestEventLoopStatsUntilExit(t *testing.T) {
	l, child, efd, out, logs := testLoop(t, 10*time.Millisecond)
	var calls int
	start := time.Now()
	l.stats = func() (*cgroups.Stats, error) {
		calls++
		switch calls {
		case 1:
			if d := time.Since(start); d < 10*time.Millisecond {
				t.Errorf("first stats after %v, want one interval", d)
			}
			signalEventfd(t, efd, 1)
		case 2:
			return nil, errors.New("cgroup went away for a moment")
		case 3:
			_ = child.Process.Kill()
			_ = child.Wait()
		}
		return runcRefStats(), nil
	}
	if err := l.run(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(types(out.String()), ","); got != "stats,oom,stats" {
		t.Errorf("events %s, want stats,oom,stats", got)
	}
	if !strings.Contains(logs.String(), "cgroup went away for a moment") {
		t.Errorf("a failed stats read was not logged: %q", logs.String())
	}
}

// TestEventLoopOOMGone: the watch reporting the cgroup gone ends the
// stream; a watch that fails is dropped with one warning.
func TestEventLoopOOMGone(t *testing.T) {
	l, _, efd, out, _ := testLoop(t, time.Hour)
	l.readOOM = func() (int, bool, error) { return 1, true, nil }
	signalEventfd(t, efd, 1)
	if err := l.run(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(types(out.String()), ","); got != "oom" {
		t.Errorf("events %s, want oom", got)
	}

	l, child, efd, out, logs := testLoop(t, time.Hour)
	reads := 0
	l.readOOM = func() (int, bool, error) {
		reads++
		_ = child.Process.Kill()
		return 0, false, errors.New("eventfd broke")
	}
	signalEventfd(t, efd, 1)
	if err := l.run(); err != nil {
		t.Fatal(err)
	}
	if reads != 1 || out.Len() != 0 || strings.Count(logs.String(), "eventfd broke") != 1 {
		t.Errorf("reads %d, output %q, logs %q: want one read, nothing out, one warning", reads, out, logs)
	}
}

func TestEventsBadInterval(t *testing.T) {
	err := Events(Global{Root: t.TempDir()}, "c", EventsOptions{Interval: 0}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--interval") {
		t.Errorf("err = %v, want one naming --interval", err)
	}
}
