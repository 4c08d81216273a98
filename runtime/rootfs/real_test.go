package rootfs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"

	"github.com/gophertainer/gtu/internal/testhost"
)

// The real tests re-execute this test binary in new namespaces; TestMain
// turns it into a tiny init stage when childEnv is set: Prepare, a console,
// Finalize, then exec busybox sh with the test's script.
const (
	childEnv   = "GTU_ROOTFS_TEST_CHILD"
	planEnv    = "GTU_ROOTFS_TEST_PLAN"
	scriptEnv  = "GTU_ROOTFS_TEST_SCRIPT"
	consoleEnv = "GTU_ROOTFS_TEST_CONSOLE"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	runtime.LockOSThread()
	var p spec.Plan
	if err := json.Unmarshal([]byte(os.Getenv(planEnv)), &p); err != nil {
		fmt.Println("CHILD-ERROR:", err)
		return 2
	}
	if err := Prepare(&p, nil); err != nil {
		fmt.Println("PREPARE-ERROR:", err)
		return 3
	}
	if os.Getenv(consoleEnv) != "" {
		slave, err := openPty()
		if err == nil {
			err = BindConsole(slave)
		}
		if err != nil {
			fmt.Println("CONSOLE-ERROR:", err)
			return 4
		}
	}
	if err := Finalize(&p); err != nil {
		fmt.Println("FINALIZE-ERROR:", err)
		return 5
	}
	err := syscall.Exec("/bin/busybox", []string{"busybox", "sh", "-c", os.Getenv(scriptEnv)}, []string{"PATH=/bin"})
	fmt.Println("EXEC-ERROR:", err)
	return 6
}

// openPty opens a pty in the container's devpts and returns the slave path.
// The master stays open (no O_CLOEXEC) for the script's lifetime.
func openPty() (string, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return "", fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return "", fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return "", fmt.Errorf("ptsname: %w", err)
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}

const (
	nosuid      = unix.MS_NOSUID
	nodev       = unix.MS_NODEV
	noexec      = unix.MS_NOEXEC
	ro          = unix.MS_RDONLY
	relatime    = unix.MS_RELATIME
	strictatime = unix.MS_STRICTATIME
	bind        = unix.MS_BIND
	rec         = unix.MS_REC
)

// fixture is one real run: a busybox rootfs, the plan, host-side paths.
type fixture struct {
	rootfs  string
	outside string // a host directory the rootfs links to
	plan    spec.Plan
}

func requireRealEnv(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates mount, pid and user namespaces and mounts")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
}

// openTempDir is t.TempDir made traversable by a process of another
// (user-namespace) uid.
func openTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{rootfs: openTempDir(t), outside: openTempDir(t)}
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.Mkdir(filepath.Join(f.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Chmod(filepath.Join(f.rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	testhost.CopyFile(t, "/bin/busybox", filepath.Join(f.rootfs, "bin/busybox"), 0o755)
	for _, applet := range []string{"sh", "cat", "ls", "stat", "touch", "readlink", "wc", "tr", "echo", "grep"} {
		if err := os.Symlink("busybox", filepath.Join(f.rootfs, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink pointing at an absolute host path: resolved inside the
	// rootfs, a mount through it must never land in f.outside. (The
	// target exists in the rootfs too: a dangling symlink is refused.)
	if err := os.Symlink(f.outside, filepath.Join(f.rootfs, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.rootfs, f.outside), 0o755); err != nil {
		t.Fatal(err)
	}
	data := openTempDir(t)
	writeFile(t, filepath.Join(data, "hello"), "hello from host\n")
	hostFile := filepath.Join(openTempDir(t), "hostfile")
	writeFile(t, hostFile, "a host file\n")

	f.plan = spec.Plan{
		Rootfs:         f.rootfs,
		RootfsReadonly: true,
		Mounts: []spec.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Flags: nosuid | noexec | nodev},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Flags: nosuid | strictatime, Data: "mode=755,size=65536k"},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Flags: nosuid | noexec, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Flags: nosuid | noexec | nodev, Data: "mode=1777,size=65536k"},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Flags: nosuid | noexec | nodev},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Flags: nosuid | noexec | nodev | ro},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Flags: nosuid | noexec | nodev | relatime | ro},
			{Destination: "/data", Type: "bind", Source: data, Flags: bind | rec | ro, Propagation: []uintptr{unix.MS_PRIVATE | rec}},
			{Destination: "/etc/hostfile", Type: "bind", Source: hostFile, Flags: bind},
			{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Flags: nosuid | nodev, AttrSet: unix.MOUNT_ATTR_RDONLY},
			{Destination: "/linkdir/x", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Flags: nosuid | nodev},
		},
		// spec.Build always starts Devices with the defaults.
		Devices: append(spec.DefaultDevices(),
			spec.Device{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o600, UID: 1000, GID: 1000}),
		MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/acpi", "/sys/firmware", "/proc/no-such-file"},
		ReadonlyPaths: []string{"/proc/sys", "/proc/bus", "/proc/sysrq-trigger"},
	}
	return f
}

