package rootless

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestContainerd drives gtu through containerd's runc shim (`ctr run
// --runc-binary`): a private containerd daemon in a temp dir, an image
// made from the test rootfs with podman.
func TestContainerd(t *testing.T) {
	requireRoot(t)
	for _, bin := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "podman"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/setup-test-host.sh installs it)", bin)
		}
	}
	t.Parallel()
	dir := shortTempDir(t, "gtuctrd")
	sock := filepath.Join(dir, "c.sock")
	conf := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`version = 2
root = "%[1]s/root"
state = "%[1]s/state"
[grpc]
  address = "%[2]s"
[ttrpc]
  address = "%[1]s/t.sock"
[debug]
  address = "%[1]s/d.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable = true
`, dir, sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("containerd", "--config", conf)
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = daemon.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = daemon.Process.Kill()
			<-done
		}
		for _, m := range mountsUnder(dir) {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	})
	ctr := func(args ...string) result {
		return execute(exec.Command("ctr", append([]string{"--address", sock}, args...)...))
	}
	poll(t, "containerd to answer", func() (bool, string) {
		r := ctr("version")
		return r.code == 0, r.String()
	})

	// The image: the test rootfs imported into podman, saved as a docker
	// archive, imported into containerd.
	p := newPodman(t)
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfsTemplate, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	p.mustRun(t, "import", tarball, p.image)
	archive := filepath.Join(dir, "image.tar")
	p.mustRun(t, "save", "--format", "docker-archive", "-o", archive, p.image)
	if r := ctr("images", "import", archive); r.code != 0 {
		t.Fatalf("ctr images import: %v", r)
	}
	image := p.image

	if r := ctr("run", "--runc-binary", runtimeBin, "--rm", image, "ctr-echo", "echo", "hi-from-ctr"); r.code != 0 || r.stdout != "hi-from-ctr\n" {
		t.Fatalf("ctr run: %v", r)
	}
	if r := ctr("run", "-d", "--runc-binary", runtimeBin, image, "ctr-sleep", "sleep", "1000"); r.code != 0 {
		t.Fatalf("ctr run -d: %v", r)
	}
	r := ctr("task", "exec", "--exec-id", "e1", "ctr-sleep", "sh", "-c", "echo exec-$((6*7)); exit 4")
	if r.code != 4 || strings.TrimSpace(r.stdout) != "exec-42" {
		t.Errorf("ctr task exec: %v", r)
	}
	if r := ctr("task", "pause", "ctr-sleep"); r.code != 0 {
		t.Errorf("ctr task pause: %v", r)
	}
	if r := ctr("task", "ls"); !strings.Contains(r.stdout, "PAUSED") {
		t.Errorf("after pause, task ls: %v", r)
	}
	if r := ctr("task", "resume", "ctr-sleep"); r.code != 0 {
		t.Errorf("ctr task resume: %v", r)
	}
	if r := ctr("task", "kill", "-s", "SIGKILL", "ctr-sleep"); r.code != 0 {
		t.Errorf("ctr task kill: %v", r)
	}
	poll(t, "the killed task to stop", func() (bool, string) {
		r := ctr("task", "ls")
		return strings.Contains(r.stdout, "STOPPED") || !strings.Contains(r.stdout, "ctr-sleep"), r.stdout
	})
	if r := ctr("task", "delete", "ctr-sleep"); r.code != 0 {
		t.Errorf("ctr task delete: %v", r)
	}
	if r := ctr("containers", "rm", "ctr-sleep"); r.code != 0 {
		t.Errorf("ctr containers rm: %v", r)
	}
}
