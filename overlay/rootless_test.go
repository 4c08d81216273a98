package overlay_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gophertainer/gtu/overlay"

	"github.com/gophertainer/gtu/internal/testhost"
)

// TestRootless runs this package's storage tests again as uid 0 of a user
// namespace that maps the unprivileged user gtutest and its subordinate
// ids, made by the real rootlesskit (newuidmap), as gtu's per-user
// namespace is: the overlay must then be mounted with userxattr (or by
// fuse-overlayfs), and device nodes must be refused.
func TestRootless(t *testing.T) {
	if os.Getenv("GTU_STORAGE_HELPER") != "" {
		t.Skip("already inside the rootless run")
	}
	needRoot(t)
	if rootless(t) {
		t.Skip("already in a user namespace")
	}
	for _, prog := range []string{"rootlesskit", "newuidmap", "runuser"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed (scripts/setup-test-host.sh installs it)", prog)
		}
	}
	u, err := user.Lookup("gtutest")
	if err != nil {
		t.Skip("no user gtutest (scripts/setup-test-host.sh creates it)")
	}
	runtimeDir := "/run/user/" + u.Uid
	if _, err := os.Stat(runtimeDir); err != nil {
		t.Skipf("%s: %v (scripts/setup-test-host.sh creates it)", runtimeDir, err)
	}
	// The test binary and gtu-storage, where gtutest can run them.
	dir := testhost.PublicDir(t, "gtu-storage-rootless-")
	bin := testhost.SelfCopy(t, dir, "overlay.test")
	h := filepath.Join(dir, "gtu-storage")
	testhost.CopyFile(t, helper, h, 0o755)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tmp, 0o1777)

	inner := []string{"TestImportFormats", "TestImageArchives", "TestContainerLayers", "TestHostileArchives",
		"TestInfo", "TestReimportChangedFile", "TestProgressOnTerminal", "TestConcurrent", "TestOCILayoutDir", "TestNames"}
	cmd := exec.Command("runuser", "-u", "gtutest", "--", "env",
		"XDG_RUNTIME_DIR="+runtimeDir, "HOME="+u.HomeDir, "TMPDIR="+tmp, "GTU_STORAGE_HELPER="+h,
		"rootlesskit", "--net=host", "--state-dir="+filepath.Join(tmp, "rootlesskit"),
		bin, "-test.v", "-test.count=1", "-test.run", "^("+strings.Join(inner, "|")+")$")
	out, err := cmd.CombinedOutput()
	t.Logf("rootless run:\n%s", out)
	if err != nil {
		t.Fatalf("rootless run: %v", err)
	}
	for _, name := range inner {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("rootless: %s did not pass", name)
		}
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Error("rootless: a test skipped (see the log)")
	}
	if !strings.Contains(string(out), "device-node-rootless") {
		t.Error("rootless: the device-node case did not run")
	}
}

// TestInfo checks where the store goes by default and the identity
// gtu-storage reports (the rootless run checks the rootless places).
func TestInfo(t *testing.T) {
	needRoot(t)
	home := t.TempDir()
	run := func(env ...string) overlay.Info {
		t.Helper()
		cmd := exec.Command(helper, "--driver", "vfs", "info")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("info with %v: %v: %s", env, err, stderr.String())
		}
		var i overlay.Info
		if err := json.Unmarshal(out, &i); err != nil {
			t.Fatal(err)
		}
		return i
	}
	i := run("GOPHERTAINER_ROOT=" + home)
	if i.Root != filepath.Join(home, "storage") || i.RunRoot != filepath.Join(home, "run", "storage") || i.Driver != "vfs" {
		t.Errorf("GOPHERTAINER_ROOT: %+v", i)
	}
	if i.Rootless != rootless(t) {
		t.Errorf("rootless %v, want %v", i.Rootless, rootless(t))
	}
	if rootless(t) {
		i = run("XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_RUNTIME_DIR="+filepath.Join(home, "xdgrun"))
		if i.Root != filepath.Join(home, "data", "gtu", "storage") || i.RunRoot != filepath.Join(home, "xdgrun", "gtu", "storage") || i.HostUID == 0 {
			t.Errorf("rootless defaults: %+v", i)
		}
	}
}
