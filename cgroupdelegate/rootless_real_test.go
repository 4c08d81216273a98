package cgroupdelegate

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/internal/cghelper"
	"github.com/gophertainer/gtu/internal/testhost"
)

// Real rootless tests: root delegates (or starts a systemd --user manager),
// then this test binary runs again as the unprivileged test user, inside
// `unshare --user --map-root-user` (uid 0 there, as in gtu's session
// namespace and podman's) or without a user namespace, and drives New,
// Create, Apply... as rootless gtu would. The helper's checks are in
// TestRootlessHelper, selected by $GTU_CGDEL_HELPER.

const (
	helperEnv  = "GTU_CGDEL_HELPER"
	testUser   = "gtutest"
	hogMiB     = 256 // what the memory hog touches, far above its limit
	limitBytes = 32 << 20
)

// testUserIDs returns the test user's ids, or skips.
func testUserIDs(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Skipf("no user %s (scripts/setup-test-host.sh creates it): %v", testUser, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// runHelper runs TestRootlessHelper in mode, through the command prefix
// (setpriv, unshare, the systemd-user.sh wrapper...).
func runHelper(t *testing.T, mode string, prefix ...string) {
	t.Helper()
	dir := testhost.PublicDir(t, "gtu-cgdel-")
	bin := testhost.SelfCopy(t, dir, "cgroupdelegate.test")
	// gtu-cgroup next to the test binary, where a copy of gtu would look
	// for it: the user scope is asked for there.
	useHelper(t)
	testhost.CopyFile(t, builtHelper, filepath.Join(dir, cghelper.Name), 0o755)
	args := append(slices.Clone(prefix), bin, "-test.run=^TestRootlessHelper$", "-test.v", "-test.count=1")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "HOME=/", "XDG_RUNTIME_DIR=", "DBUS_SESSION_BUS_ADDRESS=")
	cmd.Dir = filepath.Dir(bin)
	out, err := cmd.CombinedOutput()
	t.Logf("helper %s:\n%s", mode, out)
	if err != nil {
		t.Fatalf("helper %s: %v", mode, err)
	}
	if !strings.Contains(string(out), "--- PASS: TestRootlessHelper") {
		t.Fatalf("helper %s did not pass", mode)
	}
}

func asUser(uid, gid int) []string {
	return []string{"setpriv", "--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--init-groups"}
}

func randomID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestDelegateRootless: root delegates to the test user; the user, with
// and without a user namespace, gets a cgroup with limits the kernel
// enforces; Undelegate cleans up.
func TestDelegateRootless(t *testing.T) {
	requireHybridRoot(t)
	uid, gid := testUserIDs(t)
	testhost.LockUserManager(t, uid)
	hs, err := hierarchies(cgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if _, err := os.Stat(filepath.Join(h.dir, delegatedName(uid))); err == nil {
			t.Skipf("%s already exists: not ours to use or remove", filepath.Join(h.dir, delegatedName(uid)))
		}
	}
	dirs, err := Delegate(cgroupRoot, uid, gid)
	t.Cleanup(func() {
		if _, err := Undelegate(cgroupRoot, uid); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(hs) {
		t.Errorf("Delegate made %d directories for %d hierarchies: %v", len(dirs), len(hs), dirs)
	}
	again, err := Delegate(cgroupRoot, uid, gid)
	if err != nil || !slices.Equal(again, dirs) {
		t.Errorf("Delegate again = %v, %v; want %v (idempotent)", again, err, dirs)
	}
	for _, d := range dirs {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil || int(st.Uid) != uid {
			t.Errorf("%s: uid %d, %v; want %d", d, st.Uid, err, uid)
		}
		if err := unix.Stat(filepath.Join(d, "cgroup.procs"), &st); err != nil || int(st.Uid) != uid {
			t.Errorf("%s/cgroup.procs: uid %d, %v; want %d", d, st.Uid, err, uid)
		}
	}
	if cpus := readTrim(t, filepath.Join(cgroupRoot, "cpuset", delegatedName(uid), "cpuset.cpus")); cpus == "" {
		t.Error("delegated cpuset has no cpus: tasks could not join")
	}
	// Root's cap on the user stays root's.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(cgroupRoot, "memory", delegatedName(uid), "memory.limit_in_bytes"), &st); err != nil || st.Uid != 0 {
		t.Errorf("base memory.limit_in_bytes: uid %d, %v; want root's", st.Uid, err)
	}

	t.Run("userns", func(t *testing.T) {
		runHelper(t, "delegated", append(asUser(uid, gid), "unshare", "--user", "--map-root-user", "--")...)
	})
	t.Run("plain", func(t *testing.T) {
		runHelper(t, "delegated", asUser(uid, gid)...)
	})

	// The helpers' cgroups are gone; Undelegate removes the bases.
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				t.Errorf("left behind: %s", filepath.Join(d, e.Name()))
			}
		}
	}
	removed, err := Undelegate(cgroupRoot, uid)
	if err != nil || !slices.Equal(removed, dirs) {
		t.Errorf("Undelegate = %v, %v; want %v", removed, err, dirs)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", d)
		}
	}
}

