package main

import "slices"

type scenario struct {
	key, title, unit string
	samples          map[string][]float64 // by runtime name, in measurement order
	skipped          map[string]string    // runtime name -> reason
	notes            []string
}

// scenarioDefs fixes the order of the report and the chart.
var scenarioDefs = []struct{ key, title, unit string }{
	{"run", "run of `true` (create+start+wait+delete), root", "ms"},
	{"run-seccomp", "run of `true` with Docker's default seccomp profile, root", "ms"},
	{"create", "create, root", "ms"},
	{"start", "start, root", "ms"},
	{"delete", "delete of a stopped container, root", "ms"},
	{"exec", "exec of `true` in a running container, root", "ms"},
	{"run-rootless", "run of `true`, rootless (full subordinate id map)", "ms"},
	{"rss", "peak RSS of the runtime's processes during run, root", "MiB"},
	{"rss-rootless", "peak RSS of the runtime's processes during run, rootless", "MiB"},
	{"rss-seccomp", "peak RSS of the runtime's processes during run with seccomp, root", "MiB"},
	{"conc-start", "N containers at once: create+start wall time", "s"},
	{"conc-peak", "N containers at once: peak memory, runtime + containers (cgroup)", "MiB"},
	{"conc-memavail", "N containers at once: peak machine memory (MemAvailable drop)", "MiB"},
	{"conc-pss", "N containers at once: Pss of processes left running", "MiB"},
	{"conc-delete", "N containers at once: delete --force wall time", "s"},
}

type results struct {
	byKey map[string]*scenario
}

func newResults() *results {
	r := &results{byKey: map[string]*scenario{}}
	for _, d := range scenarioDefs {
		r.byKey[d.key] = &scenario{key: d.key, title: d.title, unit: d.unit,
			samples: map[string][]float64{}, skipped: map[string]string{}}
	}
	return r
}

func (r *results) get(key string) *scenario { return r.byKey[key] }

// ordered returns the scenarios that have data or skips, in report order.
func (r *results) ordered() []*scenario {
	var out []*scenario
	for _, d := range scenarioDefs {
		sc := r.byKey[d.key]
		if len(sc.samples) > 0 || len(sc.skipped) > 0 {
			out = append(out, sc)
		}
	}
	return out
}

func (s *scenario) add(rt string, v float64) { s.samples[rt] = append(s.samples[rt], v) }

// skip records why a runtime is absent; a runtime that failed midway loses
// the samples it had, so that no median mixes a partial run.
func (s *scenario) skip(rt, reason string) {
	delete(s.samples, rt)
	s.skipped[rt] = reason
}

func (s *scenario) note(text string) {
	if !slices.Contains(s.notes, text) {
		s.notes = append(s.notes, text)
	}
}
