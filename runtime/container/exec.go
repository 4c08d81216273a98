package container

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/internal/nsenter"
	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/runtime/state"
)

// ExecOptions are exec's flags.
type ExecOptions struct {
	ID            string
	ProcessFile   string // --process: a JSON process replacing config.json's
	Process       spec.ExecOptions
	ConsoleSocket string
	PidFile       string
	Detach        bool
	PreserveFDs   int
	IgnorePaused  bool
	ProcessLabel  string
	AppArmor      string
	// Cgroup are --cgroup values, [CONTROLLERS:]PATH: run in an existing
	// sub-cgroup of the container's, for the named v1 controllers
	// ("cpu,cpuacct:sub") or for all of them (and cgroup2) without a prefix.
	Cgroup []string
}

// nsTypes are the namespaces an exec'd process joins when the container's
// init is in a different one than gtu: /proc/PID/ns names and clone flags.
var nsTypes = []struct {
	name string
	flag uintptr
}{
	{"user", unix.CLONE_NEWUSER}, {"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID},
	{"net", unix.CLONE_NEWNET}, {"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS},
	{"cgroup", unix.CLONE_NEWCGROUP}, {"time", unix.CLONE_NEWTIME},
}

// Exec runs a new process inside a running container: it joins every
// namespace of the container's init, its cgroup, and gets the container's
// process settings with the flags applied. It returns the process's exit
// code, or 0 at once with Detach.
//
// The namespaces are entered by runtime/internal/nsenter, a small C helper
// run from a sealed memfd, since a Go process cannot join a user or mount
// namespace; it then execs the sealed gtu image, whose init stage finishes
// the job in Go (see runtime/initproc/exec.go).
func Exec(g Global, o ExecOptions) (int, error) {
	if err := unsupportedExecFlags(o); err != nil {
		return 0, err
	}
	// The lock is not held while the process starts: with --ignore-paused
	// it starts frozen, and `gtu resume` must be able to take it.
	image := takeSealed()
	h, plan, err := prepareExec(g, o)
	if err != nil {
		return 0, err
	}
	x := &execution{h: h, plan: plan, image: image}
	defer x.closeAll()
	var sigs *relay
	if !o.Detach {
		sigs = catchSignals()
	}
	pid, err := x.start(g, o)
	if err != nil {
		return 0, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			return 0, err
		}
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return 0, err
	}
	if o.Detach {
		_ = proc.Release()
		return 0, nil
	}
	master := x.master
	x.master = nil
	return foreground(proc, master, sigs)
}

// prepareExec checks the container's status and plans the process, under
// the container's lock.
func prepareExec(g Global, o ExecOptions) (*handle, *spec.Plan, error) {
	h, err := open(g, o.ID, false)
	if err != nil {
		return nil, nil, err
	}
	defer h.close()
	switch st := h.status(); {
	case st == Stopped:
		return nil, nil, wrongStatus("cannot exec in a stopped container")
	case st == Paused && !o.IgnorePaused:
		return nil, nil, wrongStatus("cannot exec in a paused container (use --ignore-paused)")
	}
	plan, err := execPlan(g, h.st.Bundle, o)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case plan.Process.Terminal && o.ConsoleSocket == "" && o.Detach:
		return nil, nil, errors.New("--tty with --detach needs --console-socket")
	case !plan.Process.Terminal && o.ConsoleSocket != "":
		return nil, nil, errors.New("--console-socket given but the process has no terminal (add --tty)")
	}
	return h, plan, nil
}

func unsupportedExecFlags(o ExecOptions) error {
	switch {
	case o.ProcessLabel != "":
		return fmt.Errorf("%w: --process-label: SELinux is not available on this host", ErrUnsupported)
	case o.AppArmor != "":
		return fmt.Errorf("%w: --apparmor: AppArmor is not available on this host", ErrUnsupported)
	case o.PreserveFDs < 0:
		return fmt.Errorf("--preserve-fds %d: must not be negative", o.PreserveFDs)
	}
	return nil
}

