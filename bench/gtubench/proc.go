package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The driver makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), as
// containerd-shim and conmon do, so that a detached container's init is
// reparented to it when `create` exits, instead of to PID 1 (the VM's agent
// here, which must not inherit our zombies). Every child is therefore started
// through spawn and reaped by one goroutine calling wait4(-1): os/exec cannot
// be used once the reaper runs, because its Wait would race with wait4(-1)
// and see ECHILD.
//
// wait4 also hands back each child's rusage. Its ru_maxrss is what GNU
// `time -f %M` prints: the largest resident set of the process itself (kept
// across execve) and of every descendant it waited for, recursively. Orphans
// that end up reaped here are accounted separately (see takeOrphans), so a
// runtime that double-forks cannot hide its helpers' memory from the RSS
// figure.

const prSetChildSubreaper = 36

type exitInfo struct {
	status syscall.WaitStatus
	rusage syscall.Rusage
	end    time.Time
}

type reaper struct {
	mu      sync.Mutex
	waiting map[int]chan exitInfo
	// orphanMaxRSS is the largest ru_maxrss (KiB) of the processes reaped
	// here that spawn did not start, since the last takeOrphans.
	orphanMaxRSS int64
	orphans      int
	devnull      *os.File
	logDir       string
}

func startReaper(logDir string) (*reaper, error) {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return nil, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	r := &reaper{waiting: map[int]chan exitInfo{}, devnull: devnull, logDir: logDir}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		// The ticker is only a safety net: SIGCHLD notifications coalesce,
		// and each wake-up reaps everything that has exited.
		tick := time.NewTicker(50 * time.Millisecond)
		for {
			select {
			case <-sig:
			case <-tick.C:
			}
			r.reapAll()
		}
	}()
	return r, nil
}

func (r *reaper) reapAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		end := time.Now()
		if c, ok := r.waiting[pid]; ok {
			delete(r.waiting, pid)
			c <- exitInfo{status: ws, rusage: ru, end: end}
			continue
		}
		r.orphans++
		r.orphanMaxRSS = max(r.orphanMaxRSS, ru.Maxrss)
	}
}

// takeOrphans returns and resets the orphan accounting.
func (r *reaper) takeOrphans() (n int, maxRSSKiB int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, maxRSSKiB = r.orphans, r.orphanMaxRSS
	r.orphans, r.orphanMaxRSS = 0, 0
	return n, maxRSSKiB
}

type cmdSpec struct {
	argv    []string
	cred    *syscall.Credential
	env     []string // nil: a minimal root environment
	stdout  bool     // capture stdout into result.stdout
	timeout time.Duration
	// isolate starts the command through a fresh `gtubench spawn` (see
	// spawnMain), so that its ru_maxrss is its own, not this driver's.
	isolate bool
}

type result struct {
	elapsed   time.Duration
	maxRSSKiB int64
	status    syscall.WaitStatus
	stdout    string
	stderr    string
}

func (res result) ok() bool { return res.status.Exited() && res.status.ExitStatus() == 0 }

// failure describes a command that did not exit 0, with its stderr.
func (res result) failure(argv []string) error {
	how := fmt.Sprintf("exit status %d", res.status.ExitStatus())
	if res.status.Signaled() {
		how = "killed by " + res.status.Signal().String()
	}
	msg := strings.TrimSpace(res.stderr)
	if len(msg) > 300 {
		msg = msg[len(msg)-300:]
	}
	if msg == "" {
		return fmt.Errorf("%s: %s", strings.Join(argv, " "), how)
	}
	return fmt.Errorf("%s: %s: %s", strings.Join(argv, " "), how, oneLine(msg))
}

func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(strings.Join(lines, " | "))
}

var defaultEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}

// run starts a command in its own process group (so that Ctrl-C reaches only
// the driver, which then cleans up in order) and waits for it. The elapsed
// time runs from just before fork to the moment wait4 returned it.
func (r *reaper) run(c cmdSpec) (result, error) {
	errf, err := os.CreateTemp(r.logDir, "stderr-")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	out := r.devnull
	var outf *os.File
	if c.stdout {
		if outf, err = os.CreateTemp(r.logDir, "stdout-"); err != nil {
			return result{}, err
		}
		defer os.Remove(outf.Name())
		defer outf.Close()
		out = outf
	}
	env := c.env
	if env == nil {
		env = defaultEnv
	}
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{r.devnull.Fd(), out.Fd(), errf.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Credential: c.cred},
	}
	argv := c.argv
	var report *os.File
	if c.isolate {
		self, err := os.Executable()
		if err != nil {
			return result{}, err
		}
		rp, wp, err := os.Pipe()
		if err != nil {
			return result{}, err
		}
		defer rp.Close()
		defer wp.Close()
		report = rp
		argv = append([]string{self, "spawn", "--"}, c.argv...)
		attr.Files = append(attr.Files, wp.Fd())
	}
	done := make(chan exitInfo, 1)
	r.mu.Lock()
	start := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, attr)
	if err == nil {
		r.waiting[pid] = done
	}
	r.mu.Unlock()
	if err != nil {
		return result{}, fmt.Errorf("start %s: %w", c.argv[0], err)
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	var ex exitInfo
	select {
	case ex = <-done:
	case <-time.After(timeout):
		// Our own child's process group, by its id.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		ex = <-done
		return result{}, fmt.Errorf("%s: timed out after %s", strings.Join(c.argv, " "), timeout)
	}
	res := result{elapsed: ex.end.Sub(start), maxRSSKiB: ex.rusage.Maxrss, status: ex.status}
	if report != nil {
		if err := readSpawnReport(report, &res); err != nil {
			return result{}, fmt.Errorf("%s: %w", strings.Join(c.argv, " "), err)
		}
	}
	res.stderr = readHead(errf.Name(), 4096)
	if outf != nil {
		res.stdout = readHead(outf.Name(), 1<<20)
	}
	return res, nil
}

func readHead(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// must runs a command and turns a non-zero exit into an error.
func (r *reaper) must(c cmdSpec) (result, error) {
	res, err := r.run(c)
	if err != nil {
		return res, err
	}
	if !res.ok() {
		return res, res.failure(c.argv)
	}
	return res, nil
}

var errInterrupted = errors.New("interrupted")

func interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}