// checkScript runs inside the container; the parent parses its output.
const checkScript = `
echo "== stat"
stat -c 'dev %n|%F|%t:%T|%a|%u:%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse /dev/console
for l in fd stdin stdout stderr ptmx core; do echo "link $l $(readlink /dev/$l)"; done
touch /newfile 2>/dev/null && echo "check root rw" || echo "check root ro"
touch /data/new 2>/dev/null && echo "check data rw" || echo "check data ro"
touch /run/new 2>/dev/null && echo "check run rw" || echo "check run ro"
touch /tmp/new 2>/dev/null && echo "check tmp rw" || echo "check tmp ro"
touch /dev/shm/new 2>/dev/null && echo "check shm rw" || echo "check shm ro"
(echo 0 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo "check procsys rw" || echo "check procsys ro"
echo "check tmpmode $(stat -c %a /tmp)"
echo "check datafile $(cat /data/hello)"
echo "check hostfile $(cat /etc/hostfile)"
echo "check keys $(cat /proc/keys | wc -c)"
echo "check acpi $(ls /proc/acpi | wc -l)"
echo "check cgroups $(ls /sys/fs/cgroup | tr '\n' ' ')"
echo "check memcg $(cat /sys/fs/cgroup/memory/cgroup.procs | tr '\n' ' ')"
echo "check pid $$"
echo "== mountinfo"
cat /proc/self/mountinfo
`

// result is what the child printed.
type result struct {
	out    string
	checks map[string]string
	devs   map[string]string // path -> "type|maj:min|mode|uid:gid"
	mounts map[string]*mountinfo.Info
}

func run(t *testing.T, f *fixture, attr *syscall.SysProcAttr, script string) (*result, error) {
	t.Helper()
	plan, err := json.Marshal(f.plan)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// /proc/self/exe: a user-namespace root could not search the go
	// build cache directory holding os.Args[0].
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), childEnv+"=1", planEnv+"="+string(plan), scriptEnv+"="+script, consoleEnv+"=1")
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	r := &result{out: string(out), checks: map[string]string{}, devs: map[string]string{}}
	section := ""
	var mi strings.Builder
	for _, line := range strings.Split(r.out, "\n") {
		switch {
		case strings.HasPrefix(line, "== "):
			section = line
		case section == "== mountinfo":
			if line != "" {
				mi.WriteString(line + "\n")
			}
		case strings.HasPrefix(line, "dev "):
			path, rest, _ := strings.Cut(strings.TrimPrefix(line, "dev "), "|")
			_, rest, _ = strings.Cut(rest, "|") // drop the %F text
			r.devs[path] = rest
		case strings.HasPrefix(line, "check "), strings.HasPrefix(line, "link "):
			k, v, _ := strings.Cut(line, " ")
			name, val, _ := strings.Cut(v, " ")
			r.checks[k+" "+name] = val
		}
	}
	r.mounts = map[string]*mountinfo.Info{}
	infos, perr := mountinfo.GetMountsFromReader(strings.NewReader(mi.String()), nil)
	if perr != nil {
		t.Errorf("parse the child's mountinfo: %v", perr)
	}
	for _, i := range infos {
		r.mounts[i.Mountpoint] = i // last one wins: the visible mount
	}
	return r, err
}

