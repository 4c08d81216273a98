package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/cgroupdelegate"
	"github.com/gophertainer/gtu/internal/osthread"
	"github.com/gophertainer/gtu/runtime/internal/console"
	"github.com/gophertainer/gtu/runtime/internal/exeseal"
	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/seccomp"
	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/runtime/state"
	"github.com/gophertainer/gtu/slirp"
	"github.com/gophertainer/gtu/userns"
)

// CreateOptions are create's flags (and run's).
type CreateOptions struct {
	ID            string
	Bundle        string // default: the current directory
	ConsoleSocket string
	PidFile       string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	Network       NetworkOptions
}

// Create sets up container o.ID and leaves its init waiting for Start.
func Create(g Global, o CreateOptions) error {
	l, err := launch(g, o, false)
	if err != nil {
		return err
	}
	l.release()
	return nil
}

// launched is a container whose init stage reported Ready.
type launched struct {
	h      *handle
	cmd    *exec.Cmd
	plan   *spec.Plan
	master *os.File // our end of the internal console socket (foreground run -t)
	// hostMountsBase: see state.State.HostMountsBase.
	hostMountsBase *int
	// hookState is the container's OCI state for its hooks; nil when it
	// has none.
	hookState *specs.State
	// netReq is the requested user-mode network, network its running
	// helper; both nil without one.
	netReq  *slirp.Options
	network *slirp.Handle
	image   <-chan sealedImage // from sealInitImage; received once, by start
}

// release lets go of everything the parent held; the init keeps running.
func (l *launched) release() {
	if l.master != nil {
		l.master.Close()
	}
	if l.cmd.Process != nil {
		_ = l.cmd.Process.Release()
	}
	l.h.close()
}

// launch is create: validate and plan first (nothing on disk yet), then
// make the state directory and start the init stage. On any failure it
// removes what it made: process, cgroup, state directory.
func launch(g Global, o CreateOptions, foreground bool) (*launched, error) {
	if err := state.ValidateID(o.ID); err != nil {
		return nil, err
	}
	image := takeSealed()
	if o.PreserveFDs < 0 {
		return nil, fmt.Errorf("--preserve-fds %d: must not be negative", o.PreserveFDs)
	}
	bundle, err := filepath.Abs(orDot(o.Bundle))
	if err != nil {
		return nil, fmt.Errorf("--bundle %s: %w", o.Bundle, err)
	}
	s, err := loadSpec(bundle)
	if err != nil {
		return nil, err
	}
	bounding, err := boundingCaps(procRoot)
	if err != nil {
		return nil, err
	}
	plan, err := spec.Build(s, spec.Options{ID: o.ID, Bundle: bundle, NoPivot: o.NoPivot,
		NoNewKeyring: o.NoNewKeyring, BoundingCaps: bounding, Outer: outer(g.Maps)})
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if plan.Seccomp, err = compileSeccomp(g, linuxSeccomp(s)); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if plan.Process.Terminal && o.ConsoleSocket == "" && !foreground {
		return nil, errors.New("process.terminal is true but no --console-socket was given (needed when gtu does not stay in the foreground)")
	}
	if !plan.Process.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given but process.terminal is false")
	}
	netReq, err := networkRequest(s, plan, o.Network)
	if err != nil {
		return nil, err
	}
	g.logger().Debug("planned", "id", o.ID)
	cgc, err := cgroupConfig(o.ID, s, g)
	if err != nil {
		return nil, err
	}
	cg, err := cgroupdelegate.New(cgc)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	dir, err := g.store().Create(o.ID)
	if err != nil {
		return nil, err
	}
	h := &handle{dir: dir, cg: cg}
	if err := dir.Lock(); err != nil {
		_ = dir.Remove()
		return nil, err
	}
	l := &launched{h: h, plan: plan, netReq: netReq, image: image}
	if err := l.start(g, o, s, foreground); err != nil {
		l.destroy(g.logger())
		return nil, err
	}
	return l, nil
}

