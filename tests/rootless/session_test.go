package rootless

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

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
