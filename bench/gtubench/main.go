// Command gtubench measures gtu against runc (and crun, where it runs) on
// one bundle, interleaving the runtimes run by run, and writes a markdown
// report and a PNG of the distributions. bench/run.sh builds and drives it;
// bench/README.md says what each figure measures.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	short        bool
	runtimes     multiFlag
	skips        multiFlag
	runs         int
	warmup       int
	concurrency  int
	rounds       int
	only         string
	out          string
	workdir      string
	busybox      string
	specRunc     string
	command      string
	rootless     bool
	rootlessUser string
}

type rtDef struct {
	name, path   string
	root         string // --root for the root scenarios
	rootlessRoot string // --root for the rootless scenarios
	version      string
	skip         string // why the runtime is left out of every scenario
	rootlessSkip string // why it is left out of the rootless scenarios
}

type bench struct {
	ctx    context.Context
	opts   options
	r      *reaper
	kit    *kit
	rts    []*rtDef
	res    *results
	seq    atomic.Int64
	nobody *syscall.Credential // the rootless scenario's user (-rootless-user)
	// rootlessName is that user's name.
	rootlessName string
	nobEnv       []string
	started      time.Time
	memCg        string // v1 memory cgroup /gtu-bench, "" when there is none
	memCgWhy     string
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "spawn" {
		spawnMain(os.Args[2:])
	}
	if len(os.Args) > 1 && os.Args[1] == "cleanup" {
		fs := flag.NewFlagSet("cleanup", flag.ExitOnError)
		workdir := fs.String("workdir", "", "work directory of an earlier run")
		_ = fs.Parse(os.Args[2:])
		if *workdir == "" {
			fmt.Fprintln(os.Stderr, "gtubench cleanup: --workdir is required")
			os.Exit(2)
		}
		if err := cleanup(*workdir, nil); err != nil {
			fmt.Fprintln(os.Stderr, "gtubench cleanup:", err)
			os.Exit(1)
		}
		return
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	var o options
	fs := flag.NewFlagSet("gtubench", flag.ExitOnError)
	fs.BoolVar(&o.short, "short", false, "few runs (a CI smoke test); still writes every output")
	fs.Var(&o.runtimes, "runtime", "NAME=PATH of a runtime to measure (repeatable; default gtu=bin/gtu, runc, and crun if installed)")
	fs.Var(&o.skips, "skip", "NAME=REASON: report runtime NAME as skipped (e.g. its build failed)")
	fs.IntVar(&o.runs, "runs", 100, "measured runs per runtime in each latency scenario")
	fs.IntVar(&o.warmup, "warmup", 5, "discarded warm-up runs per runtime before each latency scenario")
	fs.IntVar(&o.concurrency, "concurrency", 100, "containers started at once in the concurrent scenario")
	fs.IntVar(&o.rounds, "rounds", 10, "rounds per runtime of the concurrent scenario")
	fs.StringVar(&o.only, "only", "", "comma-separated scenario groups to run: run,seccomp,steps,exec,rootless,concurrent (default all)")
	fs.StringVar(&o.out, "out", "bench/results", "directory for results.md, samples.csv and distribution.png")
	fs.StringVar(&o.workdir, "workdir", "", "empty work directory to use (default: a new one under /tmp, removed at the end)")
	fs.StringVar(&o.busybox, "busybox", "/bin/busybox", "static busybox for the rootfs")
	fs.StringVar(&o.specRunc, "spec-runc", "/usr/sbin/runc", "runc used only to generate config.json (`runc spec`)")
	fs.StringVar(&o.command, "command", "", "command line to record in the report")
	fs.BoolVar(&o.rootless, "rootless", true, "also measure `run` as an unprivileged user (-rootless-user)")
	fs.StringVar(&o.rootlessUser, "rootless-user", "gtutest", "the unprivileged user of the rootless scenario; with subordinate ids both runtimes get its full map (nobody, with one id, if the user is missing)")
	_ = fs.Parse(args)
	if o.short {
		// --short lowers the counts that were not given explicitly.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, p := range map[string]*int{"runs": &o.runs, "warmup": &o.warmup, "rounds": &o.rounds} {
			if !set[name] {
				*p = map[string]int{"runs": 5, "warmup": 1, "rounds": 1}[name]
			}
		}
	}
	if o.command == "" {
		o.command = strings.Join(os.Args, " ")
	}
	os.Exit(mainRun(o))
}