// destroy undoes a failed launch.
func (l *launched) destroy(log *slog.Logger) {
	if l.network != nil {
		if err := l.network.Stop(); err != nil {
			log.Warn("failed create: network helper not stopped", "pid", l.network.Pid, "err", err)
		}
	}
	if l.cmd != nil && l.cmd.Process != nil {
		_ = l.cmd.Process.Kill()
		_, _ = l.cmd.Process.Wait() // not cmd.Wait: with nsenter, cmd ran the helper
	}
	if l.master != nil {
		l.master.Close()
	}
	if l.hostMountsBase != nil {
		if err := undoHostMounts(l.plan.Rootfs, *l.hostMountsBase); err != nil {
			log.Warn("failed create: mounts left", "err", err)
		}
	}
	if err := l.h.cg.Destroy(); err != nil {
		log.Warn("failed create: cgroup not removed", "err", err)
	}
	if err := l.h.dir.Remove(); err != nil {
		log.Warn("failed create: state directory not removed", "err", err)
	}
	l.h.close()
	l.poststop(log)
}

// start runs the init stage through the handshake and saves the state.
func (l *launched) start(g Global, o CreateOptions, s *specs.Spec, foreground bool) error {
	p, dir := l.plan, l.h.dir
	if err := unix.Mkfifo(dir.FifoPath(), 0o600); err != nil {
		return fmt.Errorf("create exec fifo %s: %w", dir.FifoPath(), err)
	}
	// The init reopens it as the container's root, which in a user
	// namespace is some other host uid.
	if uid, gid := rootIDs(p); uid != 0 || gid != 0 {
		if err := os.Chown(dir.FifoPath(), int(uid), int(gid)); err != nil {
			return fmt.Errorf("chown exec fifo: %w", err)
		}
	}
	fifo, err := os.OpenFile(dir.FifoPath(), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	syncParent, syncChild, err := socketpair("sync")
	if err != nil {
		return err
	}
	defer syncParent.Close()
	defer syncChild.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("log pipe: %w", err)
	}
	defer logR.Close()
	defer logW.Close()

	extra := make([]*os.File, 0, o.PreserveFDs+4)
	for i := 0; i < o.PreserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	env := []string{}
	add := func(name string, f *os.File) {
		env = append(env, fmt.Sprintf("%s=%d", name, 3+len(extra)))
		extra = append(extra, f)
	}
	add(protocol.EnvSyncFD, syncChild)
	add(protocol.EnvLogFD, logW)
	add(protocol.EnvFifoFD, fifo)
	env = append(env, fmt.Sprintf("%s=%d", protocol.EnvPreserve, o.PreserveFDs), protocol.GoEnv)
	if p.Process.Terminal {
		csock, err := l.consoleSocket(o.ConsoleSocket)
		if err != nil {
			return err
		}
		defer csock.Close()
		add(protocol.EnvConsoleFD, csock)
	}
	if p.Seccomp != nil && p.Seccomp.Listener {
		lsock, err := listenerSocket(p.Seccomp.ListenerPath)
		if err != nil {
			return err
		}
		defer lsock.Close()
		add(protocol.EnvSeccompFD, lsock)
	}

	l.cmd = &exec.Cmd{
		Args:       []string{"gtu", protocol.InitArg},
		Env:        env,
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 p.CloneFlags,
			UidMappings:                idMaps(p.UIDMappings),
			GidMappings:                idMaps(p.GIDMappings),
			GidMappingsEnableSetgroups: true,
		},
	}
	img := <-l.image
	if img.err != nil {
		return img.err
	}
	exe := img.file
	exeseal.Apply(l.cmd, exe, img.path)
	if exe != nil {
		// Dropping the last reference to the sealed image unmounts its
		// private overlay, which waits for an RCU grace period; the init
		// stage has executed it by then, so nobody needs to wait.
		defer func() { go exe.Close() }()
	}
	if p.CloneFlags&unix.CLONE_NEWUSER != 0 {
		// Become the namespace's root once Go has written the maps, or the
		// child would exec as the overflow uid without capabilities.
		l.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	if p.SharedMountNS {
		base, err := mountsAt(p.Rootfs)
		if err != nil {
			return fmt.Errorf("root.path %s: %w", p.Rootfs, err)
		}
		l.hostMountsBase = &base
	}
	g.logger().Debug("starting the init stage")
	if err := startInit(l.cmd, p.JoinNamespaces, l.h.cg, g.logger()); err != nil {
		return err
	}
	syncChild.Close()
	logW.Close()
	go forwardLogs(logR, g.logger())

	pid := l.cmd.Process.Pid
	log := g.logger()
	log.Debug("init stage started in its cgroup", "pid", pid)
	// Plan.CgroupPaths stays empty: the init stage reads its own
	// /proc/self/cgroup, where Apply has just placed it.
	if p.Seccomp != nil && p.Seccomp.Listener {
		p.Seccomp.State = &specs.State{Version: s.Version, ID: o.ID, Status: specs.StateCreating, Pid: pid,
			Bundle: p.Bundle, Annotations: s.Annotations}
	}
	boot := &protocol.Message{Kind: protocol.KindBootstrap, Plan: p, LogLevel: logLevel(g.logger()),
		State: l.setHookState(s, o.ID, pid)}
	conn := protocol.NewConn(syncParent, protocol.Parent)
	if err := conn.Send(boot); err != nil {
		return err
	}
	// What the state needs and the init stage does not decide is made
	// while the init stage starts up in the container (gtu would only wait
	// for it otherwise).
	start, err := state.StartTime(procRoot, pid)
	if err != nil {
		return fmt.Errorf("init pid %d: %w", pid, err)
	}
	raw, err := l.h.cg.Save()
	if err != nil {
		return err
	}
	later, err := laterHooks(p.Hooks)
	if err != nil {
		return err
	}
	st := &state.State{
		OCIVersion:     s.Version,
		ID:             o.ID,
		Pid:            pid,
		PidStart:       start,
		Bundle:         p.Bundle,
		Rootfs:         p.Rootfs,
		Annotations:    s.Annotations,
		Created:        time.Now().UTC(),
		Owner:          owner(),
		CgroupPaths:    l.h.cg.Paths(),
		Cgroup:         raw,
		OwnPidNS:       p.CloneFlags&unix.CLONE_NEWPID != 0,
		HostMountsBase: l.hostMountsBase,
		Systemd:        g.SystemdCgroup,
		Hooks:          later,
	}
	encoded, err := state.Encode(st)
	if err != nil {
		return err
	}
	m, err := conn.Recv()
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET)) {
		return initDied(l.cmd.Process, s, err)
	}
	if err == nil && m.Kind == protocol.KindCreateRuntime {
		err = l.createRuntime(conn)
	}
	if err != nil {
		return err
	}
	log.Debug("init stage ready")
	if err := l.startNetwork(l.netReq, pid); err != nil {
		return err
	}
	if l.network != nil {
		if st.Network, err = json.Marshal(l.network); err != nil {
			return err
		}
		if encoded, err = state.Encode(st); err != nil {
			return err
		}
		log.Debug("network ready", "driver", l.network.Driver, "helper", l.network.Pid)
	}
	l.h.st = st
	// Written only now: the state says "created" once the init is ready.
	if err := l.h.dir.SaveEncoded(encoded); err != nil {
		return err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return err
		}
	}
	return nil
}

