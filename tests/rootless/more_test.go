package rootless

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Tests of ps, update and events: the verbs that read or change a running
// container's cgroup.

// requireV1 skips a test that checks limits in v1 controller files.
func requireV1(t *testing.T, controllers ...string) {
	t.Helper()
	for _, c := range controllers {
		if _, err := os.Stat(filepath.Join(cgroupRoot, c)); err != nil {
			t.Skipf("needs the cgroup v1 %s controller (a hybrid host): cgroup v2 limits are unit-tested against fake trees", c)
		}
	}
}

// cgroupFile reads a file of the container's v1 cgroup in controller.
func (c *container) cgroupFile(controller, file string) string {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(cgroupRoot, controller, cgroupParent, c.id, file))
	if err != nil {
		c.t.Fatalf("container %s: %v", c.id, err)
	}
	return strings.TrimSpace(string(data))
}

func (c *container) wantCgroupFile(controller, file, want string) {
	c.t.Helper()
	if got := c.cgroupFile(controller, file); got != want {
		c.t.Errorf("%s/%s = %s, want %s", controller, file, got, want)
	}
}

// withResources sets linux.resources before the container is created.
func (c *container) withResources(r specs.LinuxResources) *container {
	c.spec.Linux.Resources = &r
	return c
}

// startWith creates and starts a waiter container with the given limits.
func startWith(t *testing.T, e *env, r specs.LinuxResources) *container {
	t.Helper()
	c := e.newContainer(t, "sh", "-c", waiter).withResources(r)
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	return c
}

func i64(v int64) *int64 { return &v }

// psJSON runs `ps --format json` and decodes the pid list.
func (c *container) psJSON() []int {
	c.t.Helper()
	r := c.e.mustRuntime("ps", "--format", "json", c.id)
	var pids []int
	if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil {
		c.t.Fatalf("ps --format json printed %q: %v", r.stdout, err)
	}
	return pids
}

// inContainerCgroup reports whether pid's memory (or, without it, pids)
// cgroup is the container's.
func inContainerCgroup(pid int, id string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(data), ":"+cgroupParent+"/"+id+"\n")
}

func TestPs(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startWaiter(t, e)
	st, _, _ := c.state()

	pids := c.psJSON()
	// sh (the init) and its background sleep.
	if len(pids) != 2 || !slices.Contains(pids, st.Pid) {
		t.Fatalf("ps --format json = %v, want the init %d and its sleep", pids, st.Pid)
	}
	for _, pid := range pids {
		if !inContainerCgroup(pid, c.id) {
			t.Errorf("pid %d listed by ps is not in the container's cgroup", pid)
		}
	}

	// The table: ps -ef's header, then exactly the container's lines.
	r := e.mustRuntime("ps", c.id)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	header := strings.Fields(lines[0])
	col := slices.Index(header, "PID")
	if col < 0 || header[0] != "UID" {
		t.Fatalf("ps's table does not start with ps -ef's header: %q", r.stdout)
	}
	var listed []int
	for _, line := range lines[1:] {
		pid, err := strconv.Atoi(strings.Fields(line)[col])
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		listed = append(listed, pid)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, pids) {
		t.Errorf("ps table lists pids %v, want %v:\n%s", listed, pids, r.stdout)
	}
	if strings.Contains(r.stdout, "ps -ef") {
		t.Errorf("the host's ps itself is listed:\n%s", r.stdout)
	}

	// ps options after the id go to ps, untouched.
	r = e.mustRuntime("ps", c.id, "-o", "pid,comm")
	var comms []string
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")[1:] {
		comms = append(comms, strings.Fields(line)[1])
	}
	slices.Sort(comms)
	if !slices.Equal(comms, []string{"sh", "sleep"}) {
		t.Errorf("ps ID -o pid,comm printed %q", r.stdout)
	}
	// Options that hide the PID column are an error.
	r = e.runtime("ps", c.id, "-o", "comm")
	if r.code == 0 {
		t.Errorf("ps -o comm (no PID column) succeeded: %v", r)
	}
	mustContain(t, "ps -o comm's error", r.stderr, "PID")

	// A paused container still lists its (frozen) processes.
	e.mustRuntime("pause", c.id)
	if got := c.psJSON(); !slices.Equal(got, pids) {
		t.Errorf("ps of the paused container = %v, want %v", got, pids)
	}
	e.mustRuntime("resume", c.id)

	r = e.runtime("ps", "no-such-container")
	if r.code == 0 {
		t.Errorf("ps of a missing container succeeded: %v", r)
	}
	mustContain(t, "ps's error", r.stderr, "does not exist")
	e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}

// updateStdin runs `update -r - ID` with stdin.
func (c *container) updateStdin(stdin string, flags ...string) result {
	cmd := c.e.command(append(append([]string{"update", "-r", "-"}, flags...), c.id)...)
	cmd.Stdin = strings.NewReader(stdin)
	return execute(cmd)
}

