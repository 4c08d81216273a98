package container

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/state"
)

// TestStartInitExitsAtOnce: once start opens exec.fifo, a container running
// `true` can finish and be reaped (by conmon, a subreaper) before start has
// looked at it again. start must still succeed: it holds a pidfd from before.
func TestStartInitExitsAtOnce(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	store := state.Store{Root: t.TempDir()}
	dir, err := store.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(dir.FifoPath(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Stands in for the init stage: block opening the fifo for writing,
	// write the start byte, exit.
	init := exec.Command("sh", "-c", `printf 0 > "$1"`, "sh", dir.FifoPath())
	if err := init.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { _ = init.Wait(); close(reaped) }()
	pid := init.Process.Pid
	start, err := state.StartTime("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.Save(&state.State{ID: "c1", Pid: pid, PidStart: start, OwnPidNS: true}); err != nil {
		t.Fatal(err)
	}
	testHookFifoOpened = func() { <-reaped } // the init is gone and reaped
	t.Cleanup(func() { testHookFifoOpened = nil })
	g := Global{Root: store.Root}
	if err := Start(g, "c1"); err != nil {
		t.Fatalf("start of a container that finished at once: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir.Path(), "exec.fifo")); !os.IsNotExist(err) {
		t.Errorf("exec.fifo still there after start: %v", err)
	}
}
