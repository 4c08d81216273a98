package rootless

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runOK runs the container in the foreground and returns its stdout lines,
// failing the test unless it exits 0.
func runOK(t *testing.T, c *container, flags ...string) []string {
	t.Helper()
	r := c.run(flags...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	c.assertGone()
	return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("container printed %q, want %q", got, want)
	}
}

func TestHostname(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	c := newEnv(t).newContainer(t, "hostname")
	c.spec.Hostname = "gtu-hostname-test"
	wantLines(t, runOK(t, c), "gtu-hostname-test")
}

func TestReadonlyRoot(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	t.Run("readonly", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "sh", "-c", "touch /dev/shm/ok && echo tmpfs-writable; touch /probe")
		c.spec.Root.Readonly = true
		r := c.run()
		if r.code == 0 || !strings.Contains(r.stdout, "tmpfs-writable") {
			t.Errorf("want /dev/shm writable and touch / failing, got %v", r)
		}
		mustContain(t, "touch's error", r.stderr, "read-only file system")
		if _, err := os.Stat(filepath.Join(c.bundle, "rootfs", "probe")); err == nil {
			t.Errorf("a file was created in the read-only rootfs")
		}
		c.assertGone()
	})
	t.Run("writable", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "touch", "/probe")
		c.spec.Root.Readonly = false
		runOK(t, c)
		if _, err := os.Stat(filepath.Join(c.bundle, "rootfs", "probe")); err != nil {
			t.Errorf("the file touched in a writable rootfs is not in the bundle: %v", err)
		}
	})
}

func TestMaskedPaths(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// /proc/kcore does not exist on every kernel (not on the CI one), so
	// /proc/timer_list is the file that proves masking works.
	const script = `for f in /proc/kcore /proc/timer_list; do echo "$f $(cat $f 2>/dev/null | wc -c)"; done; echo "/sys/firmware $(ls -A /sys/firmware | wc -l)"`
	if data, _ := os.ReadFile("/proc/timer_list"); len(data) == 0 {
		t.Skip("/proc/timer_list is empty or missing on this host: masking it would prove nothing")
	}
	if entries, _ := os.ReadDir("/sys/firmware"); len(entries) == 0 {
		t.Skip("/sys/firmware is empty or missing on this host: masking it would prove nothing")
	}
	t.Run("masked", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "sh", "-c", script)
		c.spec.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/timer_list", "/sys/firmware"}
		wantLines(t, runOK(t, c), "/proc/kcore 0", "/proc/timer_list 0", "/sys/firmware 0")
	})
	// The control: without masking, the same script sees content, so the
	// zeros above come from the masks.
	t.Run("unmasked", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "sh", "-c", script)
		c.spec.Linux.MaskedPaths = nil
		out := runOK(t, c)
		if len(out) != 3 || strings.HasSuffix(out[1], " 0") || strings.HasSuffix(out[2], " 0") {
			t.Errorf("unmasked /proc/timer_list and /sys/firmware should have content, got %q", out)
		}
	})
}

func TestUserGroupsUmask(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	const script = `id -u; id -g; grep '^Groups:' /proc/self/status; umask; echo "HOME=$HOME"`
	t.Run("tester", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "sh", "-c", script)
		umask := uint32(0o027)
		c.spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{65534, 10}, Umask: &umask}
		out := runOK(t, c)
		// The kernel sorts supplementary groups; the primary gid is not
		// added to them (runc does not, and /etc/group lists no member).
		// HOME comes from /etc/passwd when the config does not set it.
		if len(out) == 5 {
			out[2] = strings.Join(strings.Fields(out[2]), " ")
		}
		wantLines(t, out, "1000", "1000", "Groups: 10 65534", "0027", "HOME=/home/tester")
	})
	t.Run("default umask", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "sh", "-c", "umask")
		c.spec.Process.User = specs.User{UID: 0, GID: 0}
		wantLines(t, runOK(t, c), "0022")
	})
}

func TestEnvAndCwd(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	c := newEnv(t).newContainer(t, "sh", "-c", `pwd; echo "$GTU_A"; env | grep -c '^GTU_EMPTY=$'`)
	c.spec.Process.Env = append(c.spec.Process.Env, "GTU_A=hello world", "GTU_EMPTY=")
	c.spec.Process.Cwd = "/tmp"
	wantLines(t, runOK(t, c), "/tmp", "hello world", "1")
}

