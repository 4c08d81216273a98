// Package systemduser runs packaging/systemd/gtu-container@.service against a
// real systemd --user manager (scripts/systemd-user.sh starts one: the test
// machines have no logind) for the unprivileged test user. The test needs
// root to start the manager and set the user up; the container itself runs
// as the user, rootless.
package systemduser

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/internal/testhost"
)

const (
	testUser = "gtutest"
	unitName = "gtu-container@.service"
	timeout  = 20 * time.Second
)

type env struct {
	t              *testing.T
	repo, script   string
	uid, gid       int
	home           string
	gtu            string // the built binary
	containerID    string
	bundle, marker string
	log            string // the service's stdout and stderr
}

// as runs argv as the test user inside its manager's cgroup tree, with the
// manager's environment (XDG_RUNTIME_DIR, the bus).
func (e *env) as(argv ...string) (string, error) {
	cmd := exec.Command(e.script, append([]string{"run", strconv.Itoa(e.uid)}, argv...)...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) mustAs(argv ...string) string {
	e.t.Helper()
	out, err := e.as(argv...)
	if err != nil {
		e.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

func setup(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts a systemd --user manager for the test user")
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Skipf("no user %s (scripts/setup-test-host.sh creates it): %v", testUser, err)
	}
	for _, p := range []string{"/lib/systemd/systemd", "/bin/busybox"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s missing (scripts/setup-test-host.sh installs systemd, dbus-user-session, busybox-static): %v", p, err)
		}
	}
	e := &env{t: t, home: u.HomeDir}
	e.uid, _ = strconv.Atoi(u.Uid)
	e.gid, _ = strconv.Atoi(u.Gid)
	if e.repo, err = filepath.Abs("../.."); err != nil {
		t.Fatal(err)
	}
	e.script = filepath.Join(e.repo, "scripts/systemd-user.sh")

	bin, err := os.MkdirTemp("", "gtu-systemduser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	e.gtu = filepath.Join(bin, "gtu")
	build := exec.Command(filepath.Join(e.repo, "scripts/build.sh"), e.gtu)
	build.Dir = e.repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gtu: %v\n%s", err, out)
	}

	testhost.LockUserManager(t, e.uid)
	if exec.Command(e.script, "status", u.Uid).Run() != nil {
		if out, err := exec.Command(e.script, "start", u.Uid).CombinedOutput(); err != nil {
			t.Fatalf("start systemd --user: %v\n%s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command(e.script, "stop", u.Uid).CombinedOutput(); err != nil {
				t.Errorf("stop systemd --user: %v\n%s", err, out)
			}
		})
	}
	// Rootless `gtu run` comes with issue 5; until the binary has it,
	// there is nothing for the unit to run.
	if out, err := e.as(e.gtu, "list"); err != nil && strings.Contains(out, "not implemented") {
		t.Skipf("gtu as an unprivileged user: %s", strings.TrimSpace(out))
	}
	return e
}