func TestUpdate(t *testing.T) {
	requireRoot(t)
	requireV1(t, "memory", "pids", "cpu")
	t.Parallel()
	e := newEnv(t)
	c := startWith(t, e, specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(32 << 20)},
		Pids:   &specs.LinuxPids{Limit: i64(20)},
	})
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "33554432")
	c.wantCgroupFile("pids", "pids.max", "20")

	e.mustRuntime("update", "--memory", "64m", c.id)
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "67108864")
	e.mustRuntime("update", "--memory", "16m", "--pids-limit", "10", c.id)
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "16777216")
	c.wantCgroupFile("pids", "pids.max", "10")
	e.mustRuntime("update", "--cpu-quota", "50000", "--cpu-period", "100000", c.id)
	c.wantCgroupFile("cpu", "cpu.cfs_quota_us", "50000")

	if r := c.updateStdin(`{"memory":{"limit":50331648},"pids":{"limit":-1}}`); r.code != 0 {
		t.Fatalf("update -r -: %v", r)
	}
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "50331648")
	c.wantCgroupFile("pids", "pids.max", "max")
	// The previous updates are remembered: a pids-only update leaves the
	// memory limit of the last one alone.
	e.mustRuntime("update", "--pids-limit", "30", c.id)
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "50331648")
	c.wantCgroupFile("pids", "pids.max", "30")

	// A paused container can be updated and stays paused.
	e.mustRuntime("pause", c.id)
	e.mustRuntime("update", "--memory", "40m", c.id)
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "41943040")
	if st, _, _ := c.state(); st.Status != "paused" {
		t.Errorf("after update of a paused container: status %q", st.Status)
	}
	e.mustRuntime("resume", c.id)

	// Bad values are refused and name what was wrong; nothing changes.
	for _, tc := range []struct {
		args    []string
		stdin   string
		mention string
	}{
		{args: []string{"--memory", "12x"}, mention: "memory"},
		{args: []string{"--pids-limit", "many"}, mention: "pids-limit"},
		{stdin: `{"memory":{"limit":"lots"}}`, mention: "memory.limit"},
	} {
		var r result
		if tc.stdin != "" {
			r = c.updateStdin(tc.stdin)
		} else {
			r = e.runtime(append(append([]string{"update"}, tc.args...), c.id)...)
		}
		if r.code == 0 {
			t.Errorf("update succeeded: %v", r)
			continue
		}
		mustContain(t, "update's error", r.stderr, tc.mention)
	}
	c.wantCgroupFile("memory", "memory.limit_in_bytes", "41943040")
	t.Run("gtu names the flag", func(t *testing.T) {
		specOnly(t, "runc 1.1.5 does not check the value itself; the kernel clamps cpu.shares to 2")
		r := e.runtime("update", "--cpu-share", "1", c.id)
		if r.code == 0 {
			t.Fatalf("update --cpu-share 1 succeeded: %v", r)
		}
		mustContain(t, "update's error", r.stderr, "--cpu-share: 1: must be 2..262144")
	})

	e.mustRuntime("kill", c.id, "KILL")
	c.waitStatus("stopped")
	if r := e.runtime("update", "--memory", "64m", c.id); r.code == 0 {
		t.Errorf("update of a stopped container succeeded: %v", r)
	}
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

