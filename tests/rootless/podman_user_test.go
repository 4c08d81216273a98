package rootless

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPodmanRootless: podman as the test user, with gtu as its runtime.
// podman runs gtu as uid 0 of podman's own user namespace, so gtu must act
// like root there (no session of its own, no cgroup without limits).
func TestPodmanRootless(t *testing.T) {
	e := newUserEnv(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (scripts/setup-test-host.sh installs it)")
	}
	t.Parallel()
	u := e.user
	dir := shortTempDir(t, "gtupu")
	u.own(t, dir)
	conf := fmt.Sprintf("[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"+
		"[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = %q\n", filepath.Join(dir, "events.log"))
	confPath := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{
		base: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
			"--events-backend", "file", "--runtime", runtimeBin},
		env:   append(os.Environ(), "CONTAINERS_CONF="+confPath),
		image: "localhost/gtu-test-busybox:latest",
		user:  u,
	}
	t.Cleanup(func() {
		_ = execute(p.command("rm", "--all", "--force", "--time", "0"))
		// podman's own pause process keeps its user namespace; end it.
		_ = execute(p.command("system", "migrate"))
	})
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsTemplate, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	u.own(t, dir)
	p.mustRun(t, "import", tarball, p.image)
	run := []string{"run", "--network", "none"}

	if out := p.mustRun(t, append(run, "--rm", p.image, "echo", "hi")...); out != "hi\n" {
		t.Errorf("podman run echo hi printed %q", out)
	}
	id := strings.TrimSpace(p.mustRun(t, append(run, "-d", p.image, "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done")...))
	poll(t, "the container's ready line", func() (bool, string) {
		r := p.run("logs", id)
		return strings.Contains(r.stdout, "ready"), r.String()
	})
	if out := p.mustRun(t, "exec", id, "sh", "-c", "echo exec-$(id -u)"); out != "exec-0\n" {
		t.Errorf("podman exec printed %q", out)
	}
	// The container ignores SIGTERM: stop must end it with SIGKILL after
	// the timeout.
	p.stopAndRemove(t, id, "1", "exited 137")
}