// installUnit puts the packaged unit into the user's unit directory, with
// `gtu` (which the unit finds in systemd's search path) replaced by the
// binary under test: nothing else is changed.
func (e *env) installUnit() {
	t := e.t
	t.Helper()
	src, err := os.ReadFile(filepath.Join(e.repo, "packaging/systemd", unitName))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(src), "\n") {
		for _, key := range []string{"ExecStartPre=-", "ExecStart=", "ExecStop=", "ExecStopPost="} {
			if rest, ok := strings.CutPrefix(l, key+"gtu "); ok {
				l = key + e.gtu + " " + rest
			}
		}
		lines = append(lines, l)
	}
	dir := filepath.Join(e.home, ".config/systemd/user")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, unitName)
	if _, err := os.Stat(unit); err == nil {
		t.Fatalf("%s exists: not ours to replace", unit)
	}
	if err := os.WriteFile(unit, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(unit)
		_, _ = e.as("systemctl", "--user", "daemon-reload")
	})
	for _, d := range []string{filepath.Join(e.home, ".config"), filepath.Join(e.home, ".config/systemd"), dir} {
		if err := os.Chown(d, e.uid, e.gid); err != nil {
			t.Fatal(err)
		}
	}
	// Test-only drop-in: the machines have no journald, so gtu's output
	// goes to a file the test shows on failure.
	dropIn := filepath.Join(dir, "gtu-container@"+e.containerID+".service.d")
	if err := os.MkdirAll(dropIn, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dropIn) })
	e.log = filepath.Join(filepath.Dir(e.gtu), e.containerID+".log")
	if err := os.WriteFile(e.log, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.log, 0o666); err != nil {
		t.Fatal(err)
	}
	conf := "[Service]\nStandardOutput=append:" + e.log + "\nStandardError=append:" + e.log + "\n"
	if err := os.WriteFile(filepath.Join(dropIn, "log.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustAs("systemctl", "--user", "daemon-reload")
}

// makeBundle makes ~/.local/share/gtu/bundles/<id> whose container writes a
// marker into its rootfs and then waits to be stopped.
func (e *env) makeBundle() {
	t := e.t
	t.Helper()
	base := filepath.Join(e.home, ".local/share/gtu/bundles")
	e.bundle = filepath.Join(base, e.containerID)
	if err := os.MkdirAll(e.bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(e.bundle) })
	if out, err := exec.Command(filepath.Join(e.repo, "scripts/mkrootfs.sh"), filepath.Join(e.bundle, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("mkrootfs: %v\n%s", err, out)
	}
	for d := base; d != filepath.Dir(e.home); d = filepath.Dir(d) {
		if err := os.Chown(d, e.uid, e.gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "-R", strconv.Itoa(e.uid)+":"+strconv.Itoa(e.gid), e.bundle).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	e.mustAs("sh", "-c", "cd "+e.bundle+" && "+e.gtu+" spec --rootless")
	cfgPath := filepath.Join(e.bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	// The init of a pid namespace ignores signals it has no handler for:
	// like a real service, it must handle SIGTERM to stop on it.
	s.Process.Args = []string{"sh", "-c", "trap 'exit 0' TERM; echo started " + e.containerID + " >/marker; sleep 1000 & wait"}
	if s.Root != nil {
		s.Root.Readonly = false
	}
	if raw, err = json.MarshalIndent(&s, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	e.marker = filepath.Join(e.bundle, "rootfs/marker")
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(e.log)
			e.t.Fatalf("timed out after %v waiting for %s; the service's output:\n%s", timeout, what, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) activeState(unit string) string {
	out, _ := e.as("systemctl", "--user", "show", "--property=ActiveState", "--value", unit)
	return strings.TrimSpace(out)
}

func TestContainerService(t *testing.T) {
	e := setup(t)
	e.containerID = "unit-test-" + strconv.Itoa(os.Getpid())
	unit := "gtu-container@" + e.containerID + ".service"
	e.installUnit()
	e.makeBundle()
	t.Cleanup(func() {
		// If the test failed half-way: stop the service (which deletes the
		// container) before its unit file and bundle go.
		_, _ = e.as("systemctl", "--user", "stop", unit)
	})

	e.mustAs("systemctl", "--user", "start", unit)
	e.waitFor("the container's marker", func() bool {
		b, err := os.ReadFile(e.marker)
		return err == nil && strings.TrimSpace(string(b)) == "started "+e.containerID
	})
	if st := e.activeState(unit); st != "active" {
		t.Errorf("%s: ActiveState %q, want active", unit, st)
	}
	out := e.mustAs(e.gtu, "state", e.containerID)
	var state specs.State
	if err := json.Unmarshal([]byte(out), &state); err != nil {
		t.Fatalf("gtu state: %v\n%s", err, out)
	}
	if state.Status != specs.StateRunning || state.Pid <= 0 {
		t.Errorf("gtu state: %+v, want running", state)
	}
	// gtu runs inside the manager's tree here, so its rootless cgroup is
	// a Delegate=yes scope the user manager made over D-Bus.
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(state.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	scope := "/user@" + strconv.Itoa(e.uid) + ".service/"
	if !strings.Contains(string(cg), scope) || !strings.Contains(string(cg), "gtu-"+e.containerID+".scope") {
		t.Errorf("the container's cgroups are not the scope gtu-%s.scope below %s:\n%s", e.containerID, scope, cg)
	}

	e.mustAs("systemctl", "--user", "stop", unit)
	if st := e.activeState(unit); st != "inactive" {
		t.Errorf("after stop: ActiveState %q, want inactive (a failed stop means the container did not end on SIGTERM)", st)
	}
	// ExecStopPost deleted the container, and its init is gone.
	if out, err := e.as(e.gtu, "state", e.containerID); err == nil {
		t.Errorf("container still there after stop: %s", out)
	}
	if err := unix.Kill(state.Pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("container init %d: kill -0 = %v, want ESRCH (gone)", state.Pid, err)
	}
}
