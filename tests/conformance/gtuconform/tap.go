package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// result is the outcome of one TAP assertion.
type result int

const (
	pass result = iota
	fail
	skip // "# SKIP" directive: not run, counts as neither pass nor fail
	todo // "# TODO" directive: a known gap the program itself declares
)

func (r result) String() string {
	switch r {
	case pass:
		return "ok"
	case fail:
		return "not ok"
	case skip:
		return "skip"
	case todo:
		return "todo"
	}
	return "result(" + strconv.Itoa(int(r)) + ")"
}

// assertion is one "ok"/"not ok" line and the YAML block that followed it.
type assertion struct {
	num    int // the number on the line, 0 when it had none
	desc   string
	result result
	yaml   string // body of the YAML block after the line, "" when none
}

// tapStream is everything a validation program printed on stdout.
type tapStream struct {
	assertions []assertion
	// plan is the sum of the "1..N" lines, -1 when there was none. Some
	// programs print two TAP documents (linux_cgroups_cpus ends with a
	// second, empty one: "TAP version 13", "1..0").
	plan     int
	planSkip string // reason of a "1..0 # SKIP reason" plan
	bailOut  string // reason of a "Bail out!" line
	// orphanYAML holds YAML blocks printed before any assertion: the hooks
	// program of runtime-tools v0.9.0 reports its only finding that way.
	orphanYAML []string
}

var (
	testLine = regexp.MustCompile(`^(not ok|ok)\b[ \t]*([0-9]+)?[ \t]*(?:-[ \t]*)?(.*)$`)
	planLine = regexp.MustCompile(`^1\.\.([0-9]+)[ \t]*(?:#[ \t]*(.*))?$`)
)

// maxLine bounds one TAP line. tap-go writes a YAML diagnostic as indented
// JSON, and RuntimeInsideValidate puts the whole inner TAP of runtimetest
// into one JSON string, so a line can be far longer than bufio's default.
const maxLine = 16 << 20

// parseTAP reads TAP version 13 as the runtime-tools programs print it
// (through github.com/mndrix/tap-go). Only lines at column 0 are test,
// plan or bail-out lines; indented lines belong to YAML blocks, whose
// bodies are kept for the report.
func parseTAP(r io.Reader) (tapStream, error) {
	s := tapStream{plan: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var (
		inYAML bool
		block  []string
	)
	endBlock := func() {
		body := strings.Join(block, "\n")
		if n := len(s.assertions); n > 0 {
			s.assertions[n-1].yaml = body
		} else {
			s.orphanYAML = append(s.orphanYAML, body)
		}
		inYAML, block = false, nil
	}
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if inYAML {
			if trimmed == "..." {
				endBlock()
				continue
			}
			if line == "" || line[0] == ' ' || line[0] == '\t' {
				block = append(block, trimmed)
				continue
			}
			// An unterminated block ends at the next unindented line.
			endBlock()
		}
		if trimmed == "---" && line != trimmed {
			inYAML = true
			continue
		}
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			continue // indented: not TAP at this level
		}
		switch {
		case strings.HasPrefix(line, "Bail out!"):
			s.bailOut = strings.TrimSpace(strings.TrimPrefix(line, "Bail out!"))
		case testLine.MatchString(line):
			s.assertions = append(s.assertions, parseTestLine(line))
		case planLine.MatchString(line):
			m := planLine.FindStringSubmatch(line)
			n, _ := strconv.Atoi(m[1])
			s.plan = max(s.plan, 0) + n
			if d, reason := directive(m[2]); d == "skip" {
				s.planSkip = reason
			}
		}
	}
	if inYAML {
		endBlock()
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("reading TAP: %w", err)
	}
	return s, nil
}

func parseTestLine(line string) assertion {
	m := testLine.FindStringSubmatch(line)
	a := assertion{result: pass}
	if m[1] == "not ok" {
		a.result = fail
	}
	a.num, _ = strconv.Atoi(m[2])
	desc, dir := splitDirective(m[3])
	a.desc = unescape(desc)
	switch d, reason := directive(dir); d {
	case "skip":
		a.result = skip
		if a.desc == "" {
			// tap-go prints "ok 7 # SKIP why": the reason is the name.
			a.desc = reason
		}
	case "todo":
		a.result = todo
		if a.desc == "" {
			a.desc = reason
		}
	}
	return a
}

// splitDirective splits a description at its first unescaped '#'.
func splitDirective(s string) (desc, dir string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '#':
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		}
	}
	return strings.TrimSpace(s), ""
}

// directive recognises "SKIP reason" and "TODO reason" (any case, and
// longer words such as "skipped", as TAP allows).
func directive(dir string) (kind, reason string) {
	word, rest, _ := strings.Cut(dir, " ")
	w := strings.ToLower(word)
	switch {
	case strings.HasPrefix(w, "skip"):
		return "skip", strings.TrimSpace(rest)
	case strings.HasPrefix(w, "todo"):
		return "todo", strings.TrimSpace(rest)
	}
	return "", ""
}

func unescape(s string) string {
	return strings.NewReplacer(`\#`, "#", `\\`, `\`).Replace(s)
}

// findings are the "error" messages of the YAML blocks printed before any
// assertion: hooks, prestart, poststart, poststart_fail and poststop_fail
// report a failure only that way, with no "not ok" line. Each is cut to its
// first line (the rest is a "Refer to:" link).
func (s tapStream) findings() []string {
	var out []string
	for _, body := range s.orphanYAML {
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) != nil {
			continue
		}
		if e, ok := m["error"].(string); ok && strings.TrimSpace(e) != "" {
			first, _, _ := strings.Cut(strings.TrimSpace(e), "\n")
			out = append(out, oneLine(first))
		}
	}
	return out
}

// yamlReason picks a one-line reason out of a YAML diagnostic: the
// "error" field, else "expected ... actual ...", else "". tap-go writes
// these blocks as JSON objects.
func yamlReason(body string) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	if e, ok := m["error"]; ok {
		// SpecErrorOK puts a runtime's stderr next to a bare "exit status 1".
		if errOut, ok := m["stderr"].(string); ok && strings.TrimSpace(errOut) != "" {
			return oneLine(fmt.Sprint(e) + ": " + stderrReason(errOut))
		}
		return oneLine(fmt.Sprint(e))
	}
	// RuntimeInsideValidate nests runtimetest's own TAP in "stdout".
	if out, ok := m["stdout"].(string); ok {
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, "not ok") {
				return oneLine("inside: " + l)
			}
		}
		if errOut, ok := m["stderr"].(string); ok && strings.TrimSpace(errOut) != "" {
			return oneLine("inside, stderr: " + errOut)
		}
	}
	exp, okE := m["expected"]
	act, okA := m["actual"]
	if okE || okA {
		return oneLine(fmt.Sprintf("expected %v, got %v", jsonish(exp), jsonish(act)))
	}
	return ""
}

func jsonish(v any) string {
	if v == nil {
		return "nothing"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// oneLine joins lines and cuts a reason to a length a table cell can hold.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 240
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}