func (r *result) wantCheck(t *testing.T, key, want string) {
	t.Helper()
	if got := r.checks[key]; got != want {
		t.Errorf("%s = %q, want %q", key, got, want)
	}
}

// wantMount checks the visible mount at mp: its type and that each of opts
// is among its per-mount options.
func (r *result) wantMount(t *testing.T, mp, fstype string, opts ...string) {
	t.Helper()
	m, ok := r.mounts[mp]
	if !ok {
		t.Errorf("no mount at %s", mp)
		return
	}
	if fstype != "" && m.FSType != fstype {
		t.Errorf("%s: type %s, want %s", mp, m.FSType, fstype)
	}
	have := "," + m.Options + ","
	for _, o := range opts {
		if !strings.Contains(have, ","+o+",") {
			t.Errorf("%s: options %s, want %s", mp, m.Options, o)
		}
	}
}

// assertCommon checks what every successful variant must show.
func assertCommon(t *testing.T, f *fixture, r *result) {
	t.Helper()
	r.wantCheck(t, "check root", "ro")
	r.wantCheck(t, "check data", "ro")
	r.wantCheck(t, "check run", "ro")
	r.wantCheck(t, "check tmp", "rw")
	r.wantCheck(t, "check shm", "rw")
	r.wantCheck(t, "check procsys", "ro")
	r.wantCheck(t, "check tmpmode", "1777")
	r.wantCheck(t, "check datafile", "hello from host")
	r.wantCheck(t, "check hostfile", "a host file")
	r.wantCheck(t, "check keys", "0")
	r.wantCheck(t, "check acpi", "0")
	r.wantCheck(t, "check pid", "1")
	r.wantCheck(t, "link fd", "/proc/self/fd")
	r.wantCheck(t, "link stdin", "/proc/self/fd/0")
	r.wantCheck(t, "link stderr", "/proc/self/fd/2")
	r.wantCheck(t, "link ptmx", "pts/ptmx")
	if _, err := os.Stat("/proc/kcore"); err == nil {
		r.wantCheck(t, "link core", "/proc/kcore")
	} else {
		r.wantCheck(t, "link core", "")
	}
	if r.checks["check memcg"] == "" {
		t.Errorf("/sys/fs/cgroup/memory/cgroup.procs unreadable or empty")
	}
	for _, c := range []string{"cpu", "memory", "systemd", "unified"} {
		if !strings.Contains(" "+r.checks["check cgroups"], " "+c+" ") {
			t.Errorf("/sys/fs/cgroup lacks %s: %q", c, r.checks["check cgroups"])
		}
	}
	if st := r.devs["/dev/console"]; !strings.HasPrefix(st, "88:") {
		t.Errorf("/dev/console is %q, want a pts node (major 136 = 0x88)", st)
	}

	r.wantMount(t, "/", "", "ro")
	r.wantMount(t, "/proc", "proc", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/proc/sys", "proc", "ro")
	r.wantMount(t, "/proc/bus", "proc", "ro")
	r.wantMount(t, "/proc/keys", "", "rw")
	r.wantMount(t, "/proc/acpi", "tmpfs", "ro")
	r.wantMount(t, "/sys/firmware", "tmpfs", "ro")
	r.wantMount(t, "/dev", "tmpfs", "nosuid")
	r.wantMount(t, "/dev/pts", "devpts", "nosuid", "noexec")
	r.wantMount(t, "/dev/shm", "tmpfs", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/dev/mqueue", "mqueue", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/dev/console", "devpts")
	r.wantMount(t, "/sys", "sysfs", "ro", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/sys/fs/cgroup", "tmpfs", "ro", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/sys/fs/cgroup/memory", "cgroup", "ro", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/sys/fs/cgroup/unified", "cgroup2", "ro", "nosuid", "nodev", "noexec")
	r.wantMount(t, "/data", "", "ro")
	r.wantMount(t, "/etc/hostfile", "", "rw")
	r.wantMount(t, "/run", "tmpfs", "ro", "nosuid", "nodev")
	r.wantMount(t, "/tmp", "tmpfs", "rw")
	r.wantMount(t, filepath.Join(f.outside, "x"), "tmpfs")
	for mp, m := range r.mounts {
		if strings.HasPrefix(mp, "/mnt/") || (m.FSType == "ext4" && mp != "/" && mp != "/data" && mp != "/etc/hostfile") {
			t.Errorf("host mount visible in the container: %s (%s)", mp, m.FSType)
		}
	}
	if _, err := os.Lstat(filepath.Join(f.outside, "x")); err == nil {
		t.Errorf("a mount destination escaped the rootfs through /linkdir into %s", f.outside)
	}
}

// log shows the child's output when the test failed or runs verbose.
func (r *result) log(t *testing.T) {
	t.Helper()
	if t.Failed() || testing.Verbose() {
		t.Logf("child output:\n%s", r.out)
	}
}

func TestRealPivot(t *testing.T) {
	requireRealEnv(t)
	f := newFixture(t)
	r, err := run(t, f, &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
	}, checkScript)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, r.out)
	}
	assertCommon(t, f, r)
	// Real root: mknod, exact modes, owners applied.
	wantDevs := map[string]string{
		"/dev/null": "1:3|666|0:0", "/dev/zero": "1:5|666|0:0", "/dev/full": "1:7|666|0:0",
		"/dev/random": "1:8|666|0:0", "/dev/urandom": "1:9|666|0:0", "/dev/tty": "5:0|666|0:0",
		"/dev/fuse": "a:e5|600|1000:1000",
	}
	for p, want := range wantDevs {
		if got := r.devs[p]; got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
		if _, ok := r.mounts[p]; ok {
			t.Errorf("%s is a bind mount, want a node made with mknod", p)
		}
	}
	// Without a cgroup namespace the container's own cgroup is bound.
	if m := r.mounts["/sys/fs/cgroup/memory"]; m != nil && m.Root == "/" {
		if own := ownCgroup(t, "memory"); own != "/" {
			t.Errorf("memory cgroup root %s, want the bound %s", m.Root, own)
		}
	}
	r.log(t)
}

