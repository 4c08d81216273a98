package rootless

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/internal/mounts"
	"golang.org/x/sys/unix"
)

const (
	// commandTimeout bounds every runtime or podman invocation, so a hung
	// runtime fails its test instead of the whole suite's timeout.
	commandTimeout = 2 * time.Minute
	// pollTimeout bounds every wait for a state change.
	pollTimeout = 20 * time.Second
	// markEnv is put into every container's environment so that the
	// leftover checker can find the container's processes by their
	// /proc/PID/environ, whatever pid namespace they live in.
	markEnv = "GTU_TEST_MARK"
	// cgroupParent is the parent of every test cgroup (MACHINE.md: tests
	// use absolute paths, never the caller's own memory cgroup, which
	// belongs to PID 1's tree).
	cgroupParent = "/gtu-test"
	cgroupRoot   = "/sys/fs/cgroup"
)

// result is what one command did.
type result struct {
	args   []string
	stdout string
	stderr string
	// code is the exit status, or -1 when the process did not exit by itself.
	code int
	err  error
}

func (r result) String() string {
	s := fmt.Sprintf("`%s` exited %d", strings.Join(r.args, " "), r.code)
	if r.err != nil && r.code == -1 {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + fmt.Sprintf("\nstdout: %q\nstderr: %q", r.stdout, r.stderr)
}

// execute runs cmd to completion with buffered output (unless the caller set
// its own), bounded by commandTimeout.
func execute(cmd *exec.Cmd) result {
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	// A runtime that leaks our pipes into a container that outlives it
	// would otherwise make Wait block until the container exits.
	cmd.WaitDelay = 10 * time.Second
	r := result{args: cmd.Args, code: -1}
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	timer := time.AfterFunc(commandTimeout, func() { _ = cmd.Process.Kill() })
	r.err = cmd.Wait()
	timer.Stop()
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	return r
}

// env is one private runtime state directory (--root): containers of one
// test never see another test's.
type env struct {
	t    *testing.T
	root string
	// user, when set, runs the runtime as this unprivileged user
	// (rootless); see user_test.go.
	user *testUser
}

func newEnv(t *testing.T) *env {
	t.Helper()
	requireRoot(t)
	// Short on purpose: a runtime may put unix sockets in its state
	// directory, and sun_path holds only 108 bytes.
	return &env{t: t, root: shortTempDir(t, "gtur")}
}

func shortTempDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}

// command builds a runtime invocation with this env's --root.
func (e *env) command(args ...string) *exec.Cmd {
	full := append([]string{"--root", e.root}, args...)
	cmd := exec.Command(runtimeBin, full...)
	// The suite always passes --root; an inherited GOPHERTAINER_ROOT must
	// not change which state directory a test sees.
	cmd.Env = withoutEnv(os.Environ(), "GOPHERTAINER_ROOT")
	if e.user != nil {
		e.user.apply(cmd)
	}
	return cmd
}

// runtime runs the binary under test with stdin from /dev/null.
func (e *env) runtime(args ...string) result {
	return execute(e.command(args...))
}

// mustRuntime runs the binary under test and fails the test unless it exits 0.
func (e *env) mustRuntime(args ...string) result {
	e.t.Helper()
	r := e.runtime(args...)
	if r.code != 0 {
		e.t.Fatalf("%v", r)
	}
	return r
}