func TestUndelegateRefuses(t *testing.T) {
	requireHybridRoot(t)
	if _, err := Delegate(cgroupRoot, 0, 0); err == nil {
		t.Error("Delegate to root accepted")
	}
	// A directory with the name but not the owner is not ours.
	const uid = 64999
	dir := filepath.Join(cgroupRoot, "pids", delegatedName(uid))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("mkdir %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = unix.Rmdir(dir) })
	if _, err := Undelegate(cgroupRoot, uid); !errors.Is(err, ErrNotDelegated) {
		t.Errorf("Undelegate of a root-owned directory = %v, want ErrNotDelegated", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Undelegate removed %s: %v", dir, err)
	}
}

// TestRootlessHelper runs as the unprivileged user (see runHelper).
func TestRootlessHelper(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		t.Skip("helper of the rootless tests, run by them")
	case "hog":
		hog()
	case "delegated":
		helperDelegated(t)
	case "scope":
		helperScope(t)
	case "scope-limits":
		helperScopeLimits(t)
	default:
		t.Fatalf("unknown helper mode %q", os.Getenv(helperEnv))
	}
}

// hog touches hogMiB of memory, a page at a time.
func hog() {
	b := make([]byte, hogMiB<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	os.Exit(0)
}

func hostIDs(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

func helperDelegated(t *testing.T) {
	uid, gid := hostIDs(t)
	t.Logf("uid %d in here, host uid %d", os.Getuid(), uid)
	// One level, so that Destroy leaves nothing (it removes the leaf).
	path := "/gtu-test-" + randomID(t)
	cg, err := New(Config{
		ID: "c1", Path: path, Rootless: true, HostUID: uid, HostGID: gid,
		Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: ptr[int64](limitBytes), Swap: ptr[int64](limitBytes)},
			Pids:   &specs.LinuxPids{Limit: ptr[int64](8)},
			CPU:    &specs.LinuxCPU{Quota: ptr[int64](20000), Period: ptr[uint64](100000)},
			// Ignored rootless: only real root may write v1 device rules.
			Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cg.rootless == nil || cg.rootless.Mode != modeDelegated {
		t.Fatalf("rootless %+v, want the delegated manager", cg.rootless)
	}
	paths := cg.Paths()
	base := filepath.Join(cgroupRoot, "memory", delegatedName(uid))
	if want := base + path; paths["memory"] != want {
		t.Fatalf("memory path %q, want %q", paths["memory"], want)
	}
	if !cg.CanEnterThread() {
		t.Fatal("delegated: CanEnterThread false")
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cg.Destroy(); err != nil {
			t.Error(err)
		}
		for _, p := range paths {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind", p)
			}
		}
	}()
	for file, want := range map[string]string{
		filepath.Join(paths["memory"], "memory.limit_in_bytes"): strconv.Itoa(limitBytes),
		filepath.Join(paths["pids"], "pids.max"):                "8",
		filepath.Join(paths["cpu"], "cpu.cfs_quota_us"):         "20000",
	} {
		if got := readTrim(t, file); got != want {
			t.Errorf("%s = %s, want %s", file, got, want)
		}
	}

	// The pids limit: 8 processes at most. The shell forks once it is in
	// the cgroup (it waits for a line on stdin).
	forker := exec.Command("sh", "-c", `read x; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; wait`)
	forker.Stdout, forker.Stderr = io.Discard, io.Discard
	forker.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	go_, err := forker.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := forker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Only if the test failed before the kill below: the shell's group.
		if forker.ProcessState == nil {
			_ = unix.Kill(-forker.Process.Pid, unix.SIGKILL)
			_ = forker.Wait()
		}
	}()
	if err := cg.AddPid(forker.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// Placement (Apply's second half) as the later verbs see it.
	if !slices.Contains(readProcs(t, paths["memory"]), forker.Process.Pid) {
		own, _ := os.ReadFile("/proc/" + strconv.Itoa(forker.Process.Pid) + "/cgroup")
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(forker.Process.Pid) + "/stat")
		t.Fatalf("pid %d not in %s; its cgroups:\n%s\nstat %s", forker.Process.Pid, paths["memory"], own, st)
	}
	if _, err := io.WriteString(go_, "go\n"); err != nil {
		t.Fatal(err)
	}
	// The shell tries 10 forks; the ones over the limit are refused (and
	// dash gives up: "Cannot fork").
	waitFor(t, "a fork refused at pids.max", func() bool {
		return readTrim(t, filepath.Join(paths["pids"], "pids.events")) != "max 0"
	})
	if cur, _ := strconv.Atoi(readTrim(t, filepath.Join(paths["pids"], "pids.current"))); cur > 8 {
		t.Errorf("pids.current = %d, above pids.max 8", cur)
	}

	// pause/resume through a loaded copy (a later gtu process), then
	// kill everything.
	loaded := reload(t, cg)
	if err := loaded.Freeze(); err != nil {
		t.Fatal(err)
	}
	mustFrozen(t, cg, true)
	if err := loaded.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := loaded.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Killed processes count until they are reaped: the shell by us.
	_ = forker.Wait()
	waitFor(t, "the cgroup to empty", func() bool { return readTrim(t, filepath.Join(paths["pids"], "pids.current")) == "0" })
	// update works rootless too: room for the hog's Go threads.
	if _, err := cg.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](256)}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(paths["pids"], "pids.max")); got != "256" {
		t.Errorf("pids.max after update = %s, want 256", got)
	}

	// The fast placement: a thread enters, the process it starts is in.
	// (Last: the hog leaves the cgroup full of reclaimable charges, and a
	// process placed right after it may meet the OOM killer too.)
	self, _ := os.Executable()
	hogCmd := exec.Command(self, "-test.run=^TestRootlessHelper$")
	hogCmd.Env = append(os.Environ(), helperEnv+"=hog")
	err = startInCgroup(cg, hogCmd)
	if err != nil {
		t.Fatal(err)
	}
	// The memory limit is enforced: the hog is OOM-killed.
	err = hogCmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("hog touching %d MiB under a %d MiB limit ended with %v, want SIGKILL by the OOM killer", hogMiB, limitBytes>>20, err)
	}
	if n, err := cgroups.ReadFile(paths["memory"], "memory.oom_control"); err != nil || !strings.Contains(n, "oom_kill 1") {
		t.Errorf("memory.oom_control = %q, %v; want oom_kill 1", n, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUserScopeRootless: a real systemd --user manager for the test user
// (scripts/systemd-user.sh) gives a Delegate=yes scope to a client that is
// uid 0 in a user namespace: the D-Bus authentication names the host uid.
func TestUserScopeRootless(t *testing.T) {
	requireHybridRoot(t)
	uid, gid := testUserIDs(t)
	testhost.LockUserManager(t, uid)
	if _, err := os.Stat("/lib/systemd/systemd"); err != nil {
		t.Skipf("no systemd to run as the user manager (apt-get install systemd dbus-user-session): %v", err)
	}
	hs, err := hierarchies(cgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if _, err := os.Stat(filepath.Join(h.dir, delegatedName(uid))); err == nil {
			t.Skipf("%s exists: the delegated manager would be chosen", filepath.Join(h.dir, delegatedName(uid)))
		}
	}
	script, err := filepath.Abs("../scripts/systemd-user.sh")
	if err != nil {
		t.Fatal(err)
	}
	u := strconv.Itoa(uid)
	if exec.Command(script, "status", u).Run() != nil {
		if out, err := exec.Command(script, "start", u).CombinedOutput(); err != nil {
			t.Fatalf("%s start %s: %v\n%s", script, u, err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command(script, "stop", u).CombinedOutput(); err != nil {
				t.Errorf("%s stop %s: %v\n%s", script, u, err, out)
			}
		})
	}
	_ = gid
	t.Run("userns", func(t *testing.T) {
		runHelper(t, "scope", script, "run", u, "unshare", "--user", "--map-root-user", "--")
	})
	t.Run("plain", func(t *testing.T) {
		runHelper(t, "scope", script, "run", u)
	})
	// --systemd-cgroup with limits: the scope holds the process, the v1
	// cgroups root delegated hold the limits.
	t.Run("limits", func(t *testing.T) {
		if _, err := Delegate(cgroupRoot, uid, gid); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := Undelegate(cgroupRoot, uid); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		runHelper(t, "scope-limits", script, "run", u, "unshare", "--user", "--map-root-user", "--")
	})
}

// authExternalReply sends "AUTH EXTERNAL <hex uid>" and returns the
// bus's answer line.
func authExternalReply(t *testing.T, bus string, uid int) string {
	t.Helper()
	c, err := net.Dial("unix", strings.TrimPrefix(bus, "unix:path="))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "\x00AUTH EXTERNAL %s\r\n", hex.EncodeToString([]byte(strconv.Itoa(uid)))); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

func startSleepGroup(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func helperScope(t *testing.T) {
	uid, gid := hostIDs(t)
	t.Logf("uid %d in here, host uid %d", os.Getuid(), uid)
	bus := userBus(uid)
	if bus == "" {
		t.Fatal("no user bus found")
	}
	// The bus takes the identity from the socket's peer credentials, the
	// host uid: a client naming its uid inside the namespace (0) is
	// refused, one naming the host uid accepted. godbus names none (AUTH
	// EXTERNAL, then an empty DATA), which is accepted too (dialUser).
	for claim, want := range map[int]string{os.Getuid(): "REJECTED", uid: "OK"} {
		if got := authExternalReply(t, bus, claim); !strings.HasPrefix(got, want) {
			t.Errorf("AUTH EXTERNAL as uid %d (we are %d in here): %q, want %s", claim, os.Getuid(), got, want)
		}
	}

	id := "scope-" + randomID(t)
	_, err := New(Config{ID: id, Rootless: true, HostUID: uid, HostGID: gid,
		Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](limitBytes)}}})
	if !errors.Is(err, ErrNeedsDelegation) {
		t.Errorf("limits in a scope without controllers: %v, want ErrNeedsDelegation", err)
	}
	cg, err := New(Config{ID: id, Rootless: true, HostUID: uid, HostGID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if cg.rootless.Mode != modeUserScope || cg.CanEnterThread() {
		t.Fatalf("mode %s, CanEnterThread %v; want the user scope, placed by systemd", cg.rootless.Mode, cg.CanEnterThread())
	}
	if err := cg.Create(); !errors.Is(err, ErrSystemdPlacement) {
		t.Errorf("Create = %v, want ErrSystemdPlacement", err)
	}
	cmd := startSleepGroup(t)
	if err := cg.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	scope := cg.Paths()[""]
	if !strings.HasSuffix(scope, "/gtu-"+id+".scope") {
		t.Errorf("cgroup2 path %q is not the scope gtu-%s.scope", scope, id)
	}
	own, err := cgroups.ParseCgroupFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "name=systemd"} {
		if !strings.HasSuffix(own[k], "/gtu-"+id+".scope") {
			t.Errorf("process in %q cgroup %q, want the scope", k, own[k])
		}
	}
	if del := readTrim(t, filepath.Join(scope, "cgroup.procs")); del != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("scope cgroup.procs = %q", del)
	}
	// Delegate=yes: the scope's directory is ours to manage.
	var st unix.Stat_t
	if err := unix.Stat(scope, &st); err != nil || int(st.Uid) != os.Getuid() {
		t.Errorf("scope directory owner %d (%v), want us (%d): not delegated", st.Uid, err, os.Getuid())
	}

	if err := cg.Freeze(); err != nil {
		t.Fatal(err)
	}
	mustFrozen(t, cg, true)
	if ev := readTrim(t, filepath.Join(scope, "cgroup.events")); !strings.Contains(ev, "frozen 1") {
		t.Errorf("cgroup.events = %q, want frozen 1", ev)
	}
	if err := cg.Thaw(); err != nil {
		t.Fatal(err)
	}
	mustFrozen(t, cg, false)

	loaded := reload(t, cg)
	if pids, err := loaded.Pids(); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Pids = %v, %v", pids, err)
	}
	if err := loaded.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, cmd)
	if err := loaded.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scope to go", func() bool { _, err := os.Stat(scope); return errors.Is(err, os.ErrNotExist) })

	// --systemd-cgroup: "slice:prefix:name" against the user manager;
	// Destroy stops a scope that still runs.
	sd, err := New(Config{ID: id, Systemd: true, Path: "app.slice:gtutest:" + id, Rootless: true, HostUID: uid, HostGID: gid})
	if err != nil {
		t.Fatal(err)
	}
	cmd = startSleepGroup(t)
	if err := sd.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	scope = sd.Paths()[""]
	if !strings.HasSuffix(scope, "/app.slice/gtutest-"+id+".scope") {
		t.Errorf("--systemd-cgroup scope at %q", scope)
	}
	if err := sd.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the scope's process survived its stop")
	}
	waitFor(t, "the scope to go", func() bool { _, err := os.Stat(scope); return errors.Is(err, os.ErrNotExist) })
	// Already gone: not an error.
	if err := sd.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func helperScopeLimits(t *testing.T) {
	uid, gid := hostIDs(t)
	id := "limits-" + randomID(t)
	cg, err := New(Config{ID: id, Systemd: true, Path: "app.slice:gtu:" + id, Rootless: true, HostUID: uid, HostGID: gid,
		Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](limitBytes)}, Pids: &specs.LinuxPids{Limit: ptr[int64](5)}}})
	if err != nil {
		t.Fatal(err)
	}
	if cg.rootless.Mode != modeUserScope || len(cg.rootless.Limits) == 0 {
		t.Fatalf("rootless %+v, want the user scope with delegated v1 limits", cg.rootless)
	}
	cmd := startSleepGroup(t)
	if err := cg.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	paths := cg.Paths()
	if want := filepath.Join(cgroupRoot, "memory", delegatedName(uid), id); paths["memory"] != want {
		t.Errorf("memory path %q, want %q", paths["memory"], want)
	}
	if got := readTrim(t, filepath.Join(paths["memory"], "memory.limit_in_bytes")); got != strconv.Itoa(limitBytes) {
		t.Errorf("memory.limit_in_bytes = %s", got)
	}
	own, err := cgroups.ParseCgroupFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(own[""], "/app.slice/gtu-"+id+".scope") || !strings.HasSuffix(own["name=systemd"], "/app.slice/gtu-"+id+".scope") {
		t.Errorf("process not in the scope: %v", own)
	}
	if own["memory"] != "/"+delegatedName(uid)+"/"+id || own["pids"] != "/"+delegatedName(uid)+"/"+id {
		t.Errorf("process not in the delegated v1 cgroups: %v", own)
	}
	loaded := reload(t, cg)
	st, err := loaded.Stats()
	if err != nil || st.MemoryStats.Usage.Limit != limitBytes || st.PidsStats.Current != 1 {
		t.Errorf("Stats = memory limit %d, pids %d, %v", st.MemoryStats.Usage.Limit, st.PidsStats.Current, err)
	}
	if err := loaded.Destroy(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for k, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: %s left behind", k, p)
		}
	}
}
