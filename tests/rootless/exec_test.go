package rootless

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// startMarked starts a waiter container that first writes a marker file
// into its own /tmp, so an exec'd process can prove it shares the mount
// namespace.
func startMarked(t *testing.T, e *env) *container {
	t.Helper()
	c := e.newContainer(t, "sh", "-c", "echo inside > /tmp/marker; "+waiter)
	c.spec.Root.Readonly = false
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	return c
}

func TestExec(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startMarked(t, e)
	st, _, _ := c.state()

	// Namespaces: the container's hostname, its pid namespace (a small
	// pid, the init as 1), its root (the marker), its cgroup.
	r := e.mustRuntime("exec", c.id, "sh", "-c",
		"hostname; cat /tmp/marker; echo pid=$$; cat /proc/1/cmdline | tr '\\0' ' '; echo")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 4 || lines[0] != c.spec.Hostname || lines[1] != "inside" || !strings.HasPrefix(lines[3], "sh -c ") {
		t.Errorf("exec saw %q (hostname %q)", lines, c.spec.Hostname)
	}
	if pid, err := strconv.Atoi(strings.TrimPrefix(lines[2], "pid=")); err != nil || pid == st.Pid || pid > 100 {
		t.Errorf("exec'd pid %q: want a pid of the container's namespace", lines[2])
	}
	// Exit status passes through.
	if r := e.runtime("exec", c.id, "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec exit 7: %v", r)
	}
	// Flags: user, env, cwd; flags after the id belong to the command.
	r = e.mustRuntime("exec", "-u", "1000:1000", "-e", "FOO=bar", "--cwd", "/tmp", c.id, "sh", "-c", "id -u; id -g; echo $FOO; pwd")
	wantLines(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), "1000", "1000", "bar", "/tmp")
	r = e.mustRuntime("exec", c.id, "ls", "-d", "/tmp")
	if strings.TrimSpace(r.stdout) != "/tmp" {
		t.Errorf("exec ID ls -d /tmp printed %q", r.stdout)
	}
	// No descriptor of gtu's reaches the process.
	r = e.mustRuntime("exec", c.id, "ls", "/proc/self/fd")
	if got := strings.Fields(r.stdout); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("fds of the exec'd ls: %q (3 is ls's own directory)", got)
	}
	// A missing command fails exec, naming it.
	r = e.runtime("exec", c.id, "no-such-command")
	if r.code == 0 || !strings.Contains(r.stderr, "no-such-command") {
		t.Errorf("exec of a missing command: %v", r)
	}
	e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}

func TestExecDetachProcessFile(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startMarked(t, e)
	pidFile := filepath.Join(c.bundle, "exec.pid")
	proc := specs.Process{Args: []string{"sh", "-c", "echo from-process-file > /tmp/out; sleep 1000"}, Cwd: "/",
		Env: []string{"PATH=/bin"}}
	b, _ := json.Marshal(proc)
	procFile := filepath.Join(c.bundle, "process.json")
	if err := os.WriteFile(procFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRuntime("exec", "--process", procFile, "--detach", "--pid-file", pidFile, c.id)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	poll(t, "the detached process's output", func() (bool, string) {
		r := e.runtime("exec", c.id, "cat", "/tmp/out")
		return strings.TrimSpace(r.stdout) == "from-process-file", r.String()
	})
	r := e.mustRuntime("ps", "--format", "json", c.id)
	if !strings.Contains(r.stdout, strconv.Itoa(pid)) {
		t.Errorf("the detached exec's pid %d is not in the container's cgroup: %s", pid, r.stdout)
	}
	e.mustRuntime("delete", "-f", c.id)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && !isZombie(pid) {
		t.Errorf("exec'd pid %d survived delete -f", pid)
	}
	c.assertGone()
}

func TestExecStates(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startMarked(t, e)
	e.mustRuntime("pause", c.id)
	r := e.runtime("exec", c.id, "true")
	if r.code == 0 || !strings.Contains(r.stderr, "paused") {
		t.Errorf("exec into a paused container: %v", r)
	}
	// With --ignore-paused the process starts in the frozen cgroup, so it
	// runs (and exec returns) once the container is resumed.
	done := make(chan result, 1)
	go func() { done <- e.runtime("exec", "--ignore-paused", c.id, "sh", "-c", "exit 3") }()
	select {
	case r := <-done:
		t.Errorf("exec --ignore-paused finished while the container was paused: %v", r)
	case <-time.After(300 * time.Millisecond):
	}
	e.mustRuntime("resume", c.id)
	select {
	case r := <-done:
		if r.code != 3 {
			t.Errorf("exec --ignore-paused after resume: %v", r)
		}
	case <-time.After(pollTimeout):
		t.Error("exec --ignore-paused did not finish after resume")
	}
	e.mustRuntime("kill", c.id, "KILL")
	c.waitStatus("stopped")
	r = e.runtime("exec", c.id, "true")
	if r.code == 0 || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("exec into a stopped container: %v", r)
	}
	if r := e.runtime("exec", "no-such-container", "true"); r.code == 0 {
		t.Errorf("exec into a missing container: %v", r)
	}
	e.mustRuntime("delete", c.id)
	c.assertGone()
}