func mainRun(o options) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "gtubench: must run as root (the rootless scenario drops to its user by itself)")
		return 2
	}
	rts, err := parseRuntimes(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gtubench:", err)
		return 2
	}
	ownWorkdir := o.workdir == ""
	if ownWorkdir {
		if o.workdir, err = os.MkdirTemp("", "gtu-bench."); err != nil {
			fmt.Fprintln(os.Stderr, "gtubench:", err)
			return 1
		}
	}
	code := func() int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
		b := &bench{ctx: ctx, opts: o, rts: rts, res: newResults(), started: time.Now()}
		if err := b.setup(); err != nil {
			fmt.Fprintln(os.Stderr, "gtubench:", err)
			_ = cleanup(o.workdir, b.r)
			return 1
		}
		runErr := b.scenarios()
		if err := cleanup(o.workdir, b.r); err != nil {
			fmt.Fprintln(os.Stderr, "gtubench: cleanup:", err)
		}
		if errors.Is(runErr, errInterrupted) {
			fmt.Fprintln(os.Stderr, "gtubench: interrupted; containers, cgroups and temporary files removed, no report written")
			return 130
		}
		if runErr != nil {
			fmt.Fprintln(os.Stderr, "gtubench:", runErr)
			return 1
		}
		if err := b.report(); err != nil {
			fmt.Fprintln(os.Stderr, "gtubench: report:", err)
			return 1
		}
		return 0
	}()
	if ownWorkdir {
		_ = os.RemoveAll(o.workdir)
	}
	return code
}

func parseRuntimes(o options) ([]*rtDef, error) {
	specs := []string(o.runtimes)
	if len(specs) == 0 {
		specs = []string{"gtu=bin/gtu", "runc=/usr/sbin/runc"}
		if _, err := os.Stat("/usr/bin/crun"); err == nil {
			specs = append(specs, "crun=/usr/bin/crun")
		}
	}
	var rts []*rtDef
	seen := map[string]bool{}
	for _, s := range specs {
		name, path, ok := strings.Cut(s, "=")
		if !ok || !validName.MatchString(name) || path == "" {
			return nil, fmt.Errorf("--runtime %q: want NAME=PATH, NAME of letters, digits, '_' or '.'", s)
		}
		if seen[name] {
			return nil, fmt.Errorf("--runtime %q: runtime %s given twice", s, name)
		}
		seen[name] = true
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		rts = append(rts, &rtDef{name: name, path: abs})
	}
	for _, s := range o.skips {
		name, reason, _ := strings.Cut(s, "=")
		for _, rt := range rts {
			if rt.name == name {
				rt.skip = reason
			}
		}
	}
	return rts, nil
}

// state of a run kept on disk, so that `gtubench cleanup` (run.sh's trap)
// can finish the job after a crash or a SIGKILL of the driver.
type runtimeRecord struct {
	Name, Path, Root, RootlessRoot string
}

