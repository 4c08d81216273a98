package rootless

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// podman drives podman with the runtime under test, in a private store:
// nothing lands in /var/lib/containers or /run/containers, and the
// containers' cgroups live below /gtu-test.
type podman struct {
	base   []string
	env    []string
	cgroup string // the --cgroup-parent, below /gtu-test
	image  string
	user   *testUser // rootless podman: run as this user
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	// Short: conmon's attach socket lives below the runroot, and sun_path
	// holds only 108 bytes.
	dir := shortTempDir(t, "gtup")
	cgName := fmt.Sprintf("podman-%d-%d", os.Getpid(), idSeq.Add(1))
	// Root here lacks CAP_SYS_RESOURCE, so podman's default ulimits (above
	// the hard limits) would fail every container; there is no systemd
	// (MACHINE.md).
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
`, filepath.Join(dir, "events.log"))
	confPath := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{
		base: []string{
			"--root", filepath.Join(dir, "root"),
			"--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"),
			"--network-config-dir", filepath.Join(dir, "net"),
			// vfs: no overlay mounts to leave behind.
			"--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
			"--runtime", runtimeBin,
		},
		env:    append(os.Environ(), "CONTAINERS_CONF="+confPath),
		cgroup: cgroupParent + "/" + cgName,
		image:  "localhost/gtu-test-busybox:latest",
	}
	t.Cleanup(func() {
		_ = execute(p.command("rm", "--all", "--force", "--time", "0"))
		removeCgroupTree(cgName)
	})
	return p
}

func (p *podman) command(args ...string) *exec.Cmd {
	cmd := exec.Command("podman", append(append([]string{}, p.base...), args...)...)
	cmd.Env = p.env
	if p.user != nil {
		p.user.apply(cmd)
	}
	return cmd
}

func (p *podman) run(args ...string) result {
	return execute(p.command(args...))
}

func (p *podman) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// runArgs are the flags every `podman run` here needs: no network (the
// tests do not need one and must not touch the host's), and a cgroup parent
// the suite cleans up.
func (p *podman) runArgs(extra ...string) []string {
	return append([]string{"run", "--network", "none", "--cgroup-parent", p.cgroup}, extra...)
}

func (p *podman) inspect(t *testing.T, id, format string) string {
	t.Helper()
	return strings.TrimSpace(p.mustRun(t, "inspect", "--format", format, id))
}

// startWaiter starts a detached waiter container and waits for its traps.
func (p *podman) startWaiter(t *testing.T) string {
	t.Helper()
	id := strings.TrimSpace(p.mustRun(t, append(p.runArgs("-d"), p.image, "sh", "-c", waiter)...))
	poll(t, "the waiter's ready line in podman logs", func() (bool, string) {
		r := p.run("logs", id)
		return strings.Contains(r.stdout, "ready"), r.String()
	})
	return id
}

// stopAndRemove stops container id with the given timeout (seconds),
// checks its status and exit code ("exited 0"), and removes it.
func (p *podman) stopAndRemove(t *testing.T, id, timeout, want string) {
	t.Helper()
	p.mustRun(t, "stop", "--time", timeout, id)
	if s := p.inspect(t, id, "{{.State.Status}} {{.State.ExitCode}}"); s != want {
		t.Errorf("after stop: want %q, got %q", want, s)
	}
	p.mustRun(t, "rm", id)
	p.assertNoContainers(t)
}

func (p *podman) assertNoContainers(t *testing.T) {
	t.Helper()
	if out := strings.TrimSpace(p.mustRun(t, "ps", "--all", "--quiet")); out != "" {
		t.Errorf("containers left in podman: %s", out)
	}
}

// requirePodman skips without podman, and otherwise returns a private
// podman driving the runtime under test, with the test rootfs imported as
// p.image. The test runs in parallel.
func requirePodman(t *testing.T) *podman {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (scripts/setup-test-host.sh installs it)")
	}
	t.Parallel()
	p := newPodman(t)
	tarball := filepath.Join(shortTempDir(t, "gtut"), "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsTemplate, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	p.mustRun(t, "import", tarball, p.image)
	return p
}

func TestPodman(t *testing.T) {
	requireRoot(t)
	p := requirePodman(t)

	t.Run("run --rm", func(t *testing.T) {
		if out := p.mustRun(t, append(p.runArgs("--rm"), p.image, "echo", "hi")...); out != "hi\n" {
			t.Errorf("podman run echo hi printed %q", out)
		}
		if r := p.run(append(p.runArgs("--rm"), p.image, "sh", "-c", "exit 7")...); r.code != 7 {
			t.Errorf("want exit status 7 through podman, got %v", r)
		}
		p.assertNoContainers(t)
	})
	t.Run("run -d, stop, rm", func(t *testing.T) {
		id := p.startWaiter(t)
		if s := p.inspect(t, id, "{{.State.Status}}"); s != "running" {
			t.Errorf("after run -d: status %q", s)
		}
		// The waiter exits 0 on TERM: a KILL after the timeout would show
		// as 137.
		p.stopAndRemove(t, id, "30", "exited 0")
	})
	t.Run("run -t", func(t *testing.T) {
		out := p.mustRun(t, append(p.runArgs("--rm", "-t"), p.image, "sh", "-c", "tty; test -t 0 && echo stdin-tty")...)
		if got := strings.Fields(out); len(got) != 2 || got[0] != "/dev/pts/0" || got[1] != "stdin-tty" {
			t.Errorf("podman run -t: want /dev/pts/0 and stdin-tty, got %q", out)
		}
	})
	t.Run("exec, top, kill", func(t *testing.T) {
		id := p.startWaiter(t)
		if out := p.mustRun(t, "exec", id, "sh", "-c", "echo exec-$((6*7)); exit 0"); out != "exec-42\n" {
			t.Errorf("podman exec printed %q", out)
		}
		if r := p.run("exec", id, "sh", "-c", "exit 5"); r.code != 5 {
			t.Errorf("podman exec exit 5: %v", r)
		}
		if out := p.mustRun(t, "exec", "-t", id, "sh", "-c", "tty"); !strings.HasPrefix(out, "/dev/pts/") {
			t.Errorf("podman exec -t: tty printed %q", out)
		}
		if out := p.mustRun(t, "top", id); !strings.Contains(out, "sleep 1000") {
			t.Errorf("podman top does not show the container's sleep: %q", out)
		}
		p.mustRun(t, "kill", id)
		poll(t, "the killed container to exit", func() (bool, string) {
			s := p.inspect(t, id, "{{.State.Status}}")
			return s == "exited", s
		})
		p.mustRun(t, "rm", id)
		p.assertNoContainers(t)
	})
	t.Run("pause, unpause", func(t *testing.T) {
		id := p.startWaiter(t)
		full := p.inspect(t, id, "{{.Id}}")
		p.mustRun(t, "pause", id)
		if s := p.inspect(t, id, "{{.State.Status}}"); s != "paused" {
			t.Errorf("after pause: status %q", s)
		}
		// podman's cgroupfs manager puts the container in
		// PARENT/libpod-ID; the runtime must have frozen exactly that.
		name := strings.TrimPrefix(p.cgroup, cgroupParent+"/") + "/libpod-" + full
		if !cgroupFrozen(name) {
			t.Errorf("cgroup %s/%s is not frozen", cgroupParent, name)
		}
		p.mustRun(t, "unpause", id)
		if s := p.inspect(t, id, "{{.State.Status}}"); s != "running" {
			t.Errorf("after unpause: status %q", s)
		}
		if cgroupFrozen(name) {
			t.Errorf("cgroup %s/%s still frozen after unpause", cgroupParent, name)
		}
		p.mustRun(t, "rm", "--force", "--time", "0", id)
		p.assertNoContainers(t)
	})
}
