package main

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{7}, 0.5, 7},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4, 5}, 0.25, 2},
		{[]float64{1, 2, 3, 4, 5}, 1, 5},
		{[]float64{10, 20}, 0.75, 17.5},
	} {
		if got := quantile(tc.xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
}

func TestSummarizeUnsorted(t *testing.T) {
	s := summarize([]float64{5, 1, 4, 2, 3})
	if s.n != 5 || s.median != 3 || s.min != 1 || s.max != 5 || s.p25 != 2 || s.p75 != 4 {
		t.Fatalf("summarize = %+v", s)
	}
}

func TestRatioCI(t *testing.T) {
	a := []float64{10, 11, 12, 13, 14}
	b := []float64{20, 22, 24, 26, 28}
	r, lo, hi, ok := ratioCI(a, b)
	if !ok || math.Abs(r-0.5) > 1e-9 || lo > r || hi < r || lo <= 0 {
		t.Fatalf("ratioCI = %v [%v, %v] %v", r, lo, hi, ok)
	}
	if _, _, _, ok := ratioCI(a, nil); ok {
		t.Fatal("ratioCI with no data must not be ok")
	}
	if _, _, _, ok := ratioCI(a, []float64{0, 0}); ok {
		t.Fatal("ratioCI with a zero median must not be ok")
	}
}

func TestParseRuntimes(t *testing.T) {
	rts, err := parseRuntimes(options{
		runtimes: multiFlag{"gtu=/usr/sbin/runc", "runc=/usr/sbin/runc"},
		skips:    multiFlag{"gtu=build failed"},
	})
	if err != nil || len(rts) != 2 || rts[0].skip != "build failed" || rts[1].skip != "" || rts[1].path != "/usr/sbin/runc" {
		t.Fatalf("parseRuntimes = %+v, %v", rts, err)
	}
	for _, bad := range []string{"gtu", "=x", "a b=/x", "a/b=/x"} {
		if _, err := parseRuntimes(options{runtimes: multiFlag{bad}}); err == nil {
			t.Errorf("parseRuntimes(%q) accepted", bad)
		}
	}
	if _, err := parseRuntimes(options{runtimes: multiFlag{"a=/x", "a=/y"}}); err == nil {
		t.Error("a runtime named twice was accepted")
	}
}

func TestGnuplotQuoteDropsBackquotes(t *testing.T) {
	if got := gnuplotQuote("run of `true` \"x\""); got != `"run of true 'x'"` {
		t.Fatalf("gnuplotQuote = %s", got)
	}
}
