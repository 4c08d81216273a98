package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// concurrentScenario starts N detached `sleep` containers at once (one
// goroutine per container doing create then start), for each runtime in
// turn, rounds times, alternating which runtime goes first. Figures per round:
//   - conc-start:   wall time from the first create to the last start returning;
//   - conc-peak:    peak memory charged to the v1 memory cgroup /gtu-bench
//     during that time, less its usage just before: every create and start
//     command is started inside /gtu-bench/runner (a static busybox sh moves
//     itself there, then execs the runtime), and the containers live in
//     /gtu-bench/<id>, so this counts the anonymous memory, page tables,
//     kernel stacks, slab and files written of the runtime's processes (with
//     whatever they fork) and of the containers, and nothing else on the host;
//   - conc-memavail: the largest drop of MemAvailable (sampled every 5 ms)
//     below its value just before: the whole machine, so noisier;
//   - conc-pss:     once all are started, the summed Pss of every process left
//     under the driver (a subreaper, so that is the containers' `sleep`s plus
//     anything the runtime keeps running per container, e.g. a monitor);
//   - conc-delete:  wall time of N concurrent `delete --force`.
func (b *bench) concurrentScenario() error {
	n := b.opts.concurrency
	fmt.Printf("scenario: %d containers started concurrently\n", n)
	keys := []string{"conc-start", "conc-peak", "conc-memavail", "conc-pss", "conc-delete"}
	if b.memCg == "" {
		b.res.get("conc-peak").note("not measured: " + b.memCgWhy)
	}
	rts := b.active()
	failed := map[string]string{}
	for round := range b.opts.rounds {
		for j := range rts {
			rt := rts[(round+j)%len(rts)]
			if _, bad := failed[rt.name]; bad {
				continue
			}
			if err := interrupted(b.ctx); err != nil {
				return err
			}
			vals, err := b.concurrentRound(rt, n)
			if err != nil {
				failed[rt.name] = err.Error()
				fmt.Printf("  %s failed: %v\n", rt.name, err)
				continue
			}
			for i, k := range keys {
				if k != "conc-peak" || b.memCg != "" {
					b.res.get(k).add(rt.name, vals[i])
				}
			}
			fmt.Printf("  %-6s round %d: start %.2f s, cgroup peak %.0f MiB, MemAvailable drop %.0f MiB, Pss left %.0f MiB, delete %.2f s\n",
				rt.name, round+1, vals[0], vals[1], vals[2], vals[3], vals[4])
		}
	}
	for name, reason := range failed {
		for _, k := range keys {
			b.res.get(k).skip(name, reason)
		}
	}
	return interrupted(b.ctx)
}

func (b *bench) concurrentRound(rt *rtDef, n int) ([5]float64, error) {
	var out [5]float64
	ids := make([]string, n)
	dirs := make([]string, n)
	for i := range ids {
		ids[i] = b.newID(rt, "c")
		var err error
		if dirs[i], err = b.kit.bundle(ids[i], []string{"sleep", "3600"}, false); err != nil {
			return out, err
		}
	}
	defer func() {
		for _, id := range ids {
			b.kit.dropBundle(id)
		}
	}()
	parallel := func(f func(i int) error) error {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = f(i) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	// Let the previous round's memory settle before taking the baseline.
	time.Sleep(500 * time.Millisecond)
	cgBase, err := b.resetMemPeak()
	if err != nil {
		return out, err
	}
	sampler := startMemSampler()
	t0 := time.Now()
	startErr := parallel(func(i int) error {
		c := b.inRunner(b.cmd(rt, false, "create", "--bundle", dirs[i], ids[i]))
		c.timeout = 3 * time.Minute
		if _, err := b.r.must(c); err != nil {
			return err
		}
		c = b.inRunner(b.cmd(rt, false, "start", ids[i]))
		c.timeout = 3 * time.Minute
		_, err := b.r.must(c)
		return err
	})
	startDur := time.Since(t0)
	availKiB := sampler.stop()
	cgPeak := b.memPeak(cgBase)
	// Processes that are merely exiting are not "left running".
	time.Sleep(200 * time.Millisecond)
	pss := descendantsPssKiB()
	t1 := time.Now()
	delErr := parallel(func(i int) error {
		c := b.cmd(rt, false, "delete", "--force", ids[i])
		c.timeout = 3 * time.Minute
		_, err := b.r.must(c)
		return err
	})
	delDur := time.Since(t1)
	if startErr != nil || delErr != nil {
		// Whatever is left is removed one by one, unmeasured.
		for _, id := range ids {
			b.forceDelete(rt, false, id)
		}
	}
	b.waitNoDescendants(10 * time.Second)
	if startErr != nil {
		return out, startErr
	}
	if delErr != nil {
		return out, delErr
	}
	out = [5]float64{startDur.Seconds(), float64(cgPeak) / (1 << 20), float64(availKiB) / 1024, float64(pss) / 1024, delDur.Seconds()}
	return out, nil
}

type memSampler struct {
	done chan struct{}
	res  chan int64
}

// startMemSampler records MemAvailable now and its minimum every 5 ms until
// stop, which returns the largest drop in KiB.
func startMemSampler() *memSampler {
	s := &memSampler{done: make(chan struct{}), res: make(chan int64)}
	base := memAvailableKiB()
	go func() {
		low := base
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				low = min(low, memAvailableKiB())
			case <-s.done:
				low = min(low, memAvailableKiB())
				s.res <- max(0, base-low)
				return
			}
		}
	}()
	return s
}