func TestExecUserNamespace(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	c := newEnv(t).newContainer(t, "sh", "-c", waiter)
	c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	c.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostUID, Size: 65536}}
	c.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostGID, Size: 65536}}
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	r := c.e.mustRuntime("exec", c.id, "sh", "-c", "cat /proc/self/uid_map; id -u")
	got := strings.Fields(r.stdout)
	if len(got) != 4 || got[1] != strconv.Itoa(userNSHostUID) || got[3] != "0" {
		t.Errorf("exec in a user namespace saw %q", got)
	}
	c.e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}

func TestExecTerminal(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc's exec -t with a console socket works too; the socket plumbing is shared with TestConsoleSocket")
	t.Parallel()
	e := newEnv(t)
	c := startMarked(t, e)
	sock := filepath.Join(shortTempDir(t, "gtux"), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *os.File, 1)
	go func() {
		f, err := receivePty(ln)
		if err != nil {
			t.Errorf("console socket: %v", err)
		}
		got <- f
	}()
	e.mustRuntime("exec", "-t", "-d", "--console-socket", sock, c.id, "sh", "-c", "tty; test -t 0 && echo tty-ok; sleep 1000")
	pty := <-got
	if pty == nil {
		t.FailNow()
	}
	defer pty.Close()
	var out ptyLog
	go out.readFrom(t, pty)
	poll(t, "the exec'd shell's tty", func() (bool, string) {
		s := out.String()
		return strings.Contains(s, "/dev/pts/") && out.hasLine("tty-ok"), fmt.Sprintf("%q", s)
	})
	e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}

// TestJoinMountNamespaceByPath: linux.namespaces[].path for a mount
// namespace (which a Go process cannot setns into: the nsenter helper does
// it) puts the container's init into that namespace.
func TestJoinMountNamespaceByPath(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	target := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "1000")
	if err := target.Start(); err != nil {
		t.Skipf("unshare(1): %v", err)
	}
	t.Cleanup(func() { _ = target.Process.Kill(); _ = target.Wait() })
	nsPath := fmt.Sprintf("/proc/%d/ns/mnt", target.Process.Pid)
	poll(t, "the target's own mount namespace", func() (bool, string) {
		a, _ := os.Readlink(nsPath)
		b, _ := os.Readlink("/proc/self/ns/mnt")
		return a != b, a
	})
	want, err := os.Readlink(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	c := newEnv(t).newContainer(t, "sh", "-c", "readlink /proc/self/ns/mnt")
	for i, ns := range c.spec.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			c.spec.Linux.Namespaces[i].Path = nsPath
		}
	}
	r := c.run()
	if r.code != 0 {
		t.Fatalf("run with a mount namespace path: %v", r)
	}
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Errorf("the container's mount namespace is %q, want the target's %q", got, want)
	}
	c.assertGone()
}

// TestNoNamespaces: a config without any namespace shares all of gtu's;
// its mounts are made in gtu's mount namespace, under the rootfs, and are
// gone after delete.
func TestNoNamespaces(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc 1.1.5 refuses masked and read-only paths without a mount namespace; gtu applies them on the rootfs bind")
	t.Parallel()
	c := newEnv(t).newContainer(t, "sh", "-c", "readlink /proc/self/ns/mnt; readlink /proc/self/ns/net; echo ready; sleep 1000 & wait")
	c.spec.Linux.Namespaces = nil
	c.spec.Hostname = ""
	c.spec.Linux.CgroupsPath = cgroupParent + "/" + c.id
	c.mustCreate()
	if n := len(mountsUnder(c.bundle)); n == 0 {
		t.Error("no mounts under the rootfs of a created container without a mount namespace")
	}
	c.mustStart()
	c.waitOutput("ready", 1)
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	net, _ := os.Readlink("/proc/self/ns/net")
	wantLines(t, strings.Split(strings.TrimSpace(c.output()), "\n"), mnt, net, "ready")
	c.e.mustRuntime("delete", "-f", c.id)
	if left := mountsUnder(c.bundle); len(left) > 0 {
		t.Errorf("mounts left under the bundle after delete: %q", left)
	}
	c.assertGone()
}

// TestExecSubCgroup: exec --cgroup runs the process in an existing
// sub-cgroup of the container's.
func TestExecSubCgroup(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	c := startMarked(t, e)
	var made []string
	for _, dir := range containerCgroupDirs(c.id) {
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		made = append(made, sub)
		if strings.Contains(dir, "/cpuset/") {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				_ = os.WriteFile(filepath.Join(sub, f), b, 0)
			}
		}
	}
	r := e.mustRuntime("exec", "--cgroup", "sub", c.id, "cat", "/proc/self/cgroup")
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasSuffix(line, "/sub") {
			t.Errorf("exec --cgroup sub: %q is not in the sub-cgroup", line)
		}
	}
	if r := e.runtime("exec", "--cgroup", "nope", c.id, "true"); r.code == 0 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("exec into a missing sub-cgroup: %v", r)
	}
	e.mustRuntime("delete", "-f", c.id)
	for _, d := range made {
		_ = os.Remove(d)
	}
	c.assertGone()
}