func TestRealNoPivotCgroupNS(t *testing.T) {
	requireRealEnv(t)
	f := newFixture(t)
	f.plan.NoPivot = true
	f.plan.CgroupNS = true
	f.plan.Mounts = append(f.plan.Mounts, spec.Mount{Destination: "/cg2", Type: "cgroup2", Source: "cgroup2", Flags: nosuid | nodev | noexec | ro})
	r, err := run(t, f, &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP,
	}, checkScript)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, r.out)
	}
	assertCommon(t, f, r)
	// A fresh mount of each hierarchy, rooted at the cgroup namespace.
	for _, c := range []string{"memory", "cpu", "systemd", "unified"} {
		if m := r.mounts["/sys/fs/cgroup/"+c]; m == nil || m.Root != "/" {
			t.Errorf("/sys/fs/cgroup/%s: %+v, want a mount rooted at /", c, m)
		}
	}
	r.wantMount(t, "/cg2", "cgroup2", "ro", "nosuid")
	r.log(t)
}

func ownCgroup(t *testing.T, ctrl string) string {
	t.Helper()
	c, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	own, err := parseProcCgroup(c)
	if err != nil {
		t.Fatal(err)
	}
	return own[ctrl]
}

// TestRealUserNS runs as root of a user namespace mapped to 100000-165535:
// mknod fails there, so device nodes must be bind mounts of the host's;
// sysfs needs an owned network namespace, so /sys is bound from the host;
// and a bind of a source with locked nosuid,nodev,noexec must keep them.
func TestRealUserNS(t *testing.T) {
	requireRealEnv(t)
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skip("user namespaces are disabled (user.max_user_namespaces)")
	}
	// With no pivot, the host's proc and sysfs mounts are locked in the
	// user namespace and get covered instead of detached.
	t.Run("pivot", func(t *testing.T) { testUserNS(t, false) })
	t.Run("nopivot", func(t *testing.T) { testUserNS(t, true) })
}

