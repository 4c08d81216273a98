package slirp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Driver names.
const (
	DriverAuto        = "auto"
	DriverSlirp4netns = "slirp4netns"
	DriverPasta       = "pasta"
)

// DefaultMTU is the MTU both drivers are given when Options.MTU is 0: the
// largest that slirp4netns takes (65521) rounded down to 32-bit words, as
// podman and pasta use.
const DefaultMTU = 65520

// readyTimeout bounds how long Start waits for a helper to report ready.
const readyTimeout = 10 * time.Second

// Options says which network to attach to which namespace.
type Options struct {
	// Driver is "auto" or "" (slirp4netns if installed, else pasta),
	// "slirp4netns" or "pasta".
	Driver string
	// Pid is a process inside the target network namespace (the container's
	// init stage). If it is in another user namespace than the caller, the
	// helper joins that user namespace too.
	Pid int
	// StateDir is an existing private directory for the helper's log, API
	// socket and pid file.
	StateDir string
	// Ports are forwarded from the host into the namespace.
	Ports []Port
	// AllowHostLoopback lets the container reach the host's loopback
	// addresses through its gateway address. Off by default: a service bound
	// to 127.0.0.1 on the host usually trusts whoever can reach it.
	AllowHostLoopback bool
	// MTU of the namespace's interface; 0 means DefaultMTU.
	MTU int
	// IPv6 enables IPv6 in the namespace (experimental in slirp4netns, whose
	// address arrives by router advertisement after Start returns).
	IPv6 bool
}

// Handle names a running helper. It is plain data, saved as JSON in the
// container's state and used by a later process to stop the helper.
type Handle struct {
	Driver    string `json:"driver"`
	Pid       int    `json:"pid"`
	PidStart  uint64 `json:"pidStart"` // field 22 of /proc/PID/stat, to detect pid reuse
	LogFile   string `json:"logFile"`
	APISocket string `json:"apiSocket,omitempty"` // slirp4netns only
	PidFile   string `json:"pidFile,omitempty"`   // pasta only
	// Interface and Gateway are the namespace's default route as the helper
	// set it up. With AllowHostLoopback the gateway address reaches the
	// host's loopback.
	Interface string `json:"interface"`
	Gateway   string `json:"gateway"`
}

// ifName is the interface both drivers create in the namespace.
const ifName = "tap0"

// Start attaches a network to the network namespace of o.Pid and returns
// once it is configured and the ports are forwarded. On error nothing it
// started is left running.
func Start(ctx context.Context, o Options) (*Handle, error) {
	driver, path, err := resolveDriver(o.Driver, exec.LookPath)
	if err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	ns, err := openNamespaces(o.Pid)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	defer ns.close()

	var h *Handle
	switch driver {
	case DriverSlirp4netns:
		h, err = startSlirp4netns(ctx, path, o, ns)
	case DriverPasta:
		h, err = startPasta(ctx, path, o, ns)
	}
	if err != nil {
		return nil, err
	}
	iface, gw, err := defaultRoute(o.Pid)
	if err != nil {
		h.Stop()
		return nil, fmt.Errorf("%s: pid %d: %w", driver, o.Pid, err)
	}
	h.Interface, h.Gateway = iface, gw.String()
	return h, nil
}

// resolveDriver picks the driver and finds its binary. lookPath is
// exec.LookPath outside tests.
func resolveDriver(name string, lookPath func(string) (string, error)) (driver, path string, err error) {
	switch name {
	case "", DriverAuto:
		for _, d := range []string{DriverSlirp4netns, DriverPasta} {
			if p, err := lookPath(d); err == nil {
				return d, p, nil
			}
		}
		return "", "", ErrNoDriver
	case DriverSlirp4netns, DriverPasta:
		p, err := lookPath(name)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", name, err)
		}
		return name, p, nil
	}
	return "", "", fmt.Errorf("%w %q: want auto, slirp4netns or pasta", ErrUnknownDriver, name)
}

func (o *Options) validate() error {
	if o.Pid <= 0 {
		return fmt.Errorf("target pid %d: want a positive pid", o.Pid)
	}
	if o.StateDir == "" {
		return errors.New("no state directory given")
	}
	if fi, err := os.Stat(o.StateDir); err != nil {
		return fmt.Errorf("state directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("state directory %s: not a directory", o.StateDir)
	}
	if o.MTU != 0 && (o.MTU < 1280 || o.MTU > 65521) {
		return fmt.Errorf("mtu %d: want 0 (default %d) or 1280 to 65521", o.MTU, DefaultMTU)
	}
	for i, p := range o.Ports {
		if err := p.validate(); err != nil {
			return fmt.Errorf("%w: ports[%d] %s: %s", ErrBadPort, i, p, err.Error())
		}
	}
	return nil
}

func (o *Options) mtu() int {
	if o.MTU == 0 {
		return DefaultMTU
	}
	return o.MTU
}

// helperEnv is the caller's environment without what would make a helper
// talk to the caller's service manager or take its sockets.
func helperEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "LISTEN_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// helperCommand builds the command for a detached helper: its own session
// (no terminal signals, survives the caller), stdin /dev/null, stdout and
// stderr appended to logFile, extra as fds 3, 4, ...
func helperCommand(path string, args []string, logFile *os.File, extra []*os.File) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = helperEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

func openLog(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// logTail returns the last lines of a helper's log for an error message.
func logTail(p string) string {
	const max = 1024
	b, err := os.ReadFile(p)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return " (log " + p + ": " + strings.ReplaceAll(s, "\n", "; ") + ")"
}

// startCloseExec starts cmd with every other descriptor of this process
// kept out of it. Go opens its own files close-on-exec, but descriptors
// gtu inherited (from podman, systemd socket activation, --preserve-fds)
// are not, and a long-lived helper would hold them open for the life of the
// container. exec.Cmd has no hook that runs in the child before exec, so
// they are marked close-on-exec for the moment of the fork and restored
// afterwards, each only if it still names the same file.
func startCloseExec(cmd *exec.Cmd) error {
	type marked struct {
		fd       int
		dev, ino uint64
	}
	var restore []marked
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			var fd int
			if _, err := fmt.Sscan(e.Name(), &fd); err != nil || fd < 3 {
				continue
			}
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC != 0 {
				continue
			}
			var st unix.Stat_t
			if unix.Fstat(fd, &st) != nil {
				continue
			}
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err == nil {
				restore = append(restore, marked{fd, st.Dev, st.Ino})
			}
		}
	}
	err := cmd.Start()
	for _, m := range restore {
		var st unix.Stat_t
		if unix.Fstat(m.fd, &st) != nil || st.Dev != m.dev || st.Ino != m.ino {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(m.fd), unix.F_GETFD, 0); err == nil {
			unix.FcntlInt(uintptr(m.fd), unix.F_SETFD, flags&^unix.FD_CLOEXEC)
		}
	}
	return err
}
