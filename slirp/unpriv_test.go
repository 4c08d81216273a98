package slirp

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gophertainer/gtu/internal/testhost"
)

// reexecEnv marks a run of this test binary started by TestUnprivileged.
const reexecEnv = "GTU_SLIRP_TEST_REEXEC"

// unprivUID is the test user scripts/setup-test-host.sh creates.
const unprivUID, unprivGID = "1001", "1001"

// TestUnprivileged runs the driver tests again as the unprivileged user
// gtutest, in the two ways gtu runs rootless: as the ordinary user itself,
// and as uid 0 in a user namespace of that user (gtu's session namespace),
// where the target may share the caller's user namespace or have its own.
func TestUnprivileged(t *testing.T) {
	if os.Getenv(reexecEnv) != "" {
		t.Skip("already re-executed")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to re-execute itself as gtutest (the driver tests themselves already ran unprivileged)")
	}
	for _, tool := range []string{"setpriv", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	if out, err := exec.Command("id", "-u", "gtutest").Output(); err != nil || strings.TrimSpace(string(out)) != unprivUID {
		t.Skipf("no user gtutest with uid %s (scripts/setup-test-host.sh creates it): %v", unprivUID, err)
	}
	// The go test build directory, like t.TempDir's parent, is private to
	// root: run a copy from a directory gtutest can enter. (Root in the
	// session namespace gets no DAC override on root's files: they are
	// unmapped there.)
	dir := testhost.PublicDir(t, "gtu-slirp-test-")
	bin := testhost.SelfCopy(t, dir, "slirp.test")
	// TestNoInheritedFds is left out: what it checks is done by this
	// process whoever runs it, and pasta makes itself non-dumpable, so its
	// /proc/PID/fd is root's alone.
	run := "^(TestDrivers|TestHostLoopbackOptIn|TestStartErrors)$"
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"user", []string{bin}},
		{"session-userns", []string{"unshare", "--user", "--map-root-user", bin}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			args := append([]string{"--reuid=" + unprivUID, "--regid=" + unprivGID, "--init-groups"}, mode.args...)
			args = append(args, "-test.run", run, "-test.v", "-test.count=1")
			cmd := exec.Command("setpriv", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), reexecEnv+"=1", "XDG_RUNTIME_DIR=/run/user/"+unprivUID, "HOME=/tmp", "TMPDIR=/tmp")
			out, err := cmd.CombinedOutput()
			t.Logf("as gtutest (%s):\n%s", mode.name, out)
			if err != nil {
				t.Fatalf("driver tests as gtutest (%s): %v", mode.name, err)
			}
			if strings.Contains(string(out), "--- SKIP") {
				t.Errorf("driver tests as gtutest (%s) skipped some tests, see the log", mode.name)
			}
		})
	}
}
