package rootless

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// waiter stays up until SIGTERM and reports each signal it handles. A plain
// `sleep` would not do: PID 1 of a pid namespace ignores every signal it has
// no handler for, so TERM (the default of `kill`) would never stop it.
// `wait` returns as soon as a trapped signal arrives, so the traps run at
// once.
const waiter = `trap 'echo got-USR1' USR1; trap 'echo got-TERM; exit 0' TERM; echo ready; sleep 1000 & while :; do wait; done`

// startWaiter creates and starts a waiter container and waits until its
// traps are installed.
func startWaiter(t *testing.T, e *env) *container {
	t.Helper()
	c := e.newContainer(t, "sh", "-c", waiter)
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	return c
}

// removeNamespace drops a namespace type from the container's config.
func removeNamespace(c *container, typ specs.LinuxNamespaceType) {
	c.spec.Linux.Namespaces = slices.DeleteFunc(c.spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == typ
	})
}

func hasNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	return slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
}

func readSpec(t *testing.T, path string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if s.Linux == nil {
		t.Fatalf("%s has no linux section", path)
	}
	return &s
}

func TestRunExitStatus(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cases := []struct {
		name   string
		script string
		// PID 1 of a pid namespace ignores even SIGKILL sent from inside
		// it, so a shell that kills itself must not be init there.
		noPidNS bool
		want    int
	}{
		{"zero", "exit 0", false, 0},
		{"three", "exit 3", false, 3},
		{"sigkill", "kill -9 $$", true, 137},
		{"sigterm", "kill -TERM $$", true, 143},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.newContainer(t, "sh", "-c", tc.script)
			if tc.noPidNS {
				removeNamespace(c, "pid")
			}
			r := c.run()
			if r.code != tc.want {
				t.Errorf("want exit status %d, got %v", tc.want, r)
			}
			c.assertGone()
		})
	}
}

// A container killed by a signal from outside: `run` reports 128+signal,
// as a shell would.
func TestRunKilledFromOutside(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "sleep", "1000")
	c.write()
	cmd := e.command("run", "-b", c.bundle, c.id)
	done := make(chan result, 1)
	go func() { done <- execute(cmd) }()
	c.waitStatus("running")
	c.recordPid()
	e.mustRuntime("kill", c.id, "KILL")
	if r := <-done; r.code != 137 {
		t.Errorf("want exit status 137 from a SIGKILLed container, got %v", r)
	}
	c.assertGone()
}

func TestCreateStartStateDelete(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "sh", "-c", waiter)
	pidFile := filepath.Join(c.bundle, "container.pid")
	if r := c.create("--pid-file", pidFile); r.code != 0 {
		t.Fatalf("%v", r)
	}
	st, raw, r := c.state()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	if st.Status != "created" || st.ID != c.id || st.Bundle != c.bundle || st.Pid <= 0 || st.Version == "" {
		t.Errorf("state after create: want status created, id %s, bundle %s, a pid and ociVersion; got %s", c.id, c.bundle, r.stdout)
	}
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state JSON lacks %q: %s", k, r.stdout)
		}
	}
	t.Run("only OCI state fields", func(t *testing.T) {
		specOnly(t, `runc adds "rootfs", "created" and "owner" to the OCI state`)
		for k := range raw {
			if !slices.Contains([]string{"ociVersion", "id", "status", "pid", "bundle", "annotations"}, k) {
				t.Errorf("state JSON has non-OCI field %q: %s", k, r.stdout)
			}
		}
	})
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if got := strings.TrimSpace(string(data)); got != strconv.Itoa(st.Pid) {
		t.Errorf("pid file says %q, state says %d", got, st.Pid)
	}
	// The init process sits in the container's cgroup, in every hierarchy,
	// before the user process starts.
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil {
		t.Fatalf("container pid %d: %v", st.Pid, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		if !strings.HasSuffix(line, ":"+cgroupParent+"/"+c.id) {
			t.Errorf("pid %d is not in cgroup %s/%s: %s", st.Pid, cgroupParent, c.id, line)
		}
	}
	if strings.Contains(c.output(), "ready") {
		t.Errorf("the user process ran before start: %q", c.output())
	}

	c.mustStart()
	c.waitOutput("ready", 1)
	running, _, _ := c.state()
	if running.Status != "running" || running.Pid != st.Pid {
		t.Errorf("after start: want running with pid %d, got %+v", st.Pid, running)
	}
	if r := c.start(); r.code == 0 {
		t.Errorf("a second start of a running container succeeded: %v", r)
	}

	e.mustRuntime("kill", c.id)
	c.waitOutput("got-TERM", 1)
	c.waitStatus("stopped")
	e.mustRuntime("delete", c.id)
	c.assertGone()
	if r := e.runtime("state", c.id); r.code == 0 {
		t.Errorf("state of a deleted container succeeded: %v", r)
	}
}

