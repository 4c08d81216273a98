package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mkRun(t *testing.T, tap string, exit int) *run {
	t.Helper()
	s, err := parseTAP(strings.NewReader(tap))
	if err != nil {
		t.Fatal(err)
	}
	return &run{tap: s, exitCode: exit, timeout: time.Minute}
}

func TestIncompleteAndStatus(t *testing.T) {
	for _, c := range []struct {
		name, tap  string
		exit       int
		timedOut   bool
		stderr     string
		incomplete string
		status     string
		clean      bool
	}{
		{"clean", "ok 1 - a\n1..1\n", 0, false, "", "", "clean", true},
		{"fail", "not ok 1 - a\n1..1\n", 0, false, "", "", "FAIL", false},
		{"silent pass", "", 0, false, "", "", "empty", true},
		{"finding", "  ---\n  {\"error\": \"e\"}\n  ...\n1..0\n", 0, false, "", "", "FINDING", false},
		{"no plan", "ok 1 - a\n", 0, false, "", "no TAP plan (1..N) printed", "BROKEN", false},
		{"short plan", "ok 1 - a\n1..3\n", 0, false, "", "planned 3 assertions, printed 1", "BROKEN", false},
		{"bail", "Bail out! x\n", 0, false, "", "bail out: x", "BROKEN", false},
		{"timeout", "ok 1 - a\n", 124, true, "", "timed out after 1m0s", "TIMEOUT", false},
		{"crash", "ok 1 - a\n", 1, false, "failed to create the container\ngtu: create x: nope\nexit status 1\n",
			"exit status 1: gtu: create x: nope", "EXIT 1", false},
		{"signal", "", -1, false, "", "killed by a signal", "KILLED", false},
	} {
		r := mkRun(t, c.tap, c.exit)
		r.timedOut, r.stderr = c.timedOut, c.stderr
		if got := r.incomplete(); got != c.incomplete {
			t.Errorf("%s: incomplete() = %q, want %q", c.name, got, c.incomplete)
		}
		if got := r.status(); got != c.status {
			t.Errorf("%s: status() = %q, want %q", c.name, got, c.status)
		}
		if got := r.clean(); got != c.clean {
			t.Errorf("%s: clean() = %v, want %v", c.name, got, c.clean)
		}
	}
	r := mkRun(t, "", 0)
	r.tapErr = errors.New("reading TAP: too long")
	if r.incomplete() != "reading TAP: too long" {
		t.Errorf("tapErr: %q", r.incomplete())
	}
}

func TestStderrReason(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"exit status 1\n", ""},
		{`time="x" level=error msg="runc create failed: \"quoted\" thing"` + "\nexit status 1\n", `runc create failed: "quoted" thing`},
		{`time=x level=ERROR msg="gtu says no"`, "gtu says no"},
		{"first\nsome Error here\nlast\n", "some Error here"},
		{"just this\n", "just this"},
	} {
		if got := stderrReason(c.in); got != c.want {
			t.Errorf("stderrReason(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAssertionKeys(t *testing.T) {
	as := []assertion{
		{desc: "find pids cgroup"},
		{desc: "find pids cgroup"},
		{desc: "container 0b2a5e0c-1b6e-4d2e-9a3f-1234567890ab in /tmp/x/ocitest12345/rootfs  ok"},
	}
	got := assertionKeys(as)
	want := []string{"find pids cgroup\x001", "find pids cgroup\x002", "container <id> in <bundle>/rootfs ok\x001"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCompare(t *testing.T) {
	ref := map[string]*run{
		"a":        mkRun(t, "ok 1 - x\nok 2 - y\nok 3 - z\nok 4 - w\n1..4\n", 0),
		"b":        mkRun(t, "ok 1 - x\nok 2 - y\n1..2\n", 0),
		"c":        mkRun(t, "ok 1 - x\n", 1), // ref crashed
		"d":        mkRun(t, "1..0\n", 0),
		"e":        mkRun(t, "ok 1 - x\n1..1\n", 0),
		"f":        mkRun(t, "  ---\n  {\"error\": \"R\"}\n  ...\nnot ok 1 - q\n1..1\n", 0),
		"only-ref": mkRun(t, "ok 1 - x\n1..1\n", 0),
	}
	subj := map[string]*run{
		"a": mkRun(t, "ok 1 - x\nnot ok 2 - y\n  ---\n  {\"error\": \"E\"}\n  ...\nok 3 # SKIP z\nok 4 - w\nnot ok 5 - v\n1..5\n", 0),
		"b": mkRun(t, "ok 1 - x\n", 1),
		"c": mkRun(t, "", 0), // subject completes silently: ref's extras do not count
		"d": mkRun(t, "  ---\n  {\"error\": \"S\"}\n  ...\n1..0\n", 0),
		"e": mkRun(t, "ok 1 - x\n1..1\n", 0),
		// ref fails f too, in its own way: nothing of f is a regression.
		"f": mkRun(t, "  ---\n  {\"error\": \"S\"}\n  ...\nnot ok 1 - other\n1..1\n", 0),
	}
	got := compare(subj, ref)
	want := []programGaps{
		{program: "a", gaps: []gap{
			{desc: "y", got: "not ok", reason: "E"},
			{desc: "z", got: "skip"},
			{desc: "v", got: "not ok", only: true},
		}},
		{program: "b", incomplete: "exit status 1", gaps: []gap{
			{desc: "y", got: "missing", reason: "never reached: exit status 1"},
		}},
		{program: "d", gaps: []gap{{desc: "S", got: "finding", only: true}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compare:\n got %+v\nwant %+v", got, want)
	}
	if n := gapCount(got); n != 6 {
		t.Errorf("gapCount = %d, want 6", n)
	}

	s := summarize(subj)
	if s.programs != 6 || s.clean != 2 || s.incomplete != 1 || s.passed != 4 || s.failed != 3 || s.skipped != 1 {
		t.Errorf("summarize: %+v", s)
	}
}