// The init stage's own environment (its descriptors, GOMAXPROCS for its Go
// runtime) never reaches the container's process, for run and for exec.
func TestInitEnvNotInherited(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	probe := `echo "[$GOMAXPROCS][$_GTU_SYNC_FD][$_GTU_PRESERVE_FDS]"`
	c := newEnv(t).newContainer(t, "sh", "-c", probe)
	wantLines(t, runOK(t, c), "[][][]")

	e := newEnv(t)
	running := startMarked(t, e)
	r := e.mustRuntime("exec", running.id, "sh", "-c", probe)
	wantLines(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), "[][][]")
}

func TestRlimitNofile(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	c := newEnv(t).newContainer(t, "sh", "-c", "ulimit -n; ulimit -Hn")
	c.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1234, Hard: 2345}}
	wantLines(t, runOK(t, c), "1234", "2345")
}

func TestMemoryLimit(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory")); err != nil {
		t.Skip("needs the cgroup v1 memory controller (a hybrid host): cgroup v2 limits are unit-tested against fake trees")
	}
	t.Parallel()
	const limit = 64 << 20
	c := newEnv(t).newContainer(t, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
	l := int64(limit)
	if c.spec.Linux.Resources == nil {
		c.spec.Linux.Resources = &specs.LinuxResources{}
	}
	c.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &l}
	c.mustCreate()
	host, err := os.ReadFile(filepath.Join(cgroupRoot, "memory", cgroupParent, c.id, "memory.limit_in_bytes"))
	if err != nil || strings.TrimSpace(string(host)) != strconv.Itoa(limit) {
		t.Errorf("host memory cgroup: want limit %d, got %q (%v)", limit, host, err)
	}
	c.mustStart()
	c.waitStatus("stopped")
	if got := strings.TrimSpace(c.output()); got != strconv.Itoa(limit) {
		t.Errorf("inside the container: want limit %d, got %q (stderr %q)", limit, got, c.errOutput())
	}
	c.e.mustRuntime("delete", c.id)
	c.assertGone()
}

func TestNoNewPrivileges(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	for _, nnp := range []bool{true, false} {
		t.Run(strconv.FormatBool(nnp), func(t *testing.T) {
			t.Parallel()
			c := newEnv(t).newContainer(t, "grep", "NoNewPrivs", "/proc/self/status")
			c.spec.Process.NoNewPrivileges = nnp
			want := "0"
			if nnp {
				want = "1"
			}
			out := runOK(t, c)
			if len(out) != 1 || strings.Join(strings.Fields(out[0]), " ") != "NoNewPrivs: "+want {
				t.Errorf("want NoNewPrivs %s, got %q", want, out)
			}
		})
	}
}

// capMask builds the hex mask /proc/PID/status shows for a set of
// capability numbers.
func capMask(caps ...uint) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

func TestCapabilities(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	const chown, kill, netRaw = 0, 5, 13
	cases := []struct {
		name string
		uid  uint32
		caps specs.LinuxCapabilities
		want map[string]string
	}{
		{
			// With no_new_privs (the spec default) execve cannot raise
			// root's permitted set to the bounding set.
			name: "root",
			uid:  0,
			caps: specs.LinuxCapabilities{
				Bounding:  []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
				Effective: []string{"CAP_CHOWN", "CAP_KILL"},
				Permitted: []string{"CAP_CHOWN", "CAP_KILL"},
			},
			want: map[string]string{
				"CapBnd": capMask(chown, kill, netRaw), "CapPrm": capMask(chown, kill),
				"CapEff": capMask(chown, kill), "CapInh": capMask(), "CapAmb": capMask(),
			},
		},
		{
			// A non-root process keeps across execve only its ambient set.
			name: "ambient for uid 1000",
			uid:  1000,
			caps: specs.LinuxCapabilities{
				Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
				Effective:   []string{"CAP_CHOWN", "CAP_KILL"},
				Permitted:   []string{"CAP_CHOWN", "CAP_KILL"},
				Inheritable: []string{"CAP_KILL"},
				Ambient:     []string{"CAP_KILL"},
			},
			want: map[string]string{
				"CapBnd": capMask(chown, kill, netRaw), "CapPrm": capMask(kill),
				"CapEff": capMask(kill), "CapInh": capMask(kill), "CapAmb": capMask(kill),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newEnv(t).newContainer(t, "grep", "^Cap", "/proc/self/status")
			c.spec.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			caps := tc.caps
			c.spec.Process.Capabilities = &caps
			got := map[string]string{}
			for _, line := range runOK(t, c) {
				if k, v, ok := strings.Cut(line, ":"); ok {
					got[k] = strings.TrimSpace(v)
				}
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: want %s, got %s", k, want, got[k])
				}
			}
		})
	}
}