// consoleSocket connects to --console-socket, or, for a foreground run,
// makes an internal socket pair and keeps one end to receive the master.
func (l *launched) consoleSocket(path string) (*os.File, error) {
	if path != "" {
		f, err := console.Connect(path)
		if err != nil {
			return nil, fmt.Errorf("--console-socket %s: %w", path, err)
		}
		return f, nil
	}
	ours, theirs, err := socketpair("console")
	if err != nil {
		return nil, err
	}
	l.master = ours
	return theirs, nil
}

func cgroupConfig(id string, s *specs.Spec, g Global) (cgroupdelegate.Config, error) {
	c := cgroupdelegate.Config{ID: id, Systemd: g.SystemdCgroup, Rootless: g.Rootless}
	if s.Linux != nil {
		c.Path = s.Linux.CgroupsPath
		c.Resources = s.Linux.Resources
		c.Devices = s.Linux.Devices
	}
	if g.Rootless {
		// Delegated directories and the systemd --user manager belong to
		// the host uid that gtu's root maps to.
		var uid, gid uint32
		okU, okG := false, false
		if g.Maps != nil {
			uid, okU = userns.Outside(g.Maps.UID, 0)
			gid, okG = userns.Outside(g.Maps.GID, 0)
		}
		if !okU || !okG {
			return c, errors.New("rootless: uid 0 of gtu's user namespace maps to no host id")
		}
		c.HostUID, c.HostGID = int(uid), int(gid)
	}
	return c, nil
}

