package rootless

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/moby/sys/user"
)

// testUser is the unprivileged user the suite runs rootless tests as;
// scripts/setup-test-host.sh creates it with subordinate id ranges and
// /run/user/UID, as CI does on a fresh machine.
type testUser struct {
	name     string
	uid, gid int
	home     string
	// inUserNS runs the runtime as uid 0 of a fresh user namespace of the
	// user's (`unshare --user --map-root-user`), as podman's rootless
	// mode runs it.
	inUserNS bool
}

const testUserName = "gtutest"

// noSubidUserName has no subordinate ids (the single-mapping fallback).
const noSubidUserName = "gtunosub"

// lookupTestUser returns the named test user, or skips saying how to
// create it.
func lookupTestUser(t *testing.T, name string) *testUser {
	t.Helper()
	u, err := user.LookupUser(name)
	if err != nil {
		t.Skipf("no user %s (%v): run `sudo bash scripts/setup-test-host.sh`", name, err)
	}
	if _, err := os.Stat(runtimeDirOf(u.Uid)); err != nil {
		t.Skipf("%v: run `sudo bash scripts/setup-test-host.sh`", err)
	}
	return &testUser{name: u.Name, uid: u.Uid, gid: u.Gid, home: u.Home}
}

func runtimeDirOf(uid int) string { return "/run/user/" + strconv.Itoa(uid) }

// newUserEnv is newEnv for the test user: the runtime runs as that user,
// with a state directory the user owns.
func newUserEnv(t *testing.T) *env {
	t.Helper()
	return newUserEnvAs(t, testUserName)
}

// newUserEnvAs is newUserEnv for another test user.
func newUserEnvAs(t *testing.T, name string) *env {
	t.Helper()
	requireRoot(t)
	if runtimeIsRunc {
		t.Skip("rootless tests exercise gtu's session; runc has none")
	}
	u := lookupTestUser(t, name)
	root := shortTempDir(t, "gtuu")
	if err := os.Chown(root, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, root: root, user: u}
}

// apply makes cmd run as the user, with the environment a login gives.
func (u *testUser) apply(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	cmd.Env = append(withoutEnv(withoutEnv(withoutEnv(withoutEnv(cmd.Env, "HOME"), "USER"), "LOGNAME"), "XDG_RUNTIME_DIR"),
		"HOME="+u.home, "USER="+u.name, "LOGNAME="+u.name, "XDG_RUNTIME_DIR="+runtimeDirOf(u.uid))
	cmd.Dir = "/"
	if u.inUserNS {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			unshare = "/usr/bin/unshare"
		}
		cmd.Args = append([]string{"unshare", "--user", "--map-root-user", "--"}, append([]string{cmd.Path}, cmd.Args[1:]...)...)
		cmd.Path = unshare
	}
}

// own gives dir and everything below it to the user.
func (u *testUser) own(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stopUserSession ends the test user's rootless session, which the
// rootless tests started, so the suite leaves no process behind.
func stopUserSession() {
	for _, name := range []string{testUserName, noSubidUserName} {
		u, err := user.LookupUser(name)
		if err != nil || runtimeIsRunc {
			continue
		}
		cmd := exec.Command(runtimeBin, "session", "stop", "--force")
		(&testUser{name: u.Name, uid: u.Uid, gid: u.Gid, home: u.Home}).apply(cmd)
		_ = cmd.Run() // no session: nothing to stop
	}
}