func withoutEnv(environ []string, name string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

var idSeq atomic.Int64

// uniqueID turns a test name into a container id that is unique across the
// suite (and across concurrent suites, thanks to the pid), because it also
// names the container's cgroup.
func uniqueID(t *testing.T) string {
	name := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	name = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(name, "-")
	if len(name) > 24 {
		name = name[:24]
	}
	return fmt.Sprintf("%s-%d-%d", strings.Trim(name, "-"), os.Getpid(), idSeq.Add(1))
}

// container is one bundle plus the id it runs under.
type container struct {
	e      *env
	t      *testing.T
	id     string
	bundle string
	spec   *specs.Spec
	// stdout and stderr receive a detached container's output (create,
	// run -d): the container inherits these files, not pipes we would have
	// to wait on.
	stdout, stderr string
	seen           []procID
}

// procID names a process across pid reuse.
type procID struct {
	pid       int
	startTime string
}

// newContainer makes a bundle: a copy of the busybox rootfs and the config
// that `RUNTIME spec` writes, edited for tests (no terminal, the given args,
// an absolute cgroup path, the leftover-checker's marker). Tests adjust
// c.spec further before running it.
func (e *env) newContainer(t *testing.T, args ...string) *container {
	t.Helper()
	id := uniqueID(t)
	bundle := filepath.Join(workDir, id)
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(bundle); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if out, err := exec.Command("cp", "-a", rootfsTemplate, filepath.Join(bundle, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	specArgs := []string{"spec", "-b", bundle}
	if e.user != nil {
		// The user's own bundle: its rootfs belongs to the user, who is
		// root in the container.
		e.user.own(t, bundle)
		specArgs = []string{"--rootless", "spec", "-b", bundle}
	}
	e.mustRuntime(specArgs...)
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatalf("spec -b %s wrote no config.json: %v", bundle, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("spec wrote invalid config.json: %v", err)
	}
	if s.Process == nil || s.Linux == nil {
		t.Fatalf("spec wrote a config.json without process or linux: %s", data)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Process.Env = append(s.Process.Env, markEnv+"="+id)
	s.Linux.CgroupsPath = cgroupParent + "/" + id
	if e.user != nil {
		// No cgroup is needed without limits; tests that want one set it.
		s.Linux.CgroupsPath = ""
	}
	c := &container{
		e: e, t: t, id: id, bundle: bundle, spec: &s,
		stdout: filepath.Join(bundle, "stdout.log"),
		stderr: filepath.Join(bundle, "stderr.log"),
	}
	t.Cleanup(c.cleanup)
	return c
}

// write saves c.spec as the bundle's config.json.
func (c *container) write() {
	c.t.Helper()
	data, err := json.MarshalIndent(c.spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "config.json"), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// run writes the config and runs `run -b BUNDLE [flags] ID` in the
// foreground with stdin from /dev/null.
func (c *container) run(flags ...string) result {
	c.t.Helper()
	return c.runWith(nil, nil, flags...)
}

// runWith is run with a given stdin and extra fds (3, 4, ...) for the
// runtime.
func (c *container) runWith(stdin io.Reader, extra []*os.File, flags ...string) result {
	c.t.Helper()
	c.write()
	cmd := c.e.command(append(append([]string{"run", "-b", c.bundle}, flags...), c.id)...)
	cmd.Stdin = stdin
	cmd.ExtraFiles = extra
	return execute(cmd)
}

// create writes the config and runs `create -b BUNDLE [flags] ID`.
func (c *container) create(flags ...string) result {
	c.t.Helper()
	c.write()
	return c.detached(append([]string{"create", "-b", c.bundle}, flags...)...)
}

// runDetached writes the config and runs `run -d -b BUNDLE [flags] ID`.
func (c *container) runDetached(flags ...string) result {
	c.t.Helper()
	c.write()
	return c.detached(append([]string{"run", "-d", "-b", c.bundle}, flags...)...)
}

// detached runs a verb whose container outlives the command.
func (c *container) detached(args ...string) result {
	c.t.Helper()
	return c.executeDetached(c.e.command(append(args, c.id)...))
}

// executeDetached runs cmd with stdout and stderr going to files, which the
// container inherits: pipes would keep Wait blocked until the container
// exits. The result carries what was written by the time cmd returned.
func (c *container) executeDetached(cmd *exec.Cmd) result {
	c.t.Helper()
	stdout, err := os.OpenFile(c.stdout, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(c.stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	r := execute(cmd)
	r.stdout, r.stderr = c.output(), c.errOutput()
	if r.code == 0 {
		c.recordPid()
	}
	return r
}

// output is what the detached container (and the runtime) wrote to stdout.
func (c *container) output() string {
	data, _ := os.ReadFile(c.stdout)
	return string(data)
}

func (c *container) errOutput() string {
	data, _ := os.ReadFile(c.stderr)
	return string(data)
}

// waitOutput polls the detached container's stdout until it has n lines
// equal to want.
func (c *container) waitOutput(want string, n int) {
	c.t.Helper()
	poll(c.t, fmt.Sprintf("%d line(s) %q in the output of %s", n, want, c.id), func() (bool, string) {
		out := c.output()
		return countLines(out, want) >= n, fmt.Sprintf("stdout %q, stderr %q", out, c.errOutput())
	})
}

func countLines(out, want string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimRight(line, "\r") == want {
			n++
		}
	}
	return n
}

func (c *container) start() result { return c.e.runtime("start", c.id) }

func (c *container) mustStart() {
	c.t.Helper()
	c.e.mustRuntime("start", c.id)
}

// mustCreate creates the container and fails the test otherwise. Like
// runc's, a create that returned 0 has a container in state "created": no
// polling.
func (c *container) mustCreate(flags ...string) {
	c.t.Helper()
	if r := c.create(flags...); r.code != 0 {
		c.t.Fatalf("%v", r)
	}
	if st, _, r := c.state(); r.code != 0 || st.Status != "created" {
		c.t.Fatalf("after create: want status created, got %q (%v)\ncontainer stderr: %q", st.Status, r, c.errOutput())
	}
}

// state returns `state ID` decoded both as the OCI struct and as a raw map.
func (c *container) state() (specs.State, map[string]json.RawMessage, result) {
	c.t.Helper()
	r := c.e.runtime("state", c.id)
	var st specs.State
	var raw map[string]json.RawMessage
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			c.t.Fatalf("state %s printed invalid JSON: %v\n%s", c.id, err, r.stdout)
		}
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			c.t.Fatalf("state %s printed invalid JSON: %v\n%s", c.id, err, r.stdout)
		}
	}
	return st, raw, r
}

// waitStatus polls `state` until the container has the given status.
func (c *container) waitStatus(want string) specs.State {
	c.t.Helper()
	var st specs.State
	poll(c.t, fmt.Sprintf("%s to be %s", c.id, want), func() (bool, string) {
		var r result
		st, _, r = c.state()
		if r.code != 0 {
			return false, r.String()
		}
		return string(st.Status) == want, fmt.Sprintf("status %q", st.Status)
	})
	return st
}

// recordPid remembers the container's init pid for the leftover checker.
func (c *container) recordPid() {
	st, _, r := c.state()
	if r.code != 0 || st.Pid <= 0 {
		return
	}
	if start, ok := procStartTime(st.Pid); ok {
		c.seen = append(c.seen, procID{st.Pid, start})
	}
}

// poll calls cond until it reports true or pollTimeout passes. Polling with
// a deadline is the only waiting the suite does: no bare sleeps.
func poll(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", pollTimeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertGone checks that the container left nothing behind: no entry in the
// state directory, no cgroup in any hierarchy, no mount under its bundle, no
// live process.
func (c *container) assertGone() {
	c.t.Helper()
	if _, err := os.Lstat(filepath.Join(c.e.root, c.id)); !errors.Is(err, os.ErrNotExist) {
		c.t.Errorf("state directory entry %s left behind (lstat: %v)", filepath.Join(c.e.root, c.id), err)
	}
	for _, dir := range containerCgroupDirs(c.id) {
		c.t.Errorf("cgroup %s left behind", dir)
	}
	for _, mp := range mountsUnder(c.bundle) {
		c.t.Errorf("mount %s left behind", mp)
	}
	// Processes are reaped asynchronously (the container's init may be
	// reparented), so give them a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		alive := c.liveProcesses()
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Errorf("processes of %s still alive: %v", c.id, alive)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// containerCgroupDirs lists the container's cgroup directories that exist,
// in every mounted hierarchy (v1 controllers, name=systemd, unified).
func containerCgroupDirs(id string) []string {
	var found []string
	for _, h := range cgroupHierarchies() {
		dir := filepath.Join(h, cgroupParent, id)
		if _, err := os.Stat(dir); err == nil {
			found = append(found, dir)
		}
	}
	return found
}

func cgroupHierarchies() []string {
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(cgroupRoot, e.Name())
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	// A pure cgroup v2 host has no sub-mounts: the root is the hierarchy.
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		out = append(out, cgroupRoot)
	}
	return out
}

// liveProcesses finds processes that belong to the container: its recorded
// init pids, anything carrying its marker in the environment, anything in
// its cgroup. Zombies are dead for this purpose: who reaps them is the
// parent's business, not the runtime's.
func (c *container) liveProcesses() []string {
	var alive []string
	for _, p := range c.seen {
		if start, ok := procStartTime(p.pid); ok && start == p.startTime && !isZombie(p.pid) {
			alive = append(alive, fmt.Sprintf("pid %d (recorded init)", p.pid))
		}
	}
	for _, pid := range markedProcesses(c.id) {
		alive = append(alive, fmt.Sprintf("pid %d (marked)", pid))
	}
	return alive
}

// markedProcesses returns the pids that carry the container's marker or sit
// in its cgroup.
func markedProcesses(id string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	mark := []byte(markEnv + "=" + id + "\x00")
	cg := cgroupParent + "/" + id
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || isZombie(pid) {
			continue
		}
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if bytes.HasPrefix(environ, mark) || bytes.Contains(environ, append([]byte{0}, mark...)) {
			pids = append(pids, pid)
			continue
		}
		cgroups, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		for _, line := range strings.Split(string(cgroups), "\n") {
			if i := strings.LastIndex(line, ":"); i >= 0 {
				if p := line[i+1:]; p == cg || strings.HasPrefix(p, cg+"/") {
					pids = append(pids, pid)
					break
				}
			}
		}
	}
	return pids
}

// procStartTime returns field 22 of /proc/PID/stat, which tells a process
// from a later one that reuses its pid.
func procStartTime(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	// comm (field 2) may contain spaces; the fields after it do not.
	s := string(data)
	i := strings.LastIndex(s, ")")
	if i < 0 {
		return "", false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return "", false
	}
	return fields[19], true
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndex(s, ")")
	return i >= 0 && strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// mountsUnder returns the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string { return mounts.Under(dir) }

// cleanup is the safety net after a test, pass or fail: force-delete the
// container, kill what is left of it, remove its cgroups. It never touches
// anything that is not this container's.
func (c *container) cleanup() {
	_ = execute(c.e.command("delete", "-f", c.id))
	for _, pid := range markedProcesses(c.id) {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
	removeCgroupTree(c.id)
}

// removeCgroupTree removes /gtu-test/NAME (and anything below it) in every
// hierarchy, killing its processes first through cgroup.kill or the pid
// list.
func removeCgroupTree(name string) {
	for _, h := range cgroupHierarchies() {
		dir := filepath.Join(h, cgroupParent, name)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		killCgroupProcs(dir)
		deadline := time.Now().Add(5 * time.Second)
		for rmdirTree(dir) != nil && time.Now().Before(deadline) {
			killCgroupProcs(dir)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func killCgroupProcs(dir string) {
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
		}
		return nil
	})
}

// rmdirTree removes a cgroup directory bottom-up (cgroupfs directories can
// only be removed with rmdir, and only once their children are gone).
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeCgroupParent removes /gtu-test from every hierarchy once the suite
// is done, if it is empty (rmdir refuses otherwise, which is what we want:
// another suite may be using it).
func removeCgroupParent() {
	for _, h := range cgroupHierarchies() {
		_ = os.Remove(filepath.Join(h, cgroupParent))
	}
}

// removeTree deletes a test directory, first detaching anything a broken
// runtime left mounted below it, so that RemoveAll never recurses into a
// bind mount of something that is not ours.
func removeTree(dir string) error {
	for _, mp := range mountsUnder(dir) {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
	if left := mountsUnder(dir); len(left) > 0 {
		return fmt.Errorf("not removing %s: still mounted below it: %v", dir, left)
	}
	return os.RemoveAll(dir)
}

// mustContain fails unless s contains sub (case-insensitively).
func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
		t.Errorf("%s does not mention %q:\n%s", what, sub, s)
	}
}
