package cgroupdelegate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/internal/osthread"
)

// TestEnterThreadClone checks the fast placement: a locked thread enters
// the cgroup and the process it clones starts inside every hierarchy.
func TestEnterThreadClone(t *testing.T) {
	requireHybridRoot(t)
	path := testCgroupPath(t)
	cg, err := New(Config{ID: "c1", Path: path, Resources: &specs.LinuxResources{
		Pids: &specs.LinuxPids{Limit: ptr[int64](16)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !cg.CanEnterThread() {
		t.Fatal("fs driver must allow EnterThread")
	}
	if err := cg.Create(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "1000")
	err = startInCgroup(cg, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for ctrl, dir := range cg.Paths() {
		if !slices.Contains(readProcs(t, dir), cmd.Process.Pid) {
			t.Errorf("pid %d not in %s/cgroup.procs (%q)", cmd.Process.Pid, dir, ctrl)
		}
	}
	// No thread of ours stayed behind: the tasks file lists threads.
	for ctrl, dir := range cg.Paths() {
		if ctrl == "" {
			continue // cgroup2: entered through CLONE_INTO_CGROUP only
		}
		// The disposable thread exits asynchronously after Start returns.
		deadline := time.Now().Add(5 * time.Second)
		tids := readTasks(t, dir)
		for (len(tids) != 1 || tids[0] != cmd.Process.Pid) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			tids = readTasks(t, dir)
		}
		if len(tids) != 1 || tids[0] != cmd.Process.Pid {
			t.Errorf("%s/tasks = %v, want only the child %d", dir, tids, cmd.Process.Pid)
		}
	}
}

func TestCreateSystemdRefused(t *testing.T) {
	c := &Cgroup{cfg: mustConfig(t)}
	c.cfg.Systemd = true
	if err := c.Create(); !errors.Is(err, ErrSystemdPlacement) {
		t.Fatalf("Create with systemd: %v, want ErrSystemdPlacement", err)
	}
	if c.CanEnterThread() {
		t.Fatal("systemd cgroups must not use EnterThread")
	}
}

func mustConfig(t *testing.T) *cgroups.Cgroup {
	t.Helper()
	cg, err := New(Config{ID: "x", Path: "/gtu-test/never-created"})
	if err != nil {
		t.Fatal(err)
	}
	return cg.cfg
}

func readTasks(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		tids = append(tids, n)
	}
	return tids
}

// startInCgroup starts cmd inside cg the way gtu starts a container's init:
// from a disposable thread that entered the cgroup (v1 tasks), with
// CLONE_INTO_CGROUP for cgroup2.
func startInCgroup(cg *Cgroup, cmd *exec.Cmd) error {
	return osthread.Disposable(func() error {
		unified, err := cg.EnterThread()
		if err != nil {
			return err
		}
		if unified != nil {
			defer unified.Close()
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(unified.Fd())}
		}
		return cmd.Start()
	})
}