// A created container can be deleted without -f, and its process never runs.
func TestDeleteCreated(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "sh", "-c", "echo ran")
	c.mustCreate()
	e.mustRuntime("delete", c.id)
	c.assertGone()
	if out := c.output(); strings.Contains(out, "ran") {
		t.Errorf("the process of a deleted, never started container ran: %q", out)
	}
}

func TestDeleteRunning(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startWaiter(t, e)
	r := e.runtime("delete", c.id)
	if r.code == 0 {
		t.Fatalf("delete of a running container succeeded without -f: %v", r)
	}
	mustContain(t, "delete's error", r.stderr, c.id)
	if st, _, _ := c.state(); st.Status != "running" {
		t.Errorf("a failed delete changed the container: status %q", st.Status)
	}
	e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}

func TestList(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	created := e.newContainer(t, "sh", "-c", waiter)
	created.mustCreate()
	running := startWaiter(t, e)
	want := map[string]string{created.id: "created", running.id: "running"}
	pids := map[string]int{}
	for _, c := range []*container{created, running} {
		st, _, _ := c.state()
		pids[c.id] = st.Pid
	}

	t.Run("table", func(t *testing.T) {
		out := e.mustRuntime("list").stdout
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
			t.Errorf("table header: got %q", lines[0])
		}
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 rows:\n%s", out)
		}
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || want[f[0]] != f[2] || f[1] != strconv.Itoa(pids[f[0]]) || f[3] != filepath.Join(workDir, f[0]) {
				t.Errorf("unexpected row %q (want id, pid, status, bundle of %v)", line, want)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		out := e.mustRuntime("list", "--format", "json").stdout
		var got []struct {
			ID     string `json:"id"`
			Pid    int    `json:"pid"`
			Status string `json:"status"`
			Bundle string `json:"bundle"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("list --format json: %v\n%s", err, out)
		}
		if len(got) != 2 {
			t.Fatalf("want 2 containers: %s", out)
		}
		for _, g := range got {
			if want[g.ID] != g.Status || g.Pid != pids[g.ID] || g.Bundle != filepath.Join(workDir, g.ID) {
				t.Errorf("unexpected entry %+v (want %v)", g, want)
			}
		}
	})
	t.Run("quiet", func(t *testing.T) {
		got := strings.Fields(e.mustRuntime("list", "-q").stdout)
		slices.Sort(got)
		ids := []string{created.id, running.id}
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("list -q: want %v, got %v", ids, got)
		}
	})
	t.Run("empty", func(t *testing.T) {
		empty := newEnv(t)
		out := empty.mustRuntime("list", "--format", "json").stdout
		var got []json.RawMessage
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 0 {
			t.Errorf("list --format json with no containers: want [] or null, got %q (%v)", out, err)
		}
		if out := empty.mustRuntime("list", "-q").stdout; strings.TrimSpace(out) != "" {
			t.Errorf("list -q with no containers printed %q", out)
		}
	})
}

func TestKill(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	t.Run("by name and number, default TERM", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := startWaiter(t, e)
		// One at a time: standard signals do not queue, so a second USR1
		// sent before the first is handled could merge with it.
		for i, sig := range []string{"USR1", "SIGUSR1", "10"} {
			e.mustRuntime("kill", c.id, sig)
			c.waitOutput("got-USR1", i+1)
		}
		e.mustRuntime("kill", c.id)
		c.waitOutput("got-TERM", 1)
		c.waitStatus("stopped")
		e.mustRuntime("delete", c.id)
		c.assertGone()
	})
	t.Run("KILL by number", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := startWaiter(t, e)
		e.mustRuntime("kill", c.id, "9")
		c.waitStatus("stopped")
		if strings.Contains(c.output(), "got-TERM") {
			t.Errorf("signal 9 was delivered as TERM: %q", c.output())
		}
		e.mustRuntime("delete", c.id)
		c.assertGone()
	})
	t.Run("all processes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := startWaiter(t, e)
		e.mustRuntime("kill", "-a", c.id, "KILL")
		c.waitStatus("stopped")
		e.mustRuntime("delete", c.id)
		c.assertGone()
	})
	t.Run("unknown signal", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := startWaiter(t, e)
		r := e.runtime("kill", c.id, "NOSUCHSIG")
		if r.code == 0 {
			t.Errorf("kill with an unknown signal succeeded: %v", r)
		}
		mustContain(t, "kill's error", r.stderr, "NOSUCHSIG")
		if st, _, _ := c.state(); st.Status != "running" {
			t.Errorf("a failed kill changed the container: %q", st.Status)
		}
	})
}

func TestPauseResume(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startWaiter(t, e)
	e.mustRuntime("pause", c.id)
	if st, _, _ := c.state(); st.Status != "paused" {
		t.Errorf("after pause: status %q, want paused", st.Status)
	}
	if out := e.mustRuntime("list").stdout; !strings.Contains(out, "paused") {
		t.Errorf("list does not show the paused container:\n%s", out)
	}
	if !cgroupFrozen(c.id) {
		t.Errorf("neither the v1 freezer nor cgroup v2 reports %s/%s frozen", cgroupParent, c.id)
	}
	e.mustRuntime("resume", c.id)
	if st, _, _ := c.state(); st.Status != "running" {
		t.Errorf("after resume: status %q, want running", st.Status)
	}
	if cgroupFrozen(c.id) {
		t.Errorf("cgroup %s/%s still frozen after resume", cgroupParent, c.id)
	}
	// A thawed container handles signals again.
	e.mustRuntime("kill", c.id, "USR1")
	c.waitOutput("got-USR1", 1)
	e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}

// cgroupFrozen reports whether the container's cgroup is frozen through
// either freezer: v1's freezer.state or v2's cgroup.events (a hybrid host
// has both; MACHINE.md).
func cgroupFrozen(id string) bool {
	v1, _ := os.ReadFile(filepath.Join(cgroupRoot, "freezer", cgroupParent, id, "freezer.state"))
	if strings.TrimSpace(string(v1)) == "FROZEN" {
		return true
	}
	for _, dir := range []string{filepath.Join(cgroupRoot, "unified"), cgroupRoot} {
		ev, _ := os.ReadFile(filepath.Join(dir, cgroupParent, id, "cgroup.events"))
		if strings.Contains(string(ev), "frozen 1") {
			return true
		}
	}
	return false
}

func TestDuplicateID(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "sh", "-c", waiter)
	c.mustCreate()
	first, _, _ := c.state()
	for _, verb := range []string{"create", "run"} {
		r := e.runtime(verb, "-b", c.bundle, c.id)
		if r.code == 0 {
			t.Errorf("%s of an existing id succeeded: %v", verb, r)
		}
		mustContain(t, verb+"'s error", r.stderr, "exists")
		t.Run(verb+" names the id", func(t *testing.T) {
			specOnly(t, `runc says "container with given ID already exists" without the id`)
			mustContain(t, verb+"'s error", r.stderr, c.id)
		})
	}
	if st, _, _ := c.state(); st.Status != "created" || st.Pid != first.Pid {
		t.Errorf("the failed duplicate changed the original: %+v, was %+v", st, first)
	}
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

func TestUnknownContainer(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	id := fmt.Sprintf("no-such-container-%d", os.Getpid())
	for _, args := range [][]string{
		{"state", id}, {"start", id}, {"kill", id}, {"kill", id, "KILL"},
		{"pause", id}, {"resume", id}, {"delete", id},
	} {
		r := e.runtime(args...)
		if r.code == 0 {
			t.Errorf("%v", r)
		}
		t.Run(args[0]+" names the id", func(t *testing.T) {
			specOnly(t, `runc says "container does not exist" without the id`)
			mustContain(t, args[0]+"'s error", r.stderr, id)
		})
	}
	// podman and conmon clean up with `delete --force` and expect success
	// when the container is already gone (runc behaves so).
	if r := e.runtime("delete", "-f", id); r.code != 0 {
		t.Errorf("delete -f of a missing container must succeed: %v", r)
	}
}

func TestRunDetached(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "sh", "-c", waiter)
	if r := c.runDetached(); r.code != 0 {
		t.Fatalf("%v", r)
	}
	c.waitOutput("ready", 1)
	if st, _, _ := c.state(); st.Status != "running" {
		t.Errorf("after run -d: status %q, want running", st.Status)
	}
	e.mustRuntime("kill", c.id, "KILL")
	c.waitStatus("stopped")
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

func TestRunKeep(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "sh", "-c", "exit 4")
	if r := c.run("--keep"); r.code != 4 {
		t.Errorf("want exit status 4, got %v", r)
	}
	if st, _, r := c.state(); r.code != 0 || st.Status != "stopped" {
		t.Errorf("run --keep must leave a stopped container: %v", r)
	}
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

func TestSpec(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	t.Run("default", func(t *testing.T) {
		dir := t.TempDir()
		e.mustRuntime("spec", "-b", dir)
		s := readSpec(t, filepath.Join(dir, "config.json"))
		if s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil || !slices.Equal(s.Process.Args, []string{"sh"}) || !s.Process.Terminal {
			t.Errorf("spec: want root.path rootfs, process.args [sh], terminal true; got %+v %+v", s.Root, s.Process)
		}
		for _, ns := range []specs.LinuxNamespaceType{"pid", "mount", "ipc", "uts", "network"} {
			if !hasNamespace(s, ns) {
				t.Errorf("spec lacks the %s namespace", ns)
			}
		}
		r := e.runtime("spec", "-b", dir)
		if r.code == 0 {
			t.Errorf("spec overwrote an existing config.json: %v", r)
		}
		mustContain(t, "spec's error", r.stderr, "config.json")
	})
	t.Run("current directory", func(t *testing.T) {
		dir := t.TempDir()
		cmd := e.command("spec")
		cmd.Dir = dir
		if r := execute(cmd); r.code != 0 {
			t.Fatalf("%v", r)
		}
		readSpec(t, filepath.Join(dir, "config.json"))
	})
	t.Run("rootless", func(t *testing.T) {
		dir := t.TempDir()
		e.mustRuntime("spec", "--rootless", "-b", dir)
		s := readSpec(t, filepath.Join(dir, "config.json"))
		if !hasNamespace(s, "user") {
			t.Errorf("spec --rootless has no user namespace")
		}
		if hasNamespace(s, "network") {
			t.Errorf("spec --rootless keeps a network namespace, which an unprivileged user cannot configure")
		}
		uid := uint32(os.Getuid())
		if len(s.Linux.UIDMappings) == 0 || s.Linux.UIDMappings[0].HostID != uid || s.Linux.UIDMappings[0].ContainerID != 0 {
			t.Errorf("spec --rootless: want container root mapped to uid %d, got %+v", uid, s.Linux.UIDMappings)
		}
		if len(s.Linux.GIDMappings) == 0 || s.Linux.GIDMappings[0].HostID != uint32(os.Getgid()) {
			t.Errorf("spec --rootless: want container root group mapped to gid %d, got %+v", os.Getgid(), s.Linux.GIDMappings)
		}
	})
}

func TestFeatures(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	out := e.mustRuntime("features").stdout
	var f features.Features
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features: %v\n%s", err, out)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax == "" {
		t.Errorf("features lacks ociVersionMin/Max: %s", out)
	}
	// Hooks come in a later issue: whatever is listed must be a real hook.
	for _, h := range f.Hooks {
		if !slices.Contains([]string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}, h) {
			t.Errorf("features.hooks lists an unknown hook %q", h)
		}
	}
	for _, o := range []string{"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "rprivate"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("features.mountOptions lacks %s", o)
		}
	}
	if f.Linux == nil {
		t.Fatalf("features has no linux section: %s", out)
	}
	for _, ns := range []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"} {
		if !slices.Contains(f.Linux.Namespaces, ns) {
			t.Errorf("features.linux.namespaces lacks %s", ns)
		}
	}
	for _, c := range []string{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"} {
		if !slices.Contains(f.Linux.Capabilities, c) {
			t.Errorf("features.linux.capabilities lacks %s", c)
		}
	}
	if f.Linux.Cgroup == nil || f.Linux.Cgroup.V1 == nil || !*f.Linux.Cgroup.V1 {
		t.Errorf("features.linux.cgroup.v1 is not true (this host is hybrid): %s", out)
	}
	t.Run("time namespace", func(t *testing.T) {
		specOnly(t, "runc 1.1.5 has no time namespace support")
		if !slices.Contains(f.Linux.Namespaces, "time") {
			t.Errorf("features.linux.namespaces lacks time")
		}
	})
}

// A failing command with --log F --log-format json leaves a JSON error line
// in F: podman shows the "msg" of the last error line as the reason.
func TestLogFormatJSON(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	bundle := t.TempDir() // no config.json
	logFile := filepath.Join(t.TempDir(), "runtime.log")
	id := uniqueID(t)
	r := e.runtime("--log", logFile, "--log-format", "json", "create", "-b", bundle, id)
	if r.code == 0 {
		t.Fatalf("create without config.json succeeded: %v", r)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("--log %s: %v", logFile, err)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		msg, _ := entry["msg"].(string)
		if entry["level"] == "error" && strings.Contains(msg, "config.json") {
			found = true
		}
	}
	if !found {
		t.Errorf(`no {"level":"error","msg":"...config.json..."} line in the log:\n%s`, data)
	}
}

// GOPHERTAINER_ROOT replaces the default state directory.
func TestRootFromEnvironment(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc takes its state directory from --root or XDG_RUNTIME_DIR only")
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "true")
	c.write()
	cmd := e.command("create", "-b", c.bundle, c.id)
	cmd.Args = slices.Delete(cmd.Args, 1, 3) // drop --root ROOT
	cmd.Env = append(cmd.Env, "GOPHERTAINER_ROOT="+e.root)
	if r := c.executeDetached(cmd); r.code != 0 {
		t.Fatalf("%v", r)
	}
	c.waitStatus("created")
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

// TestDeleteAfterCgroupRemoved: a container whose cgroup another container
// (same cgroupsPath) or an admin removed must still be killable and
// deletable, leaving no state behind.
func TestDeleteAfterCgroupRemoved(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc 1.1.5 fails delete -f when the cgroup is gone")
	t.Parallel()
	e := newEnv(t)
	c := startWaiter(t, e)
	st, _, _ := c.state()
	// Move the processes to a sibling cgroup and remove the container's
	// directories, as the delete of a second container sharing the path
	// would have.
	for _, dir := range containerCgroupDirs(c.id) {
		moved := dir + "-moved"
		if err := os.Mkdir(moved, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(moved) })
		if strings.Contains(dir, "/cpuset/") {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				_ = os.WriteFile(filepath.Join(moved, f), b, 0)
			}
		}
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, pid := range strings.Fields(string(procs)) {
			if err := os.WriteFile(filepath.Join(moved, "cgroup.procs"), []byte(pid), 0); err != nil {
				t.Fatalf("move %s out of %s: %v", pid, dir, err)
			}
		}
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.runtime("delete", "-f", c.id); r.code != 0 {
		t.Fatalf("delete -f after the cgroup was removed: %v", r)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err == nil && !isZombie(st.Pid) {
		t.Errorf("init pid %d still alive after delete -f", st.Pid)
	}
	c.assertGone()
}

// The init stage runs from gtu-init, installed next to gtu (see
// cmd/gtu-init); a gtu without it refuses clearly and leaves nothing.
func TestInitStageImage(t *testing.T) {
	requireRoot(t)
	specOnly(t, "gtu-init is gtu's own program")
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "true")
	c.mustCreate()
	st, _, r := c.state()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid))
	if err != nil {
		t.Fatalf("init pid %d: %v", st.Pid, err)
	}
	if filepath.Base(exe) != "gtu-init" {
		t.Errorf("the created container's init stage runs %s, want gtu-init", exe)
	}
	e.mustRuntime("delete", "--force", c.id)
	c.assertGone()

	// gtu without gtu-init next to it (the seccomp compiler is there, for
	// the test bundle's profile).
	dir := shortTempDir(t, "gtua")
	for _, name := range []string{"gtu", "gtu-seccomp"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(runtimeBin), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e2 := newEnv(t)
	c2 := e2.newContainer(t, "true")
	c2.write()
	for _, verb := range []string{"create", "run"} {
		cmd := e2.command(verb, "--bundle", c2.bundle, c2.id)
		cmd.Path = filepath.Join(dir, "gtu")
		r := execute(cmd)
		if r.code == 0 || !strings.Contains(r.stderr, "gtu-init") || !strings.Contains(r.stderr, filepath.Join(dir, "gtu-init")) {
			t.Errorf("%s without gtu-init: want a failure naming %s, got %v", verb, filepath.Join(dir, "gtu-init"), r)
		}
		c2.assertGone()
	}
}

// A pids limit too small for the init stage's threads fails create with a
// message that says so, and leaves nothing behind.
func TestPidsLimitTooSmall(t *testing.T) {
	requireRoot(t)
	specOnly(t, "the message is gtu's")
	t.Parallel()
	e := newEnv(t)
	c := e.newContainer(t, "true")
	if c.spec.Linux.Resources == nil {
		c.spec.Linux.Resources = &specs.LinuxResources{}
	}
	limit := int64(2)
	c.spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	r := c.run()
	if r.code == 0 || !strings.Contains(r.stderr, "linux.resources.pids.limit 2") {
		t.Errorf("run with pids.limit 2: want a failure naming linux.resources.pids.limit, got %v", r)
	}
	c.assertGone()
}
