package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSharesCgroup(t *testing.T) {
	for p, want := range map[string]bool{
		"linux_cgroups_pids": true, "linux_cgroups_relative_cpus": true,
		"delete_resources": true, "delete_only_create_resources": true,
		"delete": false, "default": false, "linux_ns_path": false,
	} {
		if sharesCgroup(p) != want {
			t.Errorf("sharesCgroup(%q) = %v", p, !want)
		}
	}
}

func TestSeconds(t *testing.T) {
	if s := seconds(90 * time.Second); s != "90s" {
		t.Errorf("seconds(90s) = %q", s)
	}
	if s := seconds(1500 * time.Millisecond); s != "1.5s" {
		t.Errorf("seconds(1.5s) = %q", s)
	}
}

func TestReadTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := readTail(p, 4); err != nil || s != "6789" {
		t.Errorf("readTail(4) = %q, %v", s, err)
	}
	if s, err := readTail(p, 100); err != nil || s != "0123456789" {
		t.Errorf("readTail(100) = %q, %v", s, err)
	}
	if _, err := readTail(p+".missing", 4); err == nil {
		t.Error("readTail of a missing file: no error")
	}
}

func TestSweepDirs(t *testing.T) {
	cg := "9:name=systemd:/\n5:cpu,cpuacct:/\n4:memory:/process_api/abc\n0::/\n"
	lines := parseSelfCgroup(strings.NewReader(cg))
	exists := map[string]bool{
		"/cg/systemd": true, "/cg/cpu,cpuacct": true, "/cg/memory": true, "/cg/unified": true,
	}
	hier := map[string]string{}
	for _, l := range lines {
		if d := hierarchyDir("/cg", l, func(p string) bool { return exists[p] }); d != "" {
			hier[d] = l.path
		}
	}
	wantHier := map[string]string{
		"/cg/systemd": "/", "/cg/cpu,cpuacct": "/", "/cg/memory": "/process_api/abc", "/cg/unified": "/",
	}
	if !reflect.DeepEqual(hier, wantHier) {
		t.Fatalf("hierarchies: got %v, want %v", hier, wantHier)
	}
	dirs := sweepDirs(map[string]string{"/cg/memory": "/process_api/abc", "/cg/pids": "/"})
	want := []string{
		"/cg/memory/process_api/abc/testdir/cgrouptest/container",
		"/cg/memory/process_api/abc/testdir/cgrouptest",
		"/cg/memory/process_api/abc/cgrouptest",
		"/cg/memory/process_api/abc/testdir",
		"/cg/memory/testdir/cgrouptest/container",
		"/cg/pids/testdir/cgrouptest/container",
		"/cg/memory/testdir/cgrouptest",
		"/cg/pids/testdir/cgrouptest",
		"/cg/memory/cgrouptest",
		"/cg/memory/testdir",
		"/cg/pids/cgrouptest",
		"/cg/pids/testdir",
	}
	if !reflect.DeepEqual(dirs, want) {
		t.Errorf("sweepDirs:\n got %q\nwant %q", dirs, want)
	}
	// Only the pure-v2 layout falls back to the root itself.
	if d := hierarchyDir("/cg", selfCgroup{}, func(p string) bool { return p == "/cg" }); d != "/cg" {
		t.Errorf("pure v2: %q", d)
	}
	if d := hierarchyDir("/cg", selfCgroup{controllers: "rdma"}, func(string) bool { return false }); d != "" {
		t.Errorf("unmounted: %q", d)
	}
}

