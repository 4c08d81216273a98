package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// run is one validation program run against one runtime.
type run struct {
	runtime, program string
	tap              tapStream
	tapErr           error
	exitCode         int // -1 when a signal ended it
	timedOut         bool
	timeout          time.Duration
	stderr           string
	duration         time.Duration
}

type counts struct{ passed, failed, skipped int }

func (r *run) counts() counts {
	var c counts
	for _, a := range r.tap.assertions {
		switch a.result {
		case pass:
			c.passed++
		case fail:
			c.failed++
		default: // skip and todo: nothing was asserted
			c.skipped++
		}
	}
	return c
}

// incomplete says why the program did not run to its end, or "" when it
// did. A program that crashes, times out or breaks its plan counts as a
// failed program whatever its assertions say.
func (r *run) incomplete() string {
	switch {
	case r.timedOut:
		return "timed out after " + r.timeout.String()
	case r.exitCode != 0:
		why := "exit status " + strconv.Itoa(r.exitCode)
		if r.exitCode < 0 {
			why = "killed by a signal"
		}
		if reason := stderrReason(r.stderr); reason != "" {
			why += ": " + reason
		}
		return why
	case r.tapErr != nil:
		return r.tapErr.Error()
	case r.tap.bailOut != "":
		return "bail out: " + r.tap.bailOut
	case r.tap.plan < 0 && len(r.tap.assertions) == 0 && len(r.tap.orphanYAML) == 0:
		// Nothing at all, and exit status 0: how process_capabilities_fail
		// and process_rlimits_fail pass (the runtime refused the config).
		return ""
	case r.tap.plan < 0:
		return "no TAP plan (1..N) printed"
	case r.tap.planSkip == "" && r.tap.plan != len(r.tap.assertions):
		return fmt.Sprintf("planned %d assertions, printed %d", r.tap.plan, len(r.tap.assertions))
	}
	return ""
}

func (r *run) clean() bool {
	return r.incomplete() == "" && r.counts().failed == 0 && len(r.tap.findings()) == 0
}

// status is the one word the per-program table shows.
func (r *run) status() string {
	switch {
	case r.timedOut:
		return "TIMEOUT"
	case r.exitCode < 0:
		return "KILLED"
	case r.exitCode != 0:
		return "EXIT " + strconv.Itoa(r.exitCode)
	case r.incomplete() != "":
		return "BROKEN"
	case r.counts().failed > 0:
		return "FAIL"
	case len(r.tap.findings()) > 0:
		return "FINDING" // a failure reported as a bare YAML block
	case len(r.tap.assertions) == 0:
		// The *_fail programs and the hook programs print no assertion
		// when they pass.
		return "empty"
	}
	return "clean"
}

var (
	runtimeMsg = regexp.MustCompile(`level=(?i:error|fatal)\b.*?msg="((?:[^"\\]|\\.)*)"`)
	exitStatus = regexp.MustCompile(`^exit status [0-9]+$`)
)