func (s *memSampler) stop() int64 { close(s.done); return <-s.res }

func memAvailableKiB() int64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// descendants lists the pids below the driver in the process tree.
func descendants() []int {
	self := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may contain spaces and parentheses: the fields
		// after the last ')' are "state ppid ...".
		i := bytes.LastIndexByte(raw, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(raw[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := children[self]
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

func descendantsPssKiB() int64 {
	var total int64
	for _, pid := range descendants() {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
				v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				total += v
				break
			}
		}
		f.Close()
	}
	return total
}

// waitNoDescendants waits until every container process of a round is gone
// (killed by delete --force and reaped), so the next round starts clean.
func (b *bench) waitNoDescendants(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && len(descendants()) > 0 {
		time.Sleep(20 * time.Millisecond)
	}
}

const memHierarchy = "/sys/fs/cgroup/memory"

// setupMemCgroup makes the v1 memory cgroups /gtu-bench and
// /gtu-bench/runner, or says why it cannot (a cgroup v2-only host).
func (b *bench) setupMemCgroup() {
	top := filepath.Join(memHierarchy, cgroupParent)
	if _, err := os.Stat(filepath.Join(memHierarchy, "memory.max_usage_in_bytes")); err != nil {
		b.memCgWhy = "no cgroup v1 memory hierarchy at " + memHierarchy
		return
	}
	if err := os.MkdirAll(filepath.Join(top, "runner"), 0o755); err != nil {
		b.memCgWhy = err.Error()
		return
	}
	b.memCg = top
}

// inRunner wraps a command so that it runs in the memory cgroup
// /gtu-bench/runner: busybox sh writes its own pid there and execs the
// command (a static shell costs well under a millisecond, alike for every
// runtime). Go cannot start a child in a v1 cgroup (CLONE_INTO_CGROUP is v2).
func (b *bench) inRunner(c cmdSpec) cmdSpec {
	if b.memCg == "" {
		return c
	}
	procs := filepath.Join(b.memCg, "runner", "cgroup.procs")
	c.argv = append([]string{b.opts.busybox, "sh", "-c", `echo $$ > "$0" && exec "$@"`, procs}, c.argv...)
	return c
}

// resetMemPeak resets the high-water mark of /gtu-bench and returns its
// usage in bytes right after.
func (b *bench) resetMemPeak() (int64, error) {
	if b.memCg == "" {
		return 0, nil
	}
	if err := os.WriteFile(filepath.Join(b.memCg, "memory.max_usage_in_bytes"), []byte("0"), 0); err != nil {
		return 0, err
	}
	return readInt(filepath.Join(b.memCg, "memory.usage_in_bytes")), nil
}

func (b *bench) memPeak(base int64) int64 {
	if b.memCg == "" {
		return 0
	}
	return max(0, readInt(filepath.Join(b.memCg, "memory.max_usage_in_bytes"))-base)
}

func readInt(path string) int64 {
	raw, _ := os.ReadFile(path)
	v, _ := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	return v
}
