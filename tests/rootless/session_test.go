package rootless

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/internal/testhost"
	"github.com/gophertainer/gtu/subid"
)

// TestRootlessRunFullMap is the rootless issue's first promise: as an
// ordinary user, `gtu run` shows uid 0 and the full subordinate map, and a
// chown inside lands on the host as the matching subordinate id.
func TestRootlessRunFullMap(t *testing.T) {
	e := newUserEnv(t)
	t.Parallel()
	c := e.newContainer(t, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /owned && chown 1000:1000 /owned")
	c.spec.Root.Readonly = false
	caps := c.spec.Process.Capabilities
	caps.Bounding = append(caps.Bounding, "CAP_CHOWN")
	caps.Effective = append(caps.Effective, "CAP_CHOWN")
	caps.Permitted = append(caps.Permitted, "CAP_CHOWN")
	r := c.run()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if lines[0] != "0" {
		t.Errorf("id -u inside = %q, want 0", lines[0])
	}
	var total uint64
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("uid_map line %q", l)
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		total += n
	}
	if total != 65537 {
		t.Errorf("the container maps %d uids, want 65537 (the user and 65536 subordinate ids):\n%s", total, r.stdout)
	}
	ranges, err := subid.Lookup("/etc/subuid", e.user.name, uint32(e.user.uid))
	if err != nil || len(ranges) == 0 {
		t.Fatalf("subuid ranges of %s: %v %v", e.user.name, ranges, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(c.bundle, "rootfs", "owned"), &st); err != nil {
		t.Fatal(err)
	}
	if want := ranges[0].Start + 999; st.Uid != want || st.Gid < 100000 {
		t.Errorf("a file chowned to 1000:1000 inside is owned by %d:%d on the host, want uid %d", st.Uid, st.Gid, want)
	}
	c.assertGone()
}

// TestRootlessSeparateInvocations: create, start, exec, kill and delete, each
// a separate gtu process of the user, act on one container (they all join
// the user's session).
func TestRootlessSeparateInvocations(t *testing.T) {
	e := newUserEnv(t)
	t.Parallel()
	c := e.newContainer(t, "sh", "-c", "echo ready; trap 'echo got-term; exit 3' TERM; while true; do sleep 0.1; done")
	c.mustCreate()
	if st := c.waitStatus("created"); st.Pid <= 0 {
		t.Fatalf("created container has pid %d", st.Pid)
	}
	c.mustStart()
	c.waitOutput("ready", 1)
	c.waitStatus("running")
	r := e.runtime("exec", c.id, "sh", "-c", "id -u; echo from-exec")
	if r.code != 0 || !strings.Contains(r.stdout, "from-exec") || strings.Fields(r.stdout)[0] != "0" {
		t.Fatalf("exec: %v", r)
	}
	e.mustRuntime("kill", c.id, "TERM")
	c.waitOutput("got-term", 1)
	c.waitStatus("stopped")
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

// TestRootlessSessionIsReused: two runs join the same session: the same
// user namespace, not one each.
func TestRootlessSessionIsReused(t *testing.T) {
	e := newUserEnv(t)
	t.Parallel()
	var seen []string
	for i := 0; i < 2; i++ {
		c := e.newContainer(t, "readlink", "/proc/self/ns/user")
		r := c.run()
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		seen = append(seen, strings.TrimSpace(r.stdout))
	}
	if seen[0] != seen[1] {
		t.Errorf("two containers saw user namespaces %v: the session was not reused", seen)
	}
	if own, _ := os.Readlink("/proc/self/ns/user"); own == seen[0] {
		t.Errorf("the container runs in the host's user namespace %s", own)
	}
}

// TestRootlessLimits: limits without cgroup access give the clear error
// that says how to get delegation; after root's `gtu cgroup-delegate`, the
// same container gets its limit in the user's delegated v1 cgroups.
func TestRootlessLimits(t *testing.T) {
	e := newUserEnv(t)
	// cgroupdelegate's tests delegate to and undelegate from the same user.
	testhost.LockUserManager(t, e.user.uid)
	root := newEnv(t)
	root.mustRuntime("cgroup-delegate", "--user", e.user.name, "--remove")
	t.Cleanup(func() { root.runtime("cgroup-delegate", "--user", e.user.name, "--remove") })

	c := e.newContainer(t, "sh", "-c", waiter)
	limit := int64(64 << 20)
	c.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	r := c.create()
	if r.code == 0 {
		t.Fatalf("a memory limit without delegation was accepted: %v", r)
	}
	mustContain(t, "the error", r.stderr, "linux.resources.memory")
	mustContain(t, "the error", r.stderr, "gtu cgroup-delegate --user")
	c.assertGone()

	out := root.mustRuntime("cgroup-delegate", "--user", e.user.name).stdout
	mustContain(t, "cgroup-delegate's output", out, "/sys/fs/cgroup/memory/gtu.user."+strconv.Itoa(e.user.uid))
	c.mustCreate()
	st := c.waitStatus("created")
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var memPath string
	for _, l := range strings.Split(string(cg), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[1] == "memory" {
			memPath = f[2]
		}
	}
	if !strings.HasPrefix(memPath, "/gtu.user."+strconv.Itoa(e.user.uid)+"/") {
		t.Fatalf("the container's memory cgroup is %q, not below the user's delegated one", memPath)
	}
	got, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", memPath, "memory.limit_in_bytes"))
	if err != nil || strings.TrimSpace(string(got)) != strconv.FormatInt(limit, 10) {
		t.Errorf("memory.limit_in_bytes = %q (%v), want %d", got, err, limit)
	}
	e.mustRuntime("delete", "--force", c.id)
	c.assertGone()
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", memPath)); !os.IsNotExist(err) {
		t.Errorf("the container's cgroup %s is left behind (%v)", memPath, err)
	}
}

// TestAlreadyRootInUserNS: gtu called as uid 0 of someone else's user
// namespace (podman rootless, a CI container) behaves like root there: no
// session of its own (the container sees that namespace's one-line map,
// not the session's full one), and no cgroup error without limits.
func TestAlreadyRootInUserNS(t *testing.T) {
	e := newUserEnv(t)
	e.user.inUserNS = true
	t.Parallel()
	c := e.newContainer(t, "sh", "-c", "id -u; cat /proc/self/uid_map")
	// Like podman's config: the ids of the caller's namespace, no new
	// user namespace.
	var ns []specs.LinuxNamespace
	for _, n := range c.spec.Linux.Namespaces {
		if n.Type != specs.UserNamespace {
			ns = append(ns, n)
		}
	}
	c.spec.Linux.Namespaces = ns
	c.spec.Linux.UIDMappings, c.spec.Linux.GIDMappings = nil, nil
	r := c.run()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	f := strings.Fields(r.stdout)
	want := []string{"0", "0", strconv.Itoa(e.user.uid), "1"}
	if strings.Join(f, " ") != strings.Join(want, " ") {
		t.Errorf("inside: %q, want uid 0 and the caller's one-line map %v", r.stdout, want)
	}
	c.assertGone()
}

// TestRootlessSessionRecovers: a session killed with SIGKILL (a crash, an
// OOM kill) leaves its files behind; the next call must see that nobody
// holds the session's lock, start a new one, and work. Not parallel: it
// kills the session the other rootless tests share.
func TestRootlessSessionRecovers(t *testing.T) {
	e := newUserEnv(t)
	c := e.newContainer(t, "true")
	if r := c.run(); r.code != 0 {
		t.Fatalf("%v", r)
	}
	dir := filepath.Join(runtimeDirOf(e.user.uid), "gtu", ".session")
	daemon := readPid(t, filepath.Join(dir, "daemon_pid"))
	joined := readPid(t, filepath.Join(dir, "child_pid"))
	if err := syscall.Kill(daemon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll(t, "the session's processes to die", func() (bool, string) {
		return !alive(daemon) && !alive(joined), fmt.Sprintf("daemon %d alive %v, child %d alive %v", daemon, alive(daemon), joined, alive(joined))
	})
	if _, err := os.Stat(filepath.Join(dir, "child_pid")); err != nil {
		t.Fatalf("the killed session left no files, so this test proves nothing: %v", err)
	}
	c2 := e.newContainer(t, "id", "-u")
	r := c2.run()
	if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
		t.Fatalf("after a crashed session: %v", r)
	}
	if now := readPid(t, filepath.Join(dir, "child_pid")); now == joined {
		t.Errorf("the session's pid file still names the dead pid %d", joined)
	}
	c2.assertGone()
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// alive: the process exists and is not a zombie (the VM's PID 1 may not
// reap orphans).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil && !isZombie(pid)
}

// TestRootlessWithoutSubids: a user without subordinate ids still gets
// rootless containers, with only its own id mapped, and one warning that
// says what is lost and which file to fix.
func TestRootlessWithoutSubids(t *testing.T) {
	e := newUserEnvAs(t, noSubidUserName)
	// Its session must be started by this test to see the warning.
	stop := e.command("session", "stop")
	_ = execute(stop)
	c := e.newContainer(t, "sh", "-c", "id -u; cat /proc/self/uid_map")
	r := c.run()
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	f := strings.Fields(r.stdout)
	if want := []string{"0", "0", strconv.Itoa(e.user.uid), "1"}; strings.Join(f, " ") != strings.Join(want, " ") {
		t.Errorf("inside: %q, want uid 0 and the one-line map %v", r.stdout, want)
	}
	mustContain(t, "the warning", r.stderr, "/etc/subuid")
	if n := strings.Count(r.stderr, "/etc/subuid"); n != 1 {
		t.Errorf("the warning came %d times:\n%s", n, r.stderr)
	}
	c.assertGone()
}

// TestSessionStopRefusesLiveContainers: `gtu session stop` does not pull
// the session from under running containers unless forced.
func TestSessionStopRefusesLiveContainers(t *testing.T) {
	e := newUserEnvAs(t, noSubidUserName)
	c := e.newContainer(t, "sh", "-c", waiter)
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	r := e.runtime("session", "stop")
	if r.code == 0 {
		t.Fatalf("session stop with a running container succeeded: %v", r)
	}
	mustContain(t, "the refusal", r.stderr, c.id)
	if st := c.waitStatus("running"); st.Pid <= 0 {
		t.Fatal("the container is gone after a refused stop")
	}
	e.mustRuntime("delete", "--force", c.id)
	e.mustRuntime("session", "stop")
	c.assertGone()
}