// stderrReason picks the line of a program's stderr that says why it
// failed: a runtime's logged error (runc logs logrus text, gtu slog text),
// else the last line that mentions an error, else the last line.
// util.Fatal ends with the error it got, often a bare "exit status 1".
func stderrReason(stderr string) string {
	var lines []string
	for l := range strings.Lines(stderr) {
		if l = strings.TrimSpace(l); l != "" && !exitStatus.MatchString(l) {
			lines = append(lines, l)
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if m := runtimeMsg.FindStringSubmatch(lines[i]); m != nil {
			if s, err := strconv.Unquote(`"` + m[1] + `"`); err == nil {
				return oneLine(s)
			}
			return oneLine(m[1])
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(strings.ToLower(lines[i]), "error") {
			return oneLine(lines[i])
		}
	}
	if len(lines) > 0 {
		return oneLine(lines[len(lines)-1])
	}
	return ""
}

var (
	uuidRe    = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	bundleRe  = regexp.MustCompile(`\S*ocitest[0-9]+`)
	spaceRuns = regexp.MustCompile(`\s+`)
)

// assertionKeys names each assertion so that two runs of one program can
// be matched: the description with container ids and bundle paths (random
// in every run) blanked out, plus its occurrence number, since programs
// repeat descriptions (every cgroup test asks "find pids cgroup").
func assertionKeys(as []assertion) []string {
	seen := map[string]int{}
	keys := make([]string, len(as))
	for i, a := range as {
		d := uuidRe.ReplaceAllString(a.desc, "<id>")
		d = bundleRe.ReplaceAllString(d, "<bundle>")
		d = spaceRuns.ReplaceAllString(strings.TrimSpace(d), " ")
		seen[d]++
		keys[i] = d + "\x00" + strconv.Itoa(seen[d])
	}
	return keys
}

// gap is one assertion the reference runtime passes and the subject does
// not, or a failure the subject reports in a program the reference runs
// clean.
type gap struct {
	desc   string
	got    string // "not ok", "skip", "todo" or "missing"
	only   bool   // only the subject printed this assertion
	reason string
}

// programGaps is what one program shows of the subject against the reference.
type programGaps struct {
	program string
	// incomplete is why the subject's run did not complete, when the
	// reference's did; "" otherwise.
	incomplete string
	gaps       []gap
}

// compare lists, program by program, what ref passes and subject does not:
// its assertions that subject fails, skips or never reaches, the failures
// subject reports in a program ref runs clean, and whether subject failed
// to complete a program ref completes.
func compare(subject, ref map[string]*run) []programGaps {
	var out []programGaps
	for _, prog := range sortedKeys(ref) {
		s, ok := subject[prog]
		if !ok {
			continue
		}
		r := ref[prog]
		pg := programGaps{program: prog}
		if r.incomplete() == "" {
			pg.incomplete = s.incomplete()
		}
		// When subject ran the program to its end and ref did not, what
		// ref printed beyond subject is no standard: process_capabilities_fail
		// prints runtimetest's checks only when the runtime wrongly accepts
		// the config.
		countMissing := s.incomplete() != "" || r.incomplete() == ""
		got := map[string]*assertion{}
		for i, k := range assertionKeys(s.tap.assertions) {
			got[k] = &s.tap.assertions[i]
		}
		refKeys := map[string]bool{}
		for i, k := range assertionKeys(r.tap.assertions) {
			refKeys[k] = true
			a := r.tap.assertions[i]
			if a.result != pass {
				continue
			}
			sa, ok := got[k]
			switch {
			case !ok && countMissing:
				why := s.incomplete()
				if why == "" {
					why = "not printed"
				} else {
					why = "never reached: " + why
				}
				pg.gaps = append(pg.gaps, gap{desc: a.desc, got: "missing", reason: why})
			case ok && sa.result != pass:
				pg.gaps = append(pg.gaps, gap{desc: a.desc, got: sa.result.String(), reason: yamlReason(sa.yaml)})
			}
		}
		// Failures only subject reports count where ref ran the program
		// clean; where ref fails it too, in its own way (poststart), they
		// are no regression against ref.
		refClean := r.clean()
		for i, k := range assertionKeys(s.tap.assertions) {
			if a := s.tap.assertions[i]; refClean && a.result == fail && !refKeys[k] {
				pg.gaps = append(pg.gaps, gap{desc: a.desc, got: "not ok", only: true, reason: yamlReason(a.yaml)})
			}
		}
		refFindings := map[string]bool{}
		for _, f := range r.tap.findings() {
			refFindings[f] = true
		}
		for _, f := range s.tap.findings() {
			if refClean && !refFindings[f] {
				pg.gaps = append(pg.gaps, gap{desc: f, got: "finding", only: true})
			}
		}
		if pg.incomplete != "" || len(pg.gaps) > 0 {
			out = append(out, pg)
		}
	}
	return out
}

// gapCount is the number of entries of a comparison: each assertion, plus
// each program that did not complete.
func gapCount(pgs []programGaps) int {
	n := 0
	for _, pg := range pgs {
		n += len(pg.gaps)
		if pg.incomplete != "" {
			n++
		}
	}
	return n
}

// summary totals one runtime's runs.
type summary struct {
	counts
	programs, clean, incomplete int
	busy                        time.Duration // sum of the programs' run times
}

func summarize(runs map[string]*run) summary {
	var s summary
	for _, r := range runs {
		c := r.counts()
		s.passed += c.passed
		s.failed += c.failed
		s.skipped += c.skipped
		s.programs++
		if r.clean() {
			s.clean++
		}
		if r.incomplete() != "" {
			s.incomplete++
		}
		s.busy += r.duration
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