func testUserNS(t *testing.T, noPivot bool) {
	f := newFixture(t)
	f.plan.NoPivot = noPivot
	locked := openTempDir(t)
	if err := unix.Mount("tmpfs", locked, "tmpfs", nosuid|nodev|noexec, "mode=755,size=1m"); err != nil {
		t.Skipf("cannot mount the locked-flags source: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(locked, unix.MNT_DETACH) })
	writeFile(t, filepath.Join(locked, "l"), "locked\n")
	f.plan.Mounts = append(f.plan.Mounts, spec.Mount{Destination: "/locked", Type: "bind", Source: locked, Flags: bind | ro})
	f.plan.UserNS = true
	chownTree(t, f.rootfs, 100000)
	script := checkScript + `echo "== more"
echo "check locked $(cat /locked/l)"
`
	r, err := run(t, f, &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		// Become uid 0 of the namespace before exec: host root is not
		// mapped there, and an unmapped uid keeps no capability.
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
	}, script)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, r.out)
	}
	assertCommon(t, f, r)
	r.wantCheck(t, "check locked", "locked")
	r.wantMount(t, "/locked", "tmpfs", "ro", "nosuid", "nodev", "noexec")
	// Host nodes, bound: the host's mode, owned by unmapped root (65534).
	for _, p := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse"} {
		if m := r.mounts[p]; m == nil || m.FSType != "devtmpfs" {
			t.Errorf("%s: %+v, want a bind mount of the host's devtmpfs node", p, m)
		}
	}
	if got := r.devs["/dev/null"]; got != "1:3|666|65534:65534" {
		t.Errorf("/dev/null: %q", got)
	}
	if got := r.devs["/dev/fuse"]; !strings.HasPrefix(got, "a:e5|") {
		t.Errorf("/dev/fuse: %q", got)
	}
	r.log(t)
}

func chownTree(t *testing.T, dir string, id int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, id, id)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealProcSymlinkRefused is CVE-2019-16884: an image whose /proc is a
// symlink must not get procfs mounted wherever it points.
func TestRealProcSymlinkRefused(t *testing.T) {
	requireRealEnv(t)
	f := newFixture(t)
	if err := os.Mkdir(filepath.Join(f.rootfs, "target"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(f.rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	r, err := run(t, f, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID}, "true")
	if err == nil {
		t.Fatalf("Prepare accepted a symlinked /proc:\n%s", r.out)
	}
	want := "PREPARE-ERROR: mounts[0] /proc: " + ErrNotPlainDir.Error()
	if !strings.Contains(r.out, want) {
		t.Errorf("output %q, want %q", r.out, want)
	}
	r.log(t)
}

// TestRealProcDestinationRefused: a bind over /proc/self/attr reached
// through a symlink in the image is refused.
func TestRealProcDestinationRefused(t *testing.T) {
	requireRealEnv(t)
	f := newFixture(t)
	if err := os.Symlink("/proc/self", filepath.Join(f.rootfs, "etc/self")); err != nil {
		t.Fatal(err)
	}
	f.plan.Mounts = append(f.plan.Mounts, spec.Mount{Destination: "/etc/self/attr/current", Type: "bind", Source: "/dev/null", Flags: bind})
	r, err := run(t, f, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID}, "true")
	if err == nil {
		t.Fatalf("Prepare accepted a mount into /proc:\n%s", r.out)
	}
	want := fmt.Sprintf("PREPARE-ERROR: mounts[%d] /etc/self/attr/current: %s", len(f.plan.Mounts)-1, ErrProcDestination.Error())
	if !strings.Contains(r.out, want) {
		t.Errorf("output %q, want %q", r.out, want)
	}
	r.log(t)
}
