package main

import (
	"strings"
	"testing"
)

func TestParseTAP(t *testing.T) {
	in := strings.Join([]string{
		"TAP version 13",
		"ok 1 - has expected hostname",
		"  ---",
		"  {",
		`    "actual": "a",`,
		`    "expected": "a"`,
		"  }",
		"  ...",
		"not ok 2 - mounts[6] (/tmp/x) found in order",
		"  ---",
		"  {",
		`    "error": "exit status 1",`,
		`    "stderr": "gtu: create x: boom\n"`,
		"  }",
		"  ...",
		"ok 3 # SKIP linux.sysctl not set",
		"ok 4 - escaped \\# hash # skip not today",
		"not ok 5 - known gap # TODO later",
		"# a diagnostic",
		"ok 6",
		"ok 7 - ",
		"1..7",
	}, "\n")
	s, err := parseTAP(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []assertion{
		{num: 1, desc: "has expected hostname", result: pass},
		{num: 2, desc: "mounts[6] (/tmp/x) found in order", result: fail},
		{num: 3, desc: "linux.sysctl not set", result: skip},
		{num: 4, desc: "escaped # hash", result: skip},
		{num: 5, desc: "known gap", result: todo},
		{num: 6, desc: "", result: pass},
		{num: 7, desc: "", result: pass},
	}
	if len(s.assertions) != len(want) {
		t.Fatalf("got %d assertions, want %d: %+v", len(s.assertions), len(want), s.assertions)
	}
	for i, w := range want {
		g := s.assertions[i]
		if g.num != w.num || g.desc != w.desc || g.result != w.result {
			t.Errorf("assertion %d: got %+v, want %+v", i, g, w)
		}
	}
	if s.plan != 7 {
		t.Errorf("plan: got %d, want 7", s.plan)
	}
	if got := yamlReason(s.assertions[1].yaml); got != "exit status 1: gtu: create x: boom" {
		t.Errorf("yamlReason: got %q", got)
	}
	if got := yamlReason(s.assertions[0].yaml); got != `expected "a", got "a"` {
		t.Errorf("yamlReason of expected/actual: got %q", got)
	}
}

func TestParseTAPDocumentsAndOrphans(t *testing.T) {
	// linux_cgroups_cpus prints two documents; hooks prints only a YAML
	// block; a YAML block left open ends at the next unindented line.
	in := "TAP version 13\nok 1 - a\nok 2 - b\n1..2\nTAP version 13\n1..0\n"
	s, err := parseTAP(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.plan != 2 || len(s.assertions) != 2 {
		t.Errorf("two documents: plan %d, %d assertions", s.plan, len(s.assertions))
	}

	in = "TAP version 13\n  ---\n  {\n    \"error\": \"Hooks MUST be called in the listed order\\nRefer to: x\"\n  }\n  ...\n1..0\n"
	s, err = parseTAP(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if f := s.findings(); len(f) != 1 || f[0] != "Hooks MUST be called in the listed order" {
		t.Errorf("findings: got %q", f)
	}

	in = "ok 1 - a\n  ---\n  {\"error\": \"x\"}\nnot ok 2 - b\n1..2\n"
	s, _ = parseTAP(strings.NewReader(in))
	if len(s.assertions) != 2 || s.assertions[0].yaml == "" || yamlReason(s.assertions[0].yaml) != "x" {
		t.Errorf("unterminated YAML: %+v", s.assertions)
	}

	in = "1..0 # SKIP not on this OS\nBail out! no runtime\n"
	s, _ = parseTAP(strings.NewReader(in))
	if s.planSkip != "not on this OS" || s.bailOut != "no runtime" || s.plan != 0 {
		t.Errorf("plan skip / bail out: %+v", s)
	}
}

func TestYAMLReason(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"not json", ""},
		{`{"level": "MUST"}`, ""},
		{`{"error": "a\nb"}`, "a b"},
		{`{"expected": 3}`, "expected 3, got nothing"},
		{`{"stdout": "TAP version 13\nok 1 - x\nnot ok 2 - y\n"}`, "inside: not ok 2 - y"},
		{`{"stdout": "ok 1\n", "stderr": "oops"}`, "inside, stderr: oops"},
		{`{"error": "` + strings.Repeat("x", 300) + `"}`, strings.Repeat("x", 237) + "..."},
	} {
		if got := yamlReason(c.body); got != c.want {
			t.Errorf("yamlReason(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[result]string{pass: "ok", fail: "not ok", skip: "skip", todo: "todo", result(9): "result(9)"} {
		if r.String() != want {
			t.Errorf("%d: got %q, want %q", int(r), r.String(), want)
		}
	}
}
