package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gophertainer/gtu/internal/mounts"
)

// runtimeDef is one runtime under test.
type runtimeDef struct {
	name, path, version string
}

// runner runs the validation programs. Every program makes its own bundle
// (a fresh temporary directory) and its own container ids (random UUIDs),
// so most of them can run at once, under any runtime. The exception is
// cgroups: see sharesCgroup.
type runner struct {
	suite     string // the programs, runtimetest and rootfs-amd64.tar.gz
	tmp       string // TMPDIR of the programs, so their bundles land here
	raw       string // raw TAP and stderr, one directory per runtime
	timeout   time.Duration
	killAfter time.Duration
	jobs      int
	cgroups   *cgroupSweeper
	progress  func(r *run)
}

// sharesCgroup reports whether a program uses one of runtime-tools v0.9.0's
// fixed cgroup paths: cgroups.AbsCgroupPath "/cgrouptest" (the linux_cgroups_*
// programs and delete_resources), cgroups.RelCgroupPath
// "testdir/cgrouptest/container" (linux_cgroups_relative_*), and the pids
// cgroup "/cgrouptest" that delete_only_create_resources makes itself. Two
// of these at once, or one under two runtimes at once, would read each
// other's limits and remove each other's cgroups, so they run one at a time.
func sharesCgroup(program string) bool {
	return strings.HasPrefix(program, "linux_cgroups_") ||
		program == "delete_resources" || program == "delete_only_create_resources"
}

type job struct {
	rt      runtimeDef
	program string
}

// runAll runs every program against every runtime: the ones that share a
// cgroup path in one lane, one after another, the rest in rn.jobs lanes.
// It returns runs[runtime][program], or the first error of the harness
// itself (a program that could not be started at all).
func (rn *runner) runAll(ctx context.Context, rts []runtimeDef, programs []string) (map[string]map[string]*run, error) {
	var shared, pooled []job
	for _, p := range programs {
		for _, rt := range rts {
			if sharesCgroup(p) {
				shared = append(shared, job{rt, p})
			} else {
				pooled = append(pooled, job{rt, p})
			}
		}
	}
	for _, rt := range rts {
		if err := os.MkdirAll(filepath.Join(rn.raw, rt.name), 0o755); err != nil {
			return nil, err
		}
	}

	runs := map[string]map[string]*run{}
	for _, rt := range rts {
		runs[rt.name] = map[string]*run{}
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	record := func(r *run, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		runs[r.runtime][r.program] = r
		if rn.progress != nil {
			rn.progress(r)
		}
	}
	lane := func(jobs <-chan job, after func()) {
		defer wg.Done()
		for j := range jobs {
			if ctx.Err() != nil {
				continue
			}
			record(rn.runOne(ctx, j.rt, j.program))
			if after != nil {
				after()
			}
		}
	}
	feed := func(js []job) <-chan job {
		ch := make(chan job, len(js))
		for _, j := range js {
			ch <- j
		}
		close(ch)
		return ch
	}

	pool := feed(pooled)
	for range max(rn.jobs, 1) {
		wg.Add(1)
		go lane(pool, nil)
	}
	wg.Add(1)
	go lane(feed(shared), rn.cgroups.sweep)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return runs, firstErr
}

// runOne runs one program under timeout(1), which puts it in its own
// process group and signals the whole group, so the runtime processes the
// program started go with it; containers it left behind are deleted at
// the end (cleanupContainers).
func (rn *runner) runOne(ctx context.Context, rt runtimeDef, program string) (*run, error) {
	base := filepath.Join(rn.raw, rt.name, program)
	stdout, err := os.Create(base + ".tap")
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.Create(base + ".stderr")
	if err != nil {
		return nil, err
	}
	defer stderr.Close()

	// Each program gets a private mount namespace. linux_ns_itype asks for a
	// container without one, which makes runc mount the bundle's /proc, /dev
	// and /sys in the caller's namespace and leave them there (measured:
	// runc 1.1.5); in a namespace of its own they go away with the program.
	// The host's mounts are all private here, so the results are the same
	// with and without it (measured).
	cmd := exec.CommandContext(ctx, "timeout", "-k", seconds(rn.killAfter), seconds(rn.timeout),
		"unshare", "--mount", "--propagation", "private", "--", filepath.Join(rn.suite, program))
	// On an interrupt, TERM timeout(1) itself, which passes it on to the
	// program's process group; the default SIGKILL would orphan the program.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = rn.killAfter + 5*time.Second
	cmd.Dir = rn.suite // the programs open rootfs-amd64.tar.gz and runtimetest from here
	cmd.Env = append(os.Environ(), "RUNTIME="+rt.path, "TMPDIR="+rn.tmp)
	// Files, not pipes: a container that inherits the program's stdio
	// must not keep Wait from returning.
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Run()
	r := &run{runtime: rt.name, program: program, timeout: rn.timeout, duration: time.Since(start)}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.exitCode = exitErr.ExitCode()
	default:
		return nil, fmt.Errorf("%s under %s: %w", program, rt.name, err)
	}
	// timeout(1) exits 124 when it sent the first signal and 128+9 when it
	// had to kill; 125-127 mean it could not run the program at all.
	switch r.exitCode {
	case 124, 137:
		r.timedOut = r.duration >= rn.timeout
	case 125, 126, 127:
		msg, _ := os.ReadFile(base + ".stderr")
		return nil, fmt.Errorf("%s under %s: timeout exited %d: %s", program, rt.name, r.exitCode, strings.TrimSpace(string(msg)))
	}

	r.stderr, err = readTail(base+".stderr", 64<<10)
	if err != nil {
		return nil, err
	}
	if r.stderr == "" {
		os.Remove(base + ".stderr")
	}
	f, err := os.Open(base + ".tap")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r.tap, r.tapErr = parseTAP(f)
	return r, nil
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// readTail returns at most the last n bytes of a file.
func readTail(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() > n {
		if _, err := f.Seek(-n, io.SeekEnd); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(f)
	return string(b), err
}

// cleanupContainers force-deletes the containers of rt whose bundle lies
// under tmp: the ones a program left behind when it crashed or timed out.
// Containers of anyone else on the machine are left alone.
func cleanupContainers(ctx context.Context, rt runtimeDef, tmp string) (deleted []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, rt.path, "list", "--format", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("%s list --format json: %w", rt.name, err)
	}
	var list []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("%s list --format json: %w", rt.name, err)
	}
	var errs []error
	for _, c := range list {
		if !strings.HasPrefix(c.Bundle, tmp+string(filepath.Separator)) {
			continue
		}
		if out, err := exec.CommandContext(ctx, rt.path, "delete", "--force", c.ID).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s delete --force %s: %w: %s", rt.name, c.ID, err, strings.TrimSpace(string(out))))
			continue
		}
		deleted = append(deleted, c.ID)
	}
	return deleted, errors.Join(errs...)
}

// mountsUnder lists the mount points at or below dir, from mountinfo.
// A bundle directory must never be removed while something is mounted in
// it: the mounts program binds the host's /etc into its bundles.
func mountsUnder(r io.Reader, dir string) []string { return mounts.UnderReader(r, dir) }
