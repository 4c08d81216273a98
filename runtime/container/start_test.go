package container

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStartInitExitsAtOnce: once start opens exec.fifo, a container running
// `true` can finish and be reaped (by conmon, a subreaper) before start has
// looked at it again. start must still succeed: it holds a pidfd from before.
func TestStartInitExitsAtOnce(t *testing.T) {
	// Stands in for the init stage: block opening the fifo for writing,
	// write the start byte, exit.
	g, reap := fakeContainer(t, `printf 0 > "$1"`, nil)
	reaped := make(chan struct{})
	go func() { reap(); close(reaped) }()
	testHookFifoOpened = func() { <-reaped } // the init is gone and reaped
	t.Cleanup(func() { testHookFifoOpened = nil })
	if err := Start(g, "c1"); err != nil {
		t.Fatalf("start of a container that finished at once: %v", err)
	}
	if _, err := os.Stat(filepath.Join(g.Root, "c1", "exec.fifo")); !os.IsNotExist(err) {
		t.Errorf("exec.fifo still there after start: %v", err)
	}
}

func TestSubCgroupPaths(t *testing.T) {
	root := t.TempDir()
	mem := filepath.Join(root, "memory", "c1")
	cpu := filepath.Join(root, "cpu", "c1")
	uni := filepath.Join(root, "unified", "c1")
	for _, d := range []string{mem + "/a", cpu + "/b", uni + "/a"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	paths := map[string]string{"memory": mem, "cpu": cpu, "": uni}
	got, err := subCgroupPaths(paths, []string{"a", "cpu:b"})
	if err != nil {
		t.Fatal(err)
	}
	if got["memory"] != mem+"/a" || got["cpu"] != cpu+"/b" || got[""] != uni+"/a" {
		t.Fatalf("subCgroupPaths = %v", got)
	}
	if got, _ := subCgroupPaths(paths, nil); got["memory"] != mem {
		t.Fatalf("without --cgroup: %v", got)
	}
	// Only memory named: the others stay where they are.
	if got, err := subCgroupPaths(paths, []string{"memory:a"}); err != nil || got["cpu"] != cpu || got["memory"] != mem+"/a" {
		t.Fatalf("memory only: %v %v", got, err)
	}
	for _, bad := range [][]string{{"missing"}, {"cpu:a"}, {""}, {"memory:/"}} {
		if _, err := subCgroupPaths(paths, bad); err == nil {
			t.Errorf("--cgroup %q accepted", bad)
		}
	}
	// ".." cannot leave the container's cgroup.
	if got, err := subCgroupPaths(paths, []string{"../../memory/c1/a"}); err == nil && got["memory"] != mem+"/a" {
		t.Errorf("--cgroup with ..: %v", got)
	}
}
