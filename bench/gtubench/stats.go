package main

import (
	"math/rand/v2"
	"slices"
)

type summary struct {
	n                          int
	median, p25, p75, min, max float64
}

// quantile interpolates linearly between closest ranks (R's type 7, numpy's
// default) on sorted data.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(pos)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

func summarize(xs []float64) summary {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return summary{}
	}
	return summary{
		n: len(s), median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75),
		min: s[0], max: s[len(s)-1],
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantile(s, 0.5)
}

// ratioCI is the ratio of the medians of a and b with a 95% percentile
// bootstrap interval (fixed seed, so a report is reproducible from its data).
// ok is false when either side has no data or b's median is zero.
func ratioCI(a, b []float64) (ratio, lo, hi float64, ok bool) {
	ma, mb := median(a), median(b)
	if len(a) == 0 || len(b) == 0 || mb == 0 {
		return 0, 0, 0, false
	}
	const resamples = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, 0, resamples)
	for range resamples {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		if m := median(rb); m != 0 {
			ratios = append(ratios, median(ra)/m)
		}
	}
	slices.Sort(ratios)
	return ma / mb, quantile(ratios, 0.025), quantile(ratios, 0.975), true
}