func (b *bench) setup() error {
	w := b.opts.workdir
	if err := os.Chmod(w, 0o755); err != nil {
		return err
	}
	logs := filepath.Join(w, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	uid, gid := -1, -1
	if b.opts.rootless && b.want("rootless") {
		for _, name := range []string{b.opts.rootlessUser, "nobody"} {
			if u, err := user.Lookup(name); err == nil {
				uid, _ = strconv.Atoi(u.Uid)
				gid, _ = strconv.Atoi(u.Gid)
				b.rootlessName = name
				break
			}
		}
	}
	// The rootless roots sit below directories anyone can traverse.
	for _, d := range []string{"roots", "roots/rootless"} {
		if err := os.MkdirAll(filepath.Join(w, d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(w, d), 0o755); err != nil {
			return err
		}
	}
	var recs []runtimeRecord
	for _, rt := range b.rts {
		rt.root = filepath.Join(w, "roots", "root", rt.name)
		rt.rootlessRoot = filepath.Join(w, "roots", "rootless", rt.name)
		if err := os.MkdirAll(rt.root, 0o700); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.MkdirAll(rt.rootlessRoot, 0o700); err != nil {
				return err
			}
			if err := os.Chown(rt.rootlessRoot, uid, gid); err != nil {
				return err
			}
		}
		recs = append(recs, runtimeRecord{rt.name, rt.path, rt.root, rt.rootlessRoot})
		rt.version = versionOf(rt.path)
	}
	raw, _ := json.Marshal(recs)
	if err := os.WriteFile(filepath.Join(w, "runtimes.json"), raw, 0o644); err != nil {
		return err
	}
	if uid >= 0 {
		xdg := filepath.Join(w, "xdg-rootless")
		if err := os.MkdirAll(xdg, 0o700); err != nil {
			return err
		}
		if err := os.Chown(xdg, uid, gid); err != nil {
			return err
		}
		b.nobody = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		b.nobEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + xdg,
			"XDG_RUNTIME_DIR=" + xdg, "USER=" + b.rootlessName, "LOGNAME=" + b.rootlessName, "LANG=C"}
	}
	var err error
	// Everything that uses os/exec (runc spec, busybox --list, --version)
	// happens before the reaper starts.
	if b.kit, err = newKit(filepath.Join(w, "bundle"), b.opts.busybox, b.opts.specRunc, b.rootlessName, uid, gid); err != nil {
		return err
	}
	b.setupMemCgroup()
	if b.r, err = startReaper(logs); err != nil {
		return err
	}
	return nil
}

func (b *bench) want(group string) bool {
	if b.opts.only == "" {
		return true
	}
	for _, g := range strings.Split(b.opts.only, ",") {
		if strings.TrimSpace(g) == group {
			return true
		}
	}
	return false
}

// cmd builds the command line of one runtime invocation.
func (b *bench) cmd(rt *rtDef, rootless bool, args ...string) cmdSpec {
	c := cmdSpec{argv: append([]string{rt.path, "--root", rt.root}, args...)}
	if rootless {
		c.argv[2] = rt.rootlessRoot
		c.cred, c.env = b.nobody, b.nobEnv
	}
	return c
}

func (b *bench) newID(rt *rtDef, tag string) string {
	return fmt.Sprintf("%s-%s%d", rt.name, tag, b.seq.Add(1))
}

// active lists the runtimes not skipped as a whole, in the order given.
func (b *bench) active() []*rtDef {
	var out []*rtDef
	for _, rt := range b.rts {
		if rt.skip == "" {
			out = append(out, rt)
		}
	}
	return out
}

func (b *bench) scenarios() error {
	fmt.Printf("gtubench: %d measured runs (+%d warm-up) per runtime per latency scenario, %d rounds of %d concurrent containers\n",
		b.opts.runs, b.opts.warmup, b.opts.rounds, b.opts.concurrency)
	b.probe()
	steps := []struct {
		group string
		fn    func() error
	}{
		{"run", b.runScenario},
		{"seccomp", b.seccompScenario},
		{"steps", b.stepsScenario},
		{"exec", b.execScenario},
		{"rootless", b.rootlessScenario},
		{"concurrent", b.concurrentScenario},
	}
	for _, s := range steps {
		if !b.want(s.group) {
			continue
		}
		if err := s.fn(); err != nil {
			return err
		}
		if err := interrupted(b.ctx); err != nil {
			return err
		}
	}
	return nil
}