// Host ids for the user namespace test: far from the 100000+ ranges that
// useradd delegates in /etc/subuid, so a test container's root never
// coincides with a real user's subordinate ids.
const (
	userNSHostUID = 700000000
	userNSHostGID = 700100000
)

func TestUserNamespace(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	c := newEnv(t).newContainer(t, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; echo ready; sleep 1000 & wait")
	c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	c.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostUID, Size: 65536}}
	c.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostGID, Size: 65536}}
	c.mustCreate()
	c.mustStart()
	c.waitOutput("ready", 1)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(c.output()), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	wantLines(t, got, fmt.Sprintf("0 %d 65536", userNSHostUID), fmt.Sprintf("0 %d 65536", userNSHostGID), "0", "ready")
	// Seen from the host, the container's root is the mapped uid.
	st, _, _ := c.state()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
			ids[f[0]] = f[1]
		}
	}
	if ids["Uid:"] != strconv.Itoa(userNSHostUID) || ids["Gid:"] != strconv.Itoa(userNSHostGID) {
		t.Errorf("host view of container pid %d: uid %s gid %s, want %d %d", st.Pid, ids["Uid:"], ids["Gid:"], userNSHostUID, userNSHostGID)
	}
	c.e.mustRuntime("kill", c.id, "KILL")
	c.waitStatus("stopped")
	c.e.mustRuntime("delete", c.id)
	c.assertGone()
}

func TestTimeNamespace(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc 1.1.5 rejects the time namespace")
	t.Parallel()
	const offset = 1000000 // seconds, far beyond any real uptime
	c := newEnv(t).newContainer(t, "cat", "/proc/uptime")
	c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	c.spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"boottime":  {Secs: offset},
		"monotonic": {Secs: offset},
	}
	out := runOK(t, c)
	hostData, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	var inside, host float64
	if len(out) != 1 {
		t.Fatalf("want one line from /proc/uptime, got %q", out)
	}
	fmt.Sscanf(out[0], "%f", &inside)
	fmt.Sscanf(string(hostData), "%f", &host)
	if d := inside - host; d < offset-60 || d > offset+60 {
		t.Errorf("container uptime %.0f s, host %.0f s: want the boottime offset %d s between them", inside, host, offset)
	}
}

func TestRunStdio(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	c := newEnv(t).newContainer(t, "sh", "-c", `read line; echo "out:$line"; echo "err:$line" >&2; exit 5`)
	r := c.runWith(strings.NewReader("hello\n"), nil)
	if r.code != 5 || r.stdout != "out:hello\n" || !strings.Contains(r.stderr, "err:hello\n") {
		t.Errorf("want stdin passed in, out:hello on stdout, err:hello on stderr, status 5; got %v", r)
	}
	c.assertGone()
}

func TestNoLeakedFds(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	// The runtime itself gets an extra fd 3 in both cases: only
	// --preserve-fds may pass it on.
	extra := func(t *testing.T) []*os.File {
		p := filepath.Join(t.TempDir(), "fd3")
		if err := os.WriteFile(p, []byte("from-fd-3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return []*os.File{f}
	}
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		// Not the last command, so the shell forks ls instead of exec'ing
		// it, and ls lists the shell's fds rather than its own.
		c := newEnv(t).newContainer(t, "sh", "-c", "ls /proc/$$/fd; true")
		r := c.runWith(nil, extra(t))
		if r.code != 0 || !slices.Equal(strings.Fields(r.stdout), []string{"0", "1", "2"}) {
			t.Errorf("want only fds 0 1 2 in the container, got %v", r)
		}
		c.assertGone()
	})
	t.Run("preserve-fds", func(t *testing.T) {
		t.Parallel()
		c := newEnv(t).newContainer(t, "sh", "-c", "ls /proc/$$/fd; cat <&3")
		r := c.runWith(nil, extra(t), "--preserve-fds", "1")
		if r.code != 0 || !slices.Equal(strings.Fields(r.stdout), []string{"0", "1", "2", "3", "from-fd-3"}) {
			t.Errorf("want fds 0 1 2 3 and fd 3 readable, got %v", r)
		}
		c.assertGone()
	})
}