func socketpair(name string) (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s socketpair: %w", name, err)
	}
	return os.NewFile(uintptr(fds[0]), name), os.NewFile(uintptr(fds[1]), name), nil
}

func idMaps(m []spec.IDMap) []syscall.SysProcIDMap {
	if len(m) == 0 {
		return nil
	}
	out := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)}
	}
	return out
}

// writePidFile writes the pid atomically, as conmon and containerd read it
// as soon as create returns.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	return nil
}

// boundingCaps is gtu's own bounding set: what it could grant at all.
func boundingCaps(proc string) ([]int, error) {
	f, err := os.Open(filepath.Join(proc, "self/status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapBnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("%s/self/status: CapBnd: %w", proc, err)
			}
			var caps []int
			for i := 0; i < 64; i++ {
				if mask&(1<<i) != 0 {
					caps = append(caps, i)
				}
			}
			return caps, nil
		}
	}
	return nil, fmt.Errorf("%s/self/status: no CapBnd line", proc)
}

// forwardLogs re-emits the init stage's JSON log lines through our logger.
func forwardLogs(r *os.File, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			log.Info(sc.Text(), "from", "init")
			continue
		}
		msg, _ := rec["msg"].(string)
		var lvl slog.Level
		if s, ok := rec["level"].(string); ok {
			_ = lvl.UnmarshalText([]byte(s))
		}
		attrs := []any{"from", "init"}
		for k, v := range rec {
			if k != "msg" && k != "level" && k != "time" {
				attrs = append(attrs, k, v)
			}
		}
		log.Log(context.Background(), lvl, msg, attrs...)
	}
}

func logLevel(log *slog.Logger) int {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if log.Enabled(context.Background(), l) {
			return int(l)
		}
	}
	return int(slog.LevelError)
}

