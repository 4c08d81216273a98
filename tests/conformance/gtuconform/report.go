package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything the console summary and summary.md show.
type report struct {
	command  string
	suite    string // "runtime-tools v0.9.0"
	host     string
	started  time.Time
	wall     time.Duration
	jobs     int
	timeout  time.Duration
	rts      []runtimeDef
	programs []string
	runs     map[string]map[string]*run // runtime -> program -> run
	notes    []string                   // housekeeping: leftovers cleaned up or not
	out      string                     // where summary.md and raw/ are
}

// comparison is the subject (the first runtime) against one reference.
type comparison struct {
	subject, ref string
	missing      []programGaps // ref passes, subject does not
	extra        []programGaps // subject passes, ref does not
}

func (rep *report) comparisons() []comparison {
	if len(rep.rts) < 2 {
		return nil
	}
	s := rep.rts[0].name
	var cs []comparison
	for _, ref := range rep.rts[1:] {
		cs = append(cs, comparison{
			subject: s, ref: ref.name,
			missing: compare(rep.runs[s], rep.runs[ref.name]),
			extra:   compare(rep.runs[ref.name], rep.runs[s]),
		})
	}
	return cs
}

func (rep *report) cell(rt, prog string) (status, nums string) {
	r, ok := rep.runs[rt][prog]
	if !ok {
		return "-", ""
	}
	c := r.counts()
	return r.status(), fmt.Sprintf("%d/%d/%d", c.passed, c.failed, c.skipped)
}

// differs reports whether a program's results differ between runtimes.
func (rep *report) differs(prog string) bool {
	var first string
	for i, rt := range rep.rts {
		st, nums := rep.cell(rt.name, prog)
		if i == 0 {
			first = st + nums
		} else if st+nums != first {
			return true
		}
	}
	return false
}

func (rep *report) incompletes() [][3]string {
	var out [][3]string
	for _, rt := range rep.rts {
		for _, p := range rep.programs {
			if r, ok := rep.runs[rt.name][p]; ok && r.incomplete() != "" {
				out = append(out, [3]string{rt.name, p, r.incomplete()})
			}
		}
	}
	return out
}

const countsLegend = `"failed" counts "not ok" assertions; a program that crashed, timed out or broke its TAP plan also counts as a failed program ("did not complete"), with its reason listed below. "busy" adds up the programs' run times.`