// execPlan builds the process from config.json's (or --process) and flags.
func execPlan(g Global, bundle string, o ExecOptions) (*spec.Plan, error) {
	base, err := spec.LoadExecBase(bundle)
	if err != nil {
		return nil, err
	}
	var proc *specs.Process
	if o.ProcessFile != "" {
		b, err := os.ReadFile(o.ProcessFile)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		proc = new(specs.Process)
		if err := json.Unmarshal(b, proc); err != nil {
			return nil, fmt.Errorf("--process %s: %w", o.ProcessFile, err)
		}
	}
	bounding, err := boundingCaps(procRoot)
	if err != nil {
		return nil, err
	}
	po := o.Process
	po.BoundingCaps = bounding
	p, err := spec.ExecProcess(base.Process, proc, po)
	if err != nil {
		if o.ProcessFile != "" {
			return nil, fmt.Errorf("--process %s: %w", o.ProcessFile, err)
		}
		return nil, err
	}
	p.ID = o.ID
	// The exec'd process gets the container's filter, as in runc.
	if p.Seccomp, err = compileSeccomp(g, base.Seccomp()); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return p, nil
}

// execution holds what an exec opened, to close it in one place.
type execution struct {
	h      *handle
	plan   *spec.Plan
	files  []*os.File         // passed to the helper; closed after it started
	master *os.File           // our end of the internal console socket
	child  int                // pid of the exec'd process, once known
	image  <-chan sealedImage // from sealInitImage; received once, by addSelf
}

func (x *execution) closeAll() {
	for _, f := range x.files {
		f.Close()
	}
	x.files = nil
	if x.master != nil {
		x.master.Close()
	}
}

// add passes f to the helper and returns its descriptor number there.
func (x *execution) add(f *os.File) int {
	x.files = append(x.files, f)
	return 2 + len(x.files)
}

// start runs nsenter and the handshake; it returns the new process's pid.
func (x *execution) start(g Global, o ExecOptions) (pid int, err error) {
	for i := 0; i < o.PreserveFDs; i++ {
		// Not ours to close: the caller passed them.
		x.files = append(x.files, os.NewFile(uintptr(3+i), "preserved"))
	}
	preserved := len(x.files)
	defer func() {
		if err != nil && x.child > 0 {
			_ = unix.Kill(x.child, unix.SIGKILL)
			_, _ = unix.Wait4(x.child, nil, 0, nil)
		}
	}()
	syncParent, syncChild, err := socketpair("sync")
	if err != nil {
		return 0, err
	}
	defer syncParent.Close()
	env := []string{fmt.Sprintf("%s=%d", protocol.EnvSyncFD, x.add(syncChild)),
		fmt.Sprintf("%s=%d", protocol.EnvPreserve, o.PreserveFDs), protocol.GoEnv}
	if x.plan.Process.Terminal {
		l := &launched{}
		csock, err := l.consoleSocket(o.ConsoleSocket)
		if err != nil {
			return 0, err
		}
		x.master = l.master
		env = append(env, fmt.Sprintf("%s=%d", protocol.EnvConsoleFD, x.add(csock)))
	}
	if x.plan.Seccomp != nil && x.plan.Seccomp.Listener {
		lsock, err := listenerSocket(x.plan.Seccomp.ListenerPath)
		if err != nil {
			return 0, err
		}
		env = append(env, fmt.Sprintf("%s=%d", protocol.EnvSeccompFD, x.add(lsock)))
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer errR.Close()
	errFD := x.add(errW)
	exeFD, err := x.addSelf()
	if err != nil {
		return 0, err
	}
	joins, err := x.addNamespaces()
	if err != nil {
		return 0, err
	}
	tasks, cg2, err := x.addCgroup(g, o.Cgroup)
	if err != nil {
		return 0, err
	}
	helper, err := nsenter.Open()
	if err != nil {
		return 0, err
	}
	helperFD := x.add(helper)
	args, err := nsenter.Args(errFD, exeFD, joins, tasks, cg2, 0, []string{"gtu", protocol.InitArg})
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{
		Path: "/proc/self/fd/" + strconv.Itoa(helperFD), Args: args, Env: env,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, ExtraFiles: x.files,
	}
	runErr := cmd.Run()
	for _, f := range x.files[preserved:] {
		f.Close()
	}
	x.files = nil
	line, _ := bufio.NewReader(errR).ReadString('\n')
	child, perr := nsenter.ParsePID(line)
	if runErr != nil || perr != nil {
		return 0, fmt.Errorf("enter container %s: %w", o.ID, errors.Join(perr, runErr))
	}
	x.child = child
	if sc := x.plan.Seccomp; sc != nil && sc.Listener {
		sc.State = &specs.State{Version: specs.Version, ID: o.ID, Status: specs.StateRunning, Pid: child,
			Bundle: x.h.st.Bundle, Annotations: x.h.st.Annotations}
	}
	conn := protocol.NewConn(syncParent, protocol.Parent)
	if err := conn.Send(&protocol.Message{Kind: protocol.KindBootstrap, Plan: x.plan, LogLevel: logLevel(g.logger())}); err != nil {
		return 0, err
	}
	if _, err := conn.Recv(); err != nil {
		return 0, err
	}
	return child, nil
}

// addSelf passes the init stage's image the helper will exec (initImage):
// sealed when gtu runs as real root (CVE-2019-5736), else the file itself.
func (x *execution) addSelf() (int, error) {
	img := <-x.image
	if img.err != nil {
		return 0, img.err
	}
	exe := img.file
	if exe == nil {
		var err error
		if exe, err = os.OpenFile(img.path, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return 0, err
		}
	}
	return x.add(exe), nil
}

// addNamespaces opens the init's namespaces that differ from ours, in the
// order the helper must join them.
func (x *execution) addNamespaces() ([]nsenter.Join, error) {
	pid := x.h.st.Pid
	// A pidfd keeps the pid from being reused while its ns files are
	// opened; liveness is checked again once they are.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, ErrNotRunning
	}
	defer unix.Close(pidfd)
	var joins []nsenter.Join
	for _, t := range nsTypes {
		theirs := filepath.Join(procRoot, strconv.Itoa(pid), "ns", t.name)
		var a, b unix.Stat_t
		if err := unix.Stat(theirs, &a); err != nil {
			if errors.Is(err, unix.ENOENT) && t.name == "time" {
				continue // kernel without time namespaces
			}
			return nil, fmt.Errorf("namespace %s of pid %d: %w", t.name, pid, err)
		}
		if unix.Stat(filepath.Join(procRoot, "self/ns", t.name), &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			continue // shared with the host: nothing to join
		}
		f, err := os.Open(theirs)
		if err != nil {
			return nil, fmt.Errorf("namespace %s of pid %d: %w", t.name, pid, err)
		}
		joins = append(joins, nsenter.Join{Flag: t.flag, FD: x.add(f)})
	}
	if !state.Alive(procRoot, pid, x.h.st.PidStart) {
		return nil, ErrNotRunning
	}
	return nsenter.Order(joins), nil
}

