// Command gtuconform runs the OCI runtime-tools validation programs against
// several runtimes on one machine, side by side, and reports per runtime,
// per program, and the assertions the reference runtime passes and the
// runtime under test (the first one named) does not.
//
// tests/conformance/run.sh builds the programs and drives this command;
// tests/conformance/README.md says what the figures mean.
//
// Exit status: 0 when the harness worked, whatever the runtimes scored;
// 1 when it could not run (a program could not be started, no runtime
// passed anything); 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	suite, suiteName string
	runtimes         multiFlag
	only             string
	out              string
	jobs             int
	timeout          time.Duration
	killAfter        time.Duration
	maxList          int
	command          string
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

func main() {
	var o options
	flag.StringVar(&o.suite, "suite", "", "directory holding the validation programs, runtimetest and rootfs-amd64.tar.gz")
	flag.StringVar(&o.suiteName, "suite-name", "runtime-tools", "name and version of the suite, for the report")
	flag.Var(&o.runtimes, "runtime", "NAME=PATH of a runtime; repeat; the first is the one under test")
	flag.StringVar(&o.only, "only", "", "run only the programs whose name matches this regular expression")
	flag.StringVar(&o.out, "out", "", "directory for summary.md and raw/RUNTIME/PROGRAM.{tap,stderr}")
	flag.IntVar(&o.jobs, "jobs", 4, "programs run at once, besides the lane of the cgroup programs")
	flag.DurationVar(&o.timeout, "timeout", 90*time.Second, "time limit of one program")
	flag.DurationVar(&o.killAfter, "kill-after", 10*time.Second, "grace after the time limit before SIGKILL")
	flag.IntVar(&o.maxList, "max-list", 20, "console: entries listed per program in the comparisons (0: all)")
	flag.StringVar(&o.command, "command", "", "the command line to quote in the report")
	flag.Parse()

	err := runMain(o)
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "gtuconform: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "gtuconform: %v\n", err)
		os.Exit(1)
	}
}

func runMain(o options) error {
	rts, programs, err := checkOptions(&o)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: the programs create containers")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "gtu-conformance-bundles.")
	if err != nil {
		return err
	}
	// As traversable as /tmp, where the bundles would be otherwise: a
	// container whose root maps to another uid must reach its bundle.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	sweeper, err := newCgroupSweeper("/sys/fs/cgroup", "/proc/self/cgroup")
	if err != nil {
		return err
	}
	sweeper.sweep() // what an interrupted earlier run may have left
	rn := &runner{
		suite: o.suite, tmp: tmp, raw: filepath.Join(o.out, "raw"),
		timeout: o.timeout, killAfter: o.killAfter, jobs: o.jobs, cgroups: sweeper,
	}
	for _, rt := range rts {
		// Raw output of an earlier run would mix with this one's.
		if err := os.RemoveAll(filepath.Join(rn.raw, rt.name)); err != nil {
			return err
		}
	}
	total, done := len(rts)*len(programs), 0
	rn.progress = func(r *run) {
		done++
		c := r.counts()
		fmt.Printf("[%3d/%d] %-6s %-32s %-8s %d/%d/%d  %.1fs\n", done, total, r.runtime, r.program,
			r.status(), c.passed, c.failed, c.skipped, r.duration.Seconds())
	}
	fmt.Printf("gtuconform: %d programs x %d runtimes (%s), %d lanes + 1 for the cgroup programs, %s timeout each\n",
		len(programs), len(rts), strings.Join(rtNames(rts), ", "), o.jobs, o.timeout)

	started := time.Now()
	runs, runErr := rn.runAll(ctx, rts, programs)
	wall := time.Since(started)

	// Clean up even after a failure: a crashed program leaves containers.
	cleanCtx := context.WithoutCancel(ctx)
	var notes []string
	for _, rt := range rts {
		deleted, err := cleanupContainers(cleanCtx, rt, tmp)
		if len(deleted) > 0 {
			notes = append(notes, fmt.Sprintf("%s: deleted %d container(s) that programs left behind", rt.name, len(deleted)))
		}
		if err != nil {
			notes = append(notes, err.Error())
		}
	}
	sweeper.sweep()
	if removed, stuck := sweeper.result(); removed > 0 || len(stuck) > 0 {
		n := fmt.Sprintf("removed %d cgroup directories the suite's fixed paths left behind", removed)
		if len(stuck) > 0 {
			n += "; could not remove: " + strings.Join(sortedStuck(stuck), ", ")
		}
		notes = append(notes, n)
	}
	notes = append(notes, removeBundles(tmp)...)
	if runErr != nil {
		return runErr
	}

	rep := &report{
		command: o.command, suite: o.suiteName, host: hostLine(), started: started, wall: wall,
		jobs: o.jobs, timeout: o.timeout, rts: rts, programs: programs, runs: runs, notes: notes, out: o.out,
	}
	f, err := os.Create(filepath.Join(o.out, "summary.md"))
	if err != nil {
		return err
	}
	rep.writeMarkdown(f)
	if err := f.Close(); err != nil {
		return err
	}
	rep.writeText(os.Stdout, o.maxList)

	for _, rt := range rts {
		if summarize(runs[rt.name]).passed > 0 {
			return nil
		}
	}
	return errors.New("no runtime passed a single assertion: the harness itself is broken (see raw/*/*.stderr)")
}