func owner() string {
	return strconv.Itoa(os.Geteuid())
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

// startInit starts the init stage from a disposable OS thread that first
// joined the namespaces config.json names by path and entered the
// container's cgroup, so the child is born in both:
//   - setns(2) on net, ipc, uts, pid and cgroup namespaces changes only the
//     calling thread, and clone(2) copies that thread's namespaces (for pid:
//     the namespace for children), so no C code is needed for these;
//   - moving a whole process into a cgroup (cgroup.procs) waits for an RCU
//     grace period, about 12 ms here, the largest single cost of a start;
//     moving only the current thread (v1 "tasks") and CLONE_INTO_CGROUP
//     (cgroup2) do not. systemd places processes itself: Apply after start.
//
// Joining a user, mount or time namespace by path needs the nsenter helper
// (see startViaHelper).
func startInit(cmd *exec.Cmd, join []spec.JoinNS, cg *cgroupdelegate.Cgroup, log *slog.Logger) error {
	if needsHelper(join) {
		if !cg.CanEnterThread() {
			return fmt.Errorf("%w: linux.namespaces: joining a user, mount or time namespace by path with --systemd-cgroup", ErrUnsupported)
		}
		if err := cg.Create(); err != nil {
			return err
		}
		return startViaHelper(cmd, join, cg, log)
	}
	if !cg.CanEnterThread() {
		if err := startJoined(cmd, join, nil); err != nil {
			return err
		}
		return cg.Apply(cmd.Process.Pid)
	}
	if err := cg.Create(); err != nil {
		return err
	}
	return startJoined(cmd, join, cg)
}

func startJoined(cmd *exec.Cmd, join []spec.JoinNS, cg *cgroupdelegate.Cgroup) error {
	return osthread.Disposable(func() error {
		for _, ns := range join {
			fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				err = unix.Setns(fd, int(ns.Flag))
				unix.Close(fd)
			}
			if err != nil {
				return fmt.Errorf("linux.namespaces: join %s namespace %s: %w", ns.Type, ns.Path, err)
			}
		}
		if cg != nil {
			unified, err := cg.EnterThread()
			if err != nil {
				return err
			}
			if unified != nil {
				defer unified.Close()
				cmd.SysProcAttr.UseCgroupFD = true
				cmd.SysProcAttr.CgroupFD = int(unified.Fd())
			}
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start the init stage: %w", err)
		}
		return nil
	})
}

// rootIDs is the host uid and gid that the container's root maps to.
func rootIDs(p *spec.Plan) (uint32, uint32) {
	return hostID(p.UIDMappings, 0), hostID(p.GIDMappings, 0)
}

func hostID(maps []spec.IDMap, id uint32) uint32 {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return m.HostID + id - m.ContainerID
		}
	}
	return id
}

// compileSeccomp compiles linux.seccomp (cached under --root); nil
// without a profile.
func compileSeccomp(g Global, profile *specs.LinuxSeccomp) (*spec.Seccomp, error) {
	if profile == nil {
		return nil, nil
	}
	c := seccomp.Compiler{Helper: seccomp.DefaultHelper(), CacheDir: filepath.Join(g.Root, ".gtu-seccomp-cache")}
	return c.Compile(profile)
}

func linuxSeccomp(s *specs.Spec) *specs.LinuxSeccomp {
	if s.Linux == nil {
		return nil
	}
	return s.Linux.Seccomp
}

// listenerSocket connects to linux.seccomp.listenerPath, the seccomp
// agent that gets the notify descriptor (runtime-spec config-linux.md).
func listenerSocket(path string) (*os.File, error) {
	f, err := console.Connect(path)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.listenerPath %s: %w", path, err)
	}
	return f, nil
}

// initDied explains an init stage that went away without a word (a crash
// of its Go runtime prints on the container's stderr, not to us): how it
// ended, and the likely cause when the spec gives one.
func initDied(proc *os.Process, s *specs.Spec, err error) error {
	how := err.Error()
	if ps, werr := proc.Wait(); werr == nil {
		how = ps.String()
	}
	msg := fmt.Sprintf("the init stage ended before it was ready (%s; its own messages, if any, are on the container's stderr)", how)
	// The init stage is a Go program: its runtime starts a few threads
	// (four measured, with GOMAXPROCS=1), each counted by pids.max.
	if r := s.Linux; r != nil && r.Resources != nil && r.Resources.Pids != nil && r.Resources.Pids.Limit != nil {
		if n := *r.Resources.Pids.Limit; n > 0 && n < minPids {
			msg += fmt.Sprintf(": linux.resources.pids.limit %d leaves it too few threads (at least %d are needed)", n, minPids)
		}
	}
	return errors.New(msg)
}

// minPids is the smallest pids limit the init stage starts under reliably
// (measured: 4 failed 3 times in 10, 5 never in 10).
const minPids = 5
