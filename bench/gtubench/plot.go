package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The chart: one panel per scenario, a box plot per runtime (box p25–p75,
// line at the median, whiskers to 1.5 IQR) with every sample drawn on top as
// a jittered dot, and the median written above each box.
var plotPanels = []string{"run", "run-seccomp", "create", "start", "delete", "exec", "run-rootless", "rss", "rss-seccomp", "conc-start", "conc-peak", "conc-delete"}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

func gnuplotQuote(s string) string {
	// Backquotes would be command substitution in gnuplot, even in strings.
	s = strings.NewReplacer("`", "", `"`, "'", `\`, "").Replace(s)
	return `"` + s + `"`
}

func (b *bench) plot(png string) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot not found (apt-get install gnuplot-nox)")
	}
	dir := filepath.Join(b.opts.workdir, "plot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	var s strings.Builder
	host := hostInfo()
	fmt.Fprintf(&s, "set terminal pngcairo size 1500,1500 font 'sans,10'\nset output %s\n", gnuplotQuote(abs))
	fmt.Fprintf(&s, "set multiplot layout 4,3 title %s font ',12'\n", gnuplotQuote(fmt.Sprintf(
		"gtubench %s   kernel %s   %s   %d runs + %d warm-up per runtime, interleaved",
		b.started.UTC().Format(time.DateOnly), host[0][1], host[2][1], b.opts.runs, b.opts.warmup)))
	s.WriteString("set style fill transparent solid 0.30 border\nset style boxplot nooutliers\nset boxwidth 0.5\n")
	s.WriteString("set grid ytics lc rgb '#dddddd'\nunset key\nset offsets 0, 0, graph 0.12, graph 0.05\nset format y '%g'\n")
	for _, key := range plotPanels {
		sc := b.res.get(key)
		s.WriteString("unset label\nset autoscale y\nset xtics scale 0\nset ytics\n")
		fmt.Fprintf(&s, "set title %s\nset ylabel %s\n", gnuplotQuote(b.title(sc)), gnuplotQuote(sc.unit))
		var plots []string
		var tics []string
		x := 0
		for i, rt := range b.rts {
			xs, ok := sc.samples[rt.name]
			if !ok || len(xs) == 0 {
				continue
			}
			x++
			file := filepath.Join(dir, key+"."+rt.name+".dat")
			var data strings.Builder
			for _, v := range xs {
				fmt.Fprintf(&data, "%g\n", v)
			}
			if err := os.WriteFile(file, []byte(data.String()), 0o644); err != nil {
				return err
			}
			color := palette[i%len(palette)]
			plots = append(plots,
				fmt.Sprintf("%s using (%d):1 with boxplot lc rgb '%s' lw 1.5", gnuplotQuote(file), x, color),
				fmt.Sprintf("%s using (%d+0.36*(rand(0)-0.5)):1 with points pt 7 ps 0.4 lc rgb '%s'", gnuplotQuote(file), x, color))
			tics = append(tics, fmt.Sprintf("%s %d", gnuplotQuote(rt.name), x))
			fmt.Fprintf(&s, "set label %s at first %d, graph 0.96 center\n",
				gnuplotQuote("median "+format(sc.unit, median(xs))), x)
		}
		if x == 0 {
			why := "not run"
			for _, r := range sc.skipped {
				why = "skipped: " + r
				break
			}
			if len(why) > 70 {
				why = why[:70] + "…"
			}
			fmt.Fprintf(&s, "set label %s at graph 0.5, graph 0.5 center\n", gnuplotQuote(why))
			s.WriteString("set xrange [0:1]\nset yrange [0:1]\nunset xtics\nunset ytics\nplot 2 notitle\nset xtics\nset ytics\nset autoscale y\n")
			continue
		}
		fmt.Fprintf(&s, "set xrange [0.5:%d.5]\nset xtics (%s)\n", x, strings.Join(tics, ", "))
		fmt.Fprintf(&s, "plot %s\n", strings.Join(plots, ", \\\n     "))
	}
	s.WriteString("unset multiplot\n")
	script := filepath.Join(dir, "distribution.gp")
	if err := os.WriteFile(script, []byte(s.String()), 0o644); err != nil {
		return err
	}
	_, err = b.r.must(cmdSpec{argv: []string{gp, script}, timeout: time.Minute})
	return err
}