func TestCgroupSweeper(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"memory/testdir/cgrouptest/container", "pids/cgrouptest/busy/child"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self := filepath.Join(root, "self")
	if err := os.WriteFile(self, []byte("4:memory:/\n8:pids:/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := newCgroupSweeper(root, self)
	if err != nil {
		t.Fatal(err)
	}
	s.sweep()
	removed, stuck := s.result()
	if removed != 3 {
		t.Errorf("removed %d, want 3 (container, cgrouptest, testdir)", removed)
	}
	if _, ok := stuck[filepath.Join(root, "pids/cgrouptest")]; !ok || len(stuck) != 1 {
		t.Errorf("stuck: %v", stuck)
	}
	if _, err := newCgroupSweeper(root, self+".missing"); err == nil {
		t.Error("missing /proc/self/cgroup: no error")
	}
}

func TestReport(t *testing.T) {
	rep := &report{
		command: "run.sh", suite: "runtime-tools v0.9.0", host: "kernel x", wall: time.Minute, jobs: 4,
		timeout: time.Minute, out: "/out",
		rts:      []runtimeDef{{name: "gtu", path: "/g", version: "gtu 1"}, {name: "runc", path: "/r", version: "runc 1"}},
		programs: []string{"a", "b"},
		runs: map[string]map[string]*run{
			"gtu": {
				"a": mkRun(t, "ok 1 - x\nnot ok 2 - y | pipe\n1..2\n", 0),
				"b": mkRun(t, "ok 1 - x\n", 1),
			},
			"runc": {
				"a": mkRun(t, "ok 1 - x\nok 2 - y | pipe\n1..2\n", 0),
				"b": mkRun(t, "ok 1 - x\nok 2 - <z>\nok 3 - w\n1..3\n", 0),
			},
		},
		notes: []string{"removed 3 cgroup directories"},
	}
	var text, md bytes.Buffer
	rep.writeText(&text, 1)
	rep.writeMarkdown(&md)
	for _, want := range []string{
		"Passed by runc, not by gtu: 4 (in 2 programs)",
		"not ok   y | pipe",
		"gtu did not complete: exit status 1",
		"missing, never reached (2): <z>; w",
		"Passed by gtu, not by runc: 0",
		"* a",
		"removed 3 cgroup directories",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{
		"| gtu | gtu 1 | 2 | 1 | 0 | 0/2 | 1 |",
		"- not ok: y | pipe",
		"- missing, never reached (2): &lt;z&gt;; w",
		"| **a** | FAIL 1/1/0 | clean 2/0/0 |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// TestRunAllFakeSuite drives runAll, listPrograms and cleanupContainers
// with shell scripts standing in for the programs and for a runtime. It
// needs root, for the private mount namespace every program gets.
func TestRunAllFakeSuite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: each program runs under unshare --mount")
	}
	suite, tmp := t.TempDir(), t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(suite, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("runtimetest", "", 0o755)
	write("rootfs-amd64.tar.gz", "", 0o644)
	write("good", "#!/bin/sh\necho 'TAP version 13'\necho 'ok 1 - runtime is '\"$(basename $RUNTIME)\"\necho 1..1\n", 0o755)
	write("crash", "#!/bin/sh\necho 'ok 1 - first'\necho 'failed: boom' >&2\nexit 1\n", 0o755)
	write("linux_cgroups_x", "#!/bin/sh\necho 'ok 1 - x'\necho 1..1\n", 0o755)
	write("slow", "#!/bin/sh\nsleep 30\n", 0o755)
	// A fake runtime: lists one container in tmp and one elsewhere.
	rt := filepath.Join(t.TempDir(), "fakert")
	fakert := "#!/bin/sh\ncase $1 in\n" +
		"list) echo '[{\"id\":\"mine\",\"bundle\":\"" + tmp + "/ocitest1\"},{\"id\":\"theirs\",\"bundle\":\"/elsewhere\"}]' ;;\n" +
		"delete) [ \"$3\" = mine ] || exit 1 ;;\nesac\n"
	if err := os.WriteFile(rt, []byte(fakert), 0o755); err != nil {
		t.Fatal(err)
	}

	progs, err := listPrograms(suite, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"crash", "good", "linux_cgroups_x", "slow"}; !reflect.DeepEqual(progs, want) {
		t.Fatalf("listPrograms: got %q, want %q", progs, want)
	}
	cgroot := t.TempDir()
	self := filepath.Join(cgroot, "self")
	os.WriteFile(self, []byte("8:pids:/\n"), 0o644)
	os.MkdirAll(filepath.Join(cgroot, "pids", "cgrouptest"), 0o755)
	sw, err := newCgroupSweeper(cgroot, self)
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	rn := &runner{
		suite: suite, tmp: tmp, raw: filepath.Join(t.TempDir(), "raw"),
		timeout: time.Second, killAfter: time.Second, jobs: 2, cgroups: sw,
		progress: func(*run) { seen++ },
	}
	rts := []runtimeDef{{name: "a", path: "/bin/true"}, {name: "b", path: "/bin/false"}}
	runs, err := rn.runAll(t.Context(), rts, progs)
	if err != nil {
		t.Fatal(err)
	}
	if seen != 8 {
		t.Errorf("progress called %d times, want 8", seen)
	}
	if r := runs["b"]["good"]; !r.clean() || r.tap.assertions[0].desc != "runtime is false" {
		t.Errorf("good under b: %+v", r)
	}
	if r := runs["a"]["crash"]; r.incomplete() != "exit status 1: failed: boom" {
		t.Errorf("crash: %q", r.incomplete())
	}
	if r := runs["a"]["slow"]; !r.timedOut || r.status() != "TIMEOUT" {
		t.Errorf("slow: %+v", r)
	}
	if removed, _ := sw.result(); removed != 1 {
		t.Errorf("sweeper removed %d, want 1", removed)
	}
	if _, err := os.Stat(filepath.Join(rn.raw, "a", "good.stderr")); !os.IsNotExist(err) {
		t.Errorf("empty stderr file kept: %v", err)
	}

	deleted, err := cleanupContainers(t.Context(), runtimeDef{name: "fake", path: rt}, tmp)
	if err != nil || !reflect.DeepEqual(deleted, []string{"mine"}) {
		t.Errorf("cleanupContainers: %q, %v", deleted, err)
	}
	if notes := removeBundles(tmp); notes != nil {
		t.Errorf("removeBundles: %q", notes)
	}
}