// writeText prints the console summary; maxGaps bounds the entries shown
// per program in the comparison lists (0: all).
func (rep *report) writeText(w io.Writer, maxGaps int) {
	fmt.Fprintf(w, "\n== OCI %s validation: %d programs x %d runtimes, %s wall (%d lanes + 1 for the cgroup programs, %s timeout each)\n",
		rep.suite, len(rep.programs), len(rep.rts), rep.wall.Round(time.Second), rep.jobs, rep.timeout)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "runtime\tpassed\tfailed\tskipped\tprograms clean\tdid not complete\t busy\t")
	for _, rt := range rep.rts {
		s := summarize(rep.runs[rt.name])
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d/%d\t%d\t%s\t\n", rt.name, s.passed, s.failed, s.skipped,
			s.clean, s.programs, s.incomplete, s.busy.Round(time.Second))
	}
	tw.Flush()
	for _, rt := range rep.rts {
		fmt.Fprintf(w, "  %s: %s (%s)\n", rt.name, rt.path, rt.version)
	}
	fmt.Fprintln(w, "  "+countsLegend)

	fmt.Fprintf(w, "\n== Per program: status ok/not-ok/skip (* = the runtimes differ)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  program")
	for _, rt := range rep.rts {
		fmt.Fprintf(tw, "\t%s\t", rt.name)
	}
	fmt.Fprintln(tw)
	for _, p := range rep.programs {
		mark := " "
		if rep.differs(p) {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s %s", mark, p)
		for _, rt := range rep.rts {
			st, nums := rep.cell(rt.name, p)
			fmt.Fprintf(tw, "\t%s\t%s", st, nums)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	if inc := rep.incompletes(); len(inc) > 0 {
		fmt.Fprintf(w, "\n== Programs that did not complete\n")
		for _, i := range inc {
			fmt.Fprintf(w, "  %-6s %s: %s\n", i[0], i[1], i[2])
		}
	}

	for _, c := range rep.comparisons() {
		fmt.Fprintf(w, "\n== Passed by %s, not by %s: %d (in %d programs)\n", c.ref, c.subject, gapCount(c.missing), len(c.missing))
		fmt.Fprintf(w, "   (the issue's acceptance criterion: this list must become empty)\n")
		writeGapsText(w, c.subject, c.ref, c.missing, maxGaps, rep.out)
		fmt.Fprintf(w, "\n== Passed by %s, not by %s: %d (in %d programs)\n", c.subject, c.ref, gapCount(c.extra), len(c.extra))
		writeGapsText(w, c.ref, c.subject, c.extra, maxGaps, rep.out)
	}
	if len(rep.notes) > 0 {
		fmt.Fprintf(w, "\n== Housekeeping\n")
		for _, n := range rep.notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	fmt.Fprintf(w, "\nFull report: %s/summary.md; raw TAP and stderr: %s/raw/RUNTIME/PROGRAM.{tap,stderr}\n", rep.out, rep.out)
}

func writeGapsText(w io.Writer, who, ref string, pgs []programGaps, maxGaps int, out string) {
	for _, pg := range pgs {
		fmt.Fprintf(w, "  %s\n", pg.program)
		if pg.incomplete != "" {
			fmt.Fprintf(w, "    %s did not complete: %s\n", who, pg.incomplete)
		}
		var listed []gap
		var missing []string
		for _, g := range pg.gaps {
			if g.got == "missing" && pg.incomplete != "" {
				missing = append(missing, g.desc)
			} else {
				listed = append(listed, g)
			}
		}
		for i, g := range listed {
			if maxGaps > 0 && i == maxGaps {
				fmt.Fprintf(w, "    ... and %d more (see %s/summary.md)\n", len(listed)-maxGaps, out)
				break
			}
			fmt.Fprintf(w, "    %-8s %s%s\n", g.got, g.label(ref), reasonSuffix(g.reason))
		}
		if len(missing) > 0 {
			fmt.Fprintf(w, "    missing, never reached (%d): %s\n", len(missing), summarizeDescs(missing, 3))
		}
	}
}

// label names a gap's assertion for a list.
func (g gap) label(ref string) string {
	d := g.desc
	if d == "" {
		d = "(no description)"
	}
	if g.only {
		d += " [" + ref + " does not report this]"
	}
	return d
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return "  -- " + reason
}

// writeMarkdown writes summary.md.
func (rep *report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# OCI runtime conformance: %s\n\n", strings.Join(rtNames(rep.rts), " vs "))
	fmt.Fprintf(w, "Generated by `%s` on %s (%s).\n", rep.command, rep.started.UTC().Format("2006-01-02 15:04 UTC"), rep.host)
	fmt.Fprintf(w, "Suite: the validation programs of %s. Wall time %s: %d parallel lanes plus one lane\n", rep.suite, rep.wall.Round(time.Second), rep.jobs)
	fmt.Fprintf(w, "for the programs that share fixed cgroup paths; %s timeout per program.\n\n", rep.timeout)

	fmt.Fprintln(w, "| runtime | version | passed | failed | skipped | programs clean | did not complete | busy |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|")
	for _, rt := range rep.rts {
		s := summarize(rep.runs[rt.name])
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d/%d | %d | %s |\n", rt.name, mdCell(rt.version),
			s.passed, s.failed, s.skipped, s.clean, s.programs, s.incomplete, s.busy.Round(time.Second))
	}
	fmt.Fprintf(w, "\n%s\n", countsLegend)

	for _, c := range rep.comparisons() {
		fmt.Fprintf(w, "\n## Passed by %s, not by %s: %d\n\n", c.ref, c.subject, gapCount(c.missing))
		fmt.Fprintf(w, "The issue's acceptance criterion: this list must become empty.\n")
		writeGapsMarkdown(w, c.subject, c.ref, c.missing)
		fmt.Fprintf(w, "\n## Passed by %s, not by %s: %d\n", c.subject, c.ref, gapCount(c.extra))
		writeGapsMarkdown(w, c.ref, c.subject, c.extra)
	}

	fmt.Fprintf(w, "\n## Per program\n\nStatus and ok / not ok / skip counts.\n\n| program |")
	for _, rt := range rep.rts {
		fmt.Fprintf(w, " %s |", rt.name)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(rep.rts)))
	for _, p := range rep.programs {
		name := p
		if rep.differs(p) {
			name = "**" + p + "**"
		}
		fmt.Fprintf(w, "| %s |", name)
		for _, rt := range rep.rts {
			st, nums := rep.cell(rt.name, p)
			fmt.Fprintf(w, " %s %s |", st, nums)
		}
		fmt.Fprintln(w)
	}

	if inc := rep.incompletes(); len(inc) > 0 {
		fmt.Fprintf(w, "\n## Programs that did not complete\n\n| runtime | program | why |\n|---|---|---|\n")
		for _, i := range inc {
			fmt.Fprintf(w, "| %s | %s | %s |\n", i[0], i[1], mdCell(i[2]))
		}
	}
	if len(rep.notes) > 0 {
		fmt.Fprintf(w, "\n## Housekeeping\n\n")
		for _, n := range rep.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func writeGapsMarkdown(w io.Writer, who, ref string, pgs []programGaps) {
	for _, pg := range pgs {
		fmt.Fprintf(w, "\n### %s\n\n", pg.program)
		if pg.incomplete != "" {
			fmt.Fprintf(w, "- %s did not complete: %s\n", who, mdText(pg.incomplete))
		}
		// Many programs end early under a runtime that lacks a feature;
		// the assertions they never reached are summed up on one line.
		var missing []string
		for _, g := range pg.gaps {
			if g.got == "missing" && pg.incomplete != "" {
				missing = append(missing, g.desc)
				continue
			}
			fmt.Fprintf(w, "- %s: %s%s\n", g.got, mdText(g.label(ref)), mdText(reasonSuffix(g.reason)))
		}
		if len(missing) > 0 {
			fmt.Fprintf(w, "- missing, never reached (%d): %s\n", len(missing), mdText(summarizeDescs(missing, 6)))
		}
	}
}

// summarizeDescs shows the first n descriptions and how many more there are.
func summarizeDescs(descs []string, n int) string {
	if len(descs) <= n {
		return strings.Join(descs, "; ")
	}
	return strings.Join(descs[:n], "; ") + fmt.Sprintf("; ... and %d more", len(descs)-n)
}

// mdText keeps text from breaking markdown: no line breaks, and '<' would
// open an HTML tag.
func mdText(s string) string {
	return strings.NewReplacer("\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mdCell(s string) string { return strings.ReplaceAll(mdText(s), "|", `\|`) }

func rtNames(rts []runtimeDef) []string {
	var names []string
	for _, rt := range rts {
		names = append(names, rt.name)
	}
	return names
}

func sortedStuck(m map[string]string) []string {
	var out []string
	for _, d := range sortedKeys(m) {
		out = append(out, d+" ("+m[d]+")")
	}
	return out
}