// statsEvent is the part of runc's stats object the tests look at.
type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct {
				Limit uint64 `json:"limit"`
				Usage uint64 `json:"usage"`
			} `json:"usage"`
			Raw map[string]uint64 `json:"raw"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
	} `json:"data"`
}

func TestEventsStats(t *testing.T) {
	requireRoot(t)
	requireV1(t, "memory", "pids")
	t.Parallel()
	e := newEnv(t)
	c := startWith(t, e, specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(32 << 20)},
		Pids:   &specs.LinuxPids{Limit: i64(50)},
	})
	r := e.mustRuntime("events", "--stats", c.id)
	if n := strings.Count(r.stdout, "\n"); n != 1 {
		t.Errorf("events --stats printed %d lines, want one object:\n%s", n, r.stdout)
	}
	var ev statsEvent
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("events --stats printed invalid JSON: %v\n%s", err, r.stdout)
	}
	if ev.Type != "stats" || ev.ID != c.id || ev.Data == nil {
		t.Fatalf("events --stats: type %q id %q data %v, want stats for %s", ev.Type, ev.ID, ev.Data, c.id)
	}
	d := ev.Data
	if d.Memory.Usage.Usage == 0 || d.Memory.Usage.Limit != 32<<20 || len(d.Memory.Raw) == 0 {
		t.Errorf("memory %+v: want usage > 0, limit %d, raw counters", d.Memory, 32<<20)
	}
	if d.Pids.Current < 1 || d.Pids.Limit != 50 {
		t.Errorf("pids %+v: want current >= 1, limit 50", d.Pids)
	}
	if d.CPU.Usage.Total == 0 {
		t.Errorf("cpu usage total is 0")
	}
	for _, key := range []string{`"cpuset":`, `"blkio":`, `"hugetlb":`, `"throttling":`, `"swap":`, `"kernel":`} {
		if !strings.Contains(r.stdout, key) {
			t.Errorf("events --stats lacks %s (runc prints it):\n%s", key, r.stdout)
		}
	}
	e.mustRuntime("kill", c.id, "KILL")
	c.waitStatus("stopped")
	if r := e.runtime("events", "--stats", c.id); r.code == 0 {
		t.Errorf("events --stats of a stopped container succeeded: %v", r)
	}
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

// eventStream is a running `events` command and its decoded lines.
type eventStream struct {
	cmd   *exec.Cmd
	lines chan statsEvent
	done  chan error
}

func (c *container) streamEvents(interval string) *eventStream {
	c.t.Helper()
	cmd := c.e.command("events", "--interval", interval, c.id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	s := &eventStream{cmd: cmd, lines: make(chan statsEvent, 1024), done: make(chan error, 1)}
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev statsEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				ev.Type = "invalid: " + sc.Text()
			}
			s.lines <- ev
		}
		close(s.lines)
		s.done <- cmd.Wait()
	}()
	return s
}

// waitFor reads events until one of type typ arrives.
func (s *eventStream) waitFor(t *testing.T, typ string) {
	t.Helper()
	timeout := time.After(pollTimeout)
	var seen []string
	for {
		select {
		case ev, ok := <-s.lines:
			if !ok {
				t.Fatalf("events ended before a %q event; saw %v", typ, seen)
			}
			if strings.HasPrefix(ev.Type, "invalid") {
				t.Fatalf("events printed %s", ev.Type)
			}
			if ev.Type == typ {
				return
			}
			seen = append(seen, ev.Type)
		case <-timeout:
			t.Fatalf("no %q event within %v; saw %v", typ, pollTimeout, seen)
		}
	}
}

// waitExit waits for the events command to end by itself.
func (s *eventStream) waitExit(t *testing.T) {
	t.Helper()
	for {
		select {
		case _, ok := <-s.lines:
			if !ok {
				if err := <-s.done; err != nil {
					t.Errorf("events exited with %v", err)
				}
				s.done <- nil // for the cleanup
				return
			}
		case <-time.After(pollTimeout):
			t.Fatalf("events still running %v after the container stopped", pollTimeout)
		}
	}
}

// oomWatched starts script in a container limited to 16 MiB (memory and
// swap, so that a host with swap cannot page dd out), streams its events,
// lets the script go on (/tmp/go) once the OOM watch is in place, and
// waits for the "oom" event.
func oomWatched(t *testing.T, e *env, script string) (*container, *eventStream) {
	t.Helper()
	c := e.newContainer(t, "sh", "-c", script).withResources(specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(16 << 20), Swap: i64(16 << 20)},
	})
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	s := c.streamEvents("100ms")
	// The first stats object comes from the running loop, so the OOM
	// watch is in place before dd starts.
	s.waitFor(t, "stats")
	if err := os.WriteFile(filepath.Join(c.bundle, "rootfs", "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "oom")
	return c, s
}

// oomScript waits for /tmp/go, then has dd fill a 64 MiB buffer from
// /dev/zero (every page touched) inside a 16 MiB memory cgroup, which the
// kernel's OOM killer ends; the shell itself stays.
const oomScript = `trap 'exit 0' TERM; echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; ` +
	`dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?; sleep 1000 & wait`

func TestEventsOOM(t *testing.T) {
	requireRoot(t)
	requireV1(t, "memory")
	t.Parallel()
	e := newEnv(t)
	c, s := oomWatched(t, e, oomScript)
	c.waitOutput("dd=137", 1) // 128+SIGKILL: it was the OOM killer
	// Deleting the container ends the stream (runc too: its cgroup goes).
	e.mustRuntime("delete", "-f", c.id)
	s.waitExit(t)
	c.assertGone()
}

// TestEventsEndsWithContainer: when the init exits, the stream ends,
// after reporting the OOM that killed it.
func TestEventsEndsWithContainer(t *testing.T) {
	requireRoot(t)
	requireV1(t, "memory")
	specOnly(t, "runc 1.1.5 keeps printing the stats of a stopped container until its cgroup is deleted")
	t.Parallel()
	e := newEnv(t)
	// dd is the init (exec): the OOM kill stops the container.
	c, s := oomWatched(t, e, `echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; exec dd if=/dev/zero of=/dev/null bs=64M count=1`)
	s.waitExit(t)
	c.waitStatus("stopped")
	e.mustRuntime("delete", c.id)
	c.assertGone()
}