// checkOptions validates the command line and lists the programs to run.
func checkOptions(o *options) ([]runtimeDef, []string, error) {
	if o.suite == "" || o.out == "" || len(o.runtimes) == 0 {
		return nil, nil, usageError{errors.New("--suite, --out and at least one --runtime are required")}
	}
	var rts []runtimeDef
	seen := map[string]bool{}
	for _, spec := range o.runtimes {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || !validName.MatchString(name) || path == "" {
			return nil, nil, usageError{fmt.Errorf("--runtime %q: want NAME=PATH, NAME of letters, digits, '.', '_', '-'", spec)}
		}
		if seen[name] {
			return nil, nil, usageError{fmt.Errorf("--runtime %q: %s named twice", spec, name)}
		}
		seen[name] = true
		abs, err := exec.LookPath(path)
		if err == nil {
			abs, err = filepath.Abs(abs)
		}
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--runtime %s: %w", spec, err)}
		}
		rts = append(rts, runtimeDef{name: name, path: abs, version: runtimeVersion(abs)})
	}
	var only *regexp.Regexp
	if o.only != "" {
		var err error
		if only, err = regexp.Compile(o.only); err != nil {
			return nil, nil, usageError{fmt.Errorf("--only: %w", err)}
		}
	}
	programs, err := listPrograms(o.suite, only)
	if err != nil {
		return nil, nil, err
	}
	if len(programs) == 0 {
		return nil, nil, usageError{fmt.Errorf("--only %q matches none of the programs in %s", o.only, o.suite)}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, nil, err
	}
	if o.out, err = filepath.Abs(o.out); err != nil {
		return nil, nil, err
	}
	return rts, programs, nil
}

// listPrograms lists the executables of the suite directory but
// runtimetest (which runs inside the containers), checking that what the
// programs need next to them is there.
func listPrograms(suite string, only *regexp.Regexp) ([]string, error) {
	for _, need := range []string{"runtimetest", "rootfs-" + runtime.GOARCH + ".tar.gz"} {
		if _, err := os.Stat(filepath.Join(suite, need)); err != nil {
			return nil, fmt.Errorf("suite %s: %w", suite, err)
		}
	}
	entries, err := os.ReadDir(suite)
	if err != nil {
		return nil, err
	}
	var progs []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 || e.Name() == "runtimetest" {
			continue
		}
		if only == nil || only.MatchString(e.Name()) {
			progs = append(progs, e.Name())
		}
	}
	return progs, nil
}

func runtimeVersion(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil || line == "" {
		return "version unknown"
	}
	return line
}

func hostLine() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("kernel %s, %d CPUs", strings.TrimSpace(string(kernel)), runtime.NumCPU())
}

// removeBundles removes the programs' temporary directory, unless
// something is still mounted in it: a bundle of the mounts program holds
// binds of the host's /etc, and removing through those would empty it.
func removeBundles(tmp string) []string {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{fmt.Sprintf("left %s in place: %v", tmp, err)}
	}
	mounts := mountsUnder(mi, tmp)
	mi.Close()
	if len(mounts) > 0 {
		return []string{fmt.Sprintf("left %s in place: still mounted there: %s", tmp, strings.Join(mounts, ", "))}
	}
	if err := os.RemoveAll(tmp); err != nil {
		return []string{fmt.Sprintf("removing %s: %v", tmp, err)}
	}
	return nil
}
