package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const reference = "runc"

func (b *bench) title(sc *scenario) string {
	return strings.Replace(sc.title, "N containers", strconv.Itoa(b.opts.concurrency)+" containers", 1)
}

func format(unit string, v float64) string {
	switch unit {
	case "s":
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// ratioText is "1.02 [0.98–1.05]" for rt against runc, or "" when there is
// nothing to compare.
func ratioText(sc *scenario, rt string) string {
	ref, ok := sc.samples[reference]
	if !ok || rt == reference {
		return ""
	}
	r, lo, hi, ok := ratioCI(sc.samples[rt], ref)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%.2f [%.2f–%.2f]", r, lo, hi)
}

type row struct {
	rt                       string
	n                        string
	median, iqr, span, vsRef string
}

func (b *bench) rows(sc *scenario) []row {
	var out []row
	for _, rt := range b.rts {
		xs, ok := sc.samples[rt.name]
		if !ok {
			continue
		}
		s := summarize(xs)
		out = append(out, row{
			rt: rt.name, n: strconv.Itoa(s.n), median: format(sc.unit, s.median),
			iqr:   format(sc.unit, s.p25) + "–" + format(sc.unit, s.p75),
			span:  format(sc.unit, s.min) + "–" + format(sc.unit, s.max),
			vsRef: ratioText(sc, rt.name),
		})
	}
	return out
}

func (b *bench) report() error {
	b.printConsole(os.Stdout)
	if err := os.MkdirAll(b.opts.out, 0o755); err != nil {
		return err
	}
	if err := b.writeCSV(filepath.Join(b.opts.out, "samples.csv")); err != nil {
		return err
	}
	png := filepath.Join(b.opts.out, "distribution.png")
	plotErr := b.plot(png)
	md, err := os.Create(filepath.Join(b.opts.out, "results.md"))
	if err != nil {
		return err
	}
	b.writeMarkdown(md, plotErr)
	if err := md.Close(); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s, %s", filepath.Join(b.opts.out, "results.md"), filepath.Join(b.opts.out, "samples.csv"))
	if plotErr != nil {
		fmt.Printf("\nno chart: %v\n", plotErr)
	} else {
		fmt.Printf(", %s\n", png)
	}
	return nil
}

// pad right-aligns s in width runes (the en dashes are multi-byte).
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

func (b *bench) printConsole(w io.Writer) {
	fmt.Fprintf(w, "\n%-8s %4s %10s %s %s  %s\n", "runtime", "n", "median", pad("p25–p75", 19), pad("min–max", 19), "vs "+reference+" [95% CI]")
	for _, sc := range b.res.ordered() {
		fmt.Fprintf(w, "\n%s [%s]\n", b.title(sc), sc.unit)
		for _, r := range b.rows(sc) {
			fmt.Fprintf(w, "%-8s %4s %10s %s %s  %s\n", r.rt, r.n, r.median, pad(r.iqr, 19), pad(r.span, 19), r.vsRef)
		}
		for _, rt := range b.rts {
			if reason, ok := sc.skipped[rt.name]; ok {
				fmt.Fprintf(w, "%-8s skipped: %s\n", rt.name, reason)
			}
		}
		for _, n := range sc.notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
}

func hostInfo() [][2]string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu := "unknown"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	layout := "cgroup v1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		layout = "cgroup v2 (unified)"
	} else if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
		layout = "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)"
	}
	distro := "unknown"
	if raw, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				distro = strings.Trim(v, `"`)
			}
		}
	}
	return [][2]string{
		{"Kernel", strings.TrimSpace(string(kernel))},
		{"OS", distro},
		{"CPU", fmt.Sprintf("%s × %d", cpu, goruntime.NumCPU())},
		{"Memory", fmt.Sprintf("%.1f GiB", float64(memTotalKiB())/(1<<20))},
		{"Cgroups", layout},
	}
}

func memTotalKiB() int64 {
	raw, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

func (b *bench) writeMarkdown(w io.Writer, plotErr error) {
	fmt.Fprintf(w, "# gtu benchmark\n\n")
	fmt.Fprintf(w, "| | |\n|---|---|\n")
	fmt.Fprintf(w, "| Date | %s (took %s) |\n", b.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(b.started).Round(time.Second))
	for _, kv := range hostInfo() {
		fmt.Fprintf(w, "| %s | %s |\n", kv[0], kv[1])
	}
	fmt.Fprintf(w, "| Command | `%s` |\n", b.opts.command)
	fmt.Fprintf(w, "| Runs | %d measured + %d warm-up per runtime per latency scenario, runtimes interleaved; %d round(s) of %d concurrent containers |\n",
		b.opts.runs, b.opts.warmup, b.opts.rounds, b.opts.concurrency)
	fmt.Fprintf(w, "| Driver | gtubench, %s |\n\n", goruntime.Version())
	fmt.Fprintf(w, "## Runtimes\n\n| Name | Binary | Version | Status |\n|---|---|---|---|\n")
	for _, rt := range b.rts {
		status := "measured"
		if rt.skip != "" {
			status = "skipped: " + rt.skip
		} else if rt.rootlessSkip != "" && rt.rootlessSkip != "not asked for" {
			status = "measured as root; rootless skipped: " + rt.rootlessSkip
		}
		fmt.Fprintf(w, "| %s | `%s` | %s | %s |\n", rt.name, rt.path, rt.version, mdEscape(status))
	}
	fmt.Fprintf(w, "\n## Results\n\nMedian, interquartile range and range; the last column is the ratio of medians to %s with a 95%% bootstrap interval (below 1 is faster or smaller).\n\n", reference)
	fmt.Fprintf(w, "| Scenario | Unit | Runtime | n | Median | p25–p75 | min–max | vs %s |\n|---|---|---|--:|--:|--:|--:|--:|\n", reference)
	var skips, notes []string
	for _, sc := range b.res.ordered() {
		for _, r := range b.rows(sc) {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				mdEscape(b.title(sc)), sc.unit, r.rt, r.n, r.median, r.iqr, r.span, r.vsRef)
		}
		for _, rt := range b.rts {
			if reason, ok := sc.skipped[rt.name]; ok && rt.skip == "" && reason != "not asked for" {
				skips = append(skips, fmt.Sprintf("- %s, %s: %s", b.title(sc), rt.name, reason))
			}
		}
		for _, n := range sc.notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", b.title(sc), n))
		}
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "\n## Skipped\n\n%s\n", strings.Join(skips, "\n"))
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n## Notes\n\n%s\n", strings.Join(notes, "\n"))
	}
	if plotErr != nil {
		fmt.Fprintf(w, "\nNo chart: %s\n", mdEscape(plotErr.Error()))
	} else {
		fmt.Fprintf(w, "\n![distributions](distribution.png)\n")
	}
	fmt.Fprintf(w, "\nWhat each figure measures: [bench/README.md](../README.md). Raw samples: [samples.csv](samples.csv).\n")
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (b *bench) writeCSV(path string) error {
	var sb strings.Builder
	sb.WriteString("scenario,unit,runtime,index,value\n")
	for _, sc := range b.res.ordered() {
		for _, rt := range b.rts {
			for i, v := range sc.samples[rt.name] {
				fmt.Fprintf(&sb, "%s,%s,%s,%d,%g\n", sc.key, sc.unit, rt.name, i, v)
			}
		}
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}
