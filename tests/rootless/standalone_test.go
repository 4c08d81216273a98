package rootless

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gophertainer/gtu/internal/mounts"
)

// standalone is a standalone-mode environment: a state root and an image
// store of its own (GOPHERTAINER_ROOT moves gtu-storage's store), and a
// busybox rootfs tarball.
type standalone struct {
	e       *env
	store   string
	tarball string
}

func newStandalone(t *testing.T, e *env) *standalone {
	t.Helper()
	if runtimeIsRunc {
		t.Skip("standalone mode is gtu's own")
	}
	dir := shortTempDir(t, "gtus")
	tarball := filepath.Join(dir, "busybox.tar.gz")
	if out, err := exec.Command("tar", "-C", rootfsTemplate, "-czf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	s := &standalone{e: e, store: filepath.Join(dir, "store"), tarball: tarball}
	if e.user != nil {
		e.user.own(t, dir)
	}
	t.Cleanup(func() {
		// Whatever a failed test left: its containers' layers and mounts.
		for _, m := range mounts.Under(s.store) {
			_ = exec.Command("umount", "-l", m).Run()
		}
	})
	return s
}

func (s *standalone) gtu(args ...string) result {
	cmd := s.e.command(args...)
	cmd.Env = append(cmd.Env, "GOPHERTAINER_ROOT="+filepath.Dir(s.store))
	return execute(cmd)
}

func (s *standalone) mustGtu(t *testing.T, args ...string) result {
	t.Helper()
	r := s.gtu(args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r
}

// storeInfo is gtu-storage's info on this store.
func (s *standalone) storeInfo(t *testing.T) (driver string, containers int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(filepath.Dir(runtimeBin), "gtu-storage"), "--root", s.store, "--runroot", s.store+".run", "info")
	if s.e.user != nil {
		// Only to count: read the store as root.
		cmd = exec.Command(filepath.Join(filepath.Dir(runtimeBin), "gtu-storage"), "--root", s.store, "--runroot", s.store+".run", "--driver", "vfs", "info")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gtu-storage info: %v", err)
	}
	var info struct {
		Driver     string `json:"driver"`
		Containers int    `json:"containers"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.Driver, info.Containers
}

func TestStandalone(t *testing.T) {
	e := newEnv(t)
	s := newStandalone(t, e)
	t.Parallel()
	name := uniqueID(t)

	r := s.mustGtu(t, "--name", name, "--rootfs", s.tarball, "--cmd", `sh -c 'echo "hello  world" > /written; cat /written; grep " / " /proc/self/mountinfo'`)
	if !strings.HasPrefix(r.stdout, "hello  world\n") || !strings.Contains(r.stdout, " - overlay ") {
		t.Errorf("--cmd not split like a shell, or / is not an overlay:\n%s", r.stdout)
	}
	// A second container from the same image does not see the first one's
	// write: each has its own layer, and the image is unchanged.
	r = s.gtu("--name", name+"b", "--rootfs", s.tarball, "--cmd", "cat /written")
	if r.code == 0 || strings.Contains(r.stdout, "hello") {
		t.Errorf("the image changed: a later container sees /written: %v", r)
	}
	if _, n := s.storeInfo(t); n != 0 {
		t.Errorf("%d container layers left after foreground runs", n)
	}
	// -t gives a terminal, -i passes stdin through, the exit status too.
	if out := s.mustGtu(t, "--name", name, "--rootfs", s.tarball, "-t", "--cmd", "sh -c 'tty; test -t 0 && echo stdin-tty'").stdout; !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "stdin-tty") {
		t.Errorf("-t: %q, want a pty on stdin", out)
	}
	cmd := s.e.command("--name", name, "--rootfs", s.tarball, "-i", "--cmd", "sh")
	cmd.Env = append(cmd.Env, "GOPHERTAINER_ROOT="+filepath.Dir(s.store))
	cmd.Stdin = strings.NewReader("echo from-stdin; exit 3\n")
	if r := execute(cmd); r.code != 3 || r.stdout != "from-stdin\n" {
		t.Errorf("-i: %v, want from-stdin and exit status 3", r)
	}

	// Detached: an ordinary container, by name.
	s.mustGtu(t, "--name", name, "--rootfs", s.tarball, "--detach", "--cmd", "sh -c 'echo up; exec sleep 1000'")
	state := s.mustGtu(t, "state", name).stdout
	if !strings.Contains(state, `"running"`) {
		t.Errorf("state: %s", state)
	}
	if out := s.mustGtu(t, "exec", name, "echo", "exec-ok").stdout; out != "exec-ok\n" {
		t.Errorf("exec printed %q", out)
	}
	s.mustGtu(t, "delete", "--force", name)
	if left := mounts.Under(s.store); len(left) != 0 {
		t.Errorf("mounts left after delete: %v", left)
	}
	if _, n := s.storeInfo(t); n != 0 {
		t.Errorf("%d container layers left after delete", n)
	}
	if _, err := os.Stat(filepath.Join(e.root, ".gtu-bundles", name)); !os.IsNotExist(err) {
		t.Errorf("bundle left after delete (%v)", err)
	}
}

// TestStandaloneLimits: --mem and --pids are enforced as root.
func TestStandaloneLimits(t *testing.T) {
	e := newEnv(t)
	s := newStandalone(t, e)
	t.Parallel()
	r := s.gtu("--name", uniqueID(t), "--rootfs", s.tarball, "--mem", "16", "--cmd", "sh -c 'tail /dev/zero'")
	if r.code != 137 {
		t.Errorf("--mem 16 and a memory hog: want the OOM kill's 137, got %v", r)
	}
	// Not much lower: gtu's init stage, a Go program of a few threads,
	// runs in the container's cgroup until it execs the command.
	r = s.gtu("--name", uniqueID(t), "--rootfs", s.tarball, "--pids", "10", "--cmd",
		"sh -c 'for i in $(seq 20); do sleep 2 & done; wait; echo done'")
	if !strings.Contains(r.stderr+r.stdout, "can't fork") {
		t.Errorf("--pids 10: want a fork failure, got %v", r)
	}
}

// TestStandaloneRootless: the README's main command as an ordinary user:
// a container from a rootfs tarball, root inside, on overlay with the full
// map, delete by name removes its layer; limits without delegation fail
// clearly.
func TestStandaloneRootless(t *testing.T) {
	e := newUserEnv(t)
	s := newStandalone(t, e)
	t.Parallel()
	name := uniqueID(t)
	r := s.mustGtu(t, "--name", name, "--rootfs", s.tarball, "--detach", "--cmd", "sh -c 'sleep 1000'")
	out := s.mustGtu(t, "exec", name, "sh", "-c", "id -u; wc -l < /proc/self/uid_map; grep ' / ' /proc/self/mountinfo").stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || lines[0] != "0" || strings.TrimSpace(lines[1]) != "2" || !strings.Contains(lines[2], "overlay") {
		t.Errorf("inside: %q; want uid 0, the two-line full map and an overlay root (%v)", out, r)
	}
	s.mustGtu(t, "delete", "--force", name)
	if _, err := os.Stat(filepath.Join(e.root, ".gtu-bundles", name)); !os.IsNotExist(err) {
		t.Errorf("bundle left after delete (%v)", err)
	}
	r = s.gtu("--name", name, "--rootfs", s.tarball, "--pids", "10", "--cmd", "true")
	if r.code == 0 && !delegated(e.user.uid) {
		t.Errorf("--pids without delegation was accepted: %v", r)
	}
	if r.code != 0 {
		mustContain(t, "the error", r.stderr, "cgroup-delegate")
	}
}

// delegated reports whether root delegated cgroups to uid (then limits
// work rootless).
func delegated(uid int) bool {
	_, err := os.Stat("/sys/fs/cgroup/pids/gtu.user." + strconv.Itoa(uid))
	return err == nil
}

// TestImageVerbs: import, images, rmi and info, as root and rootless.
func TestImageVerbs(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		t.Run(map[bool]string{false: "root", true: "rootless"}[rootless], func(t *testing.T) {
			e := newEnv(t)
			if rootless {
				e = newUserEnv(t)
			}
			s := newStandalone(t, e)
			id := strings.TrimSpace(s.mustGtu(t, "import", "--name", "bb", s.tarball).stdout)
			if again := strings.TrimSpace(s.mustGtu(t, "import", s.tarball).stdout); again != id {
				t.Errorf("re-import gave id %s, want %s (once per content digest)", again, id)
			}
			var ims []struct {
				ID    string   `json:"id"`
				Names []string `json:"names"`
			}
			if err := json.Unmarshal([]byte(s.mustGtu(t, "images", "-f", "json").stdout), &ims); err != nil {
				t.Fatal(err)
			}
			if len(ims) != 1 || ims[0].ID != id || len(ims[0].Names) != 1 || ims[0].Names[0] != "bb" {
				t.Errorf("images: %+v, want one image %s named bb", ims, id)
			}
			var info struct {
				Mode    string `json:"mode"`
				Storage struct {
					Driver string `json:"driver"`
				} `json:"storage"`
			}
			if err := json.Unmarshal([]byte(s.mustGtu(t, "info").stdout), &info); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "root", true: "rootless"}[rootless]; info.Mode != want || info.Storage.Driver == "" {
				t.Errorf("info: %+v, want mode %s and a storage driver", info, want)
			}
			s.mustGtu(t, "rmi", "bb")
			if out := strings.TrimSpace(s.mustGtu(t, "images", "-f", "json").stdout); out != "[]" {
				t.Errorf("images after rmi: %s", out)
			}
		})
	}
}