// addCgroup passes the container's cgroup (or the --cgroup sub-cgroups)
// to the helper (see cgroupFiles).
func (x *execution) addCgroup(g Global, subs []string) (tasks []int, cg2 int, err error) {
	paths, err := subCgroupPaths(x.h.st.CgroupPaths, subs)
	if err != nil {
		return nil, -1, err
	}
	tf, dir := cgroupFiles(paths, g.logger())
	for _, f := range tf {
		tasks = append(tasks, x.add(f))
	}
	cg2 = -1
	if dir != nil {
		cg2 = x.add(dir)
	}
	return tasks, cg2, nil
}

// subCgroupPaths applies --cgroup values to the container's cgroup paths
// (controller key -> directory; "" is cgroup2). A sub-cgroup must exist
// and stay inside the container's.
func subCgroupPaths(paths map[string]string, subs []string) (map[string]string, error) {
	if len(subs) == 0 {
		return paths, nil
	}
	bySet := map[string]string{} // controller -> sub; "" for all
	for _, v := range subs {
		ctrls, sub, ok := strings.Cut(v, ":")
		if !ok {
			ctrls, sub = "", v
		}
		clean := filepath.Clean("/" + sub)
		if sub == "" || clean == "/" {
			return nil, fmt.Errorf("--cgroup %q: empty sub-cgroup", v)
		}
		if ctrls == "" {
			bySet[""] = clean
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			bySet[c] = clean
		}
	}
	out := make(map[string]string, len(paths))
	for key, dir := range paths {
		sub, ok := bySet[key]
		if !ok {
			sub, ok = bySet[""]
		}
		if !ok {
			out[key] = dir
			continue
		}
		target := filepath.Join(dir, sub)
		if st, err := os.Stat(target); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--cgroup %s: no such sub-cgroup %s", sub, target)
		}
		out[key] = target
	}
	return out, nil
}
