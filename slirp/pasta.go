package slirp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func startPasta(ctx context.Context, path string, o Options, ns *namespaces) (*Handle, error) {
	logPath := filepath.Join(o.StateDir, "pasta.log")
	pidPath := filepath.Join(o.StateDir, "pasta.pid")
	os.Remove(pidPath)
	logf, err := openLog(logPath)
	if err != nil {
		return nil, fmt.Errorf("pasta: %w", err)
	}
	defer logf.Close()

	// pasta forks to the background once the namespace is configured and the
	// ports are bound, writes the child's pid to --pid and exits 0: the
	// parent's exit is the readiness signal.
	args := []string{
		"--config-net", "--quiet", "--ns-ifname", ifName,
		"--mtu", strconv.Itoa(o.mtu()), "--pid", pidPath, "--log-file", logPath,
	}
	if !o.IPv6 {
		args = append(args, "--ipv4-only")
	}
	if !o.AllowHostLoopback {
		args = append(args, "--no-map-gw")
	}
	args = append(args, pastaArgs(o.Ports)...)
	args = append(args, "--runas", pastaRunAs())
	// fd 3: the network namespace, fd 4: the user namespace if any.
	extra := []*os.File{ns.net}
	if ns.user != nil {
		extra = append(extra, ns.user)
		args = append(args, "--userns", "/proc/self/fd/4")
	}
	args = append(args, "--netns", "/proc/self/fd/3")

	cmd := helperCommand(path, args, logf, extra)
	if err := startCloseExec(cmd); err != nil {
		return nil, fmt.Errorf("pasta: start: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(err error) (*Handle, error) {
		// The background child may exist already: stop it too.
		if h, herr := pastaHandle(pidPath, logPath); herr == nil {
			h.Stop()
		}
		os.Remove(pidPath)
		return nil, fmt.Errorf("pasta: %w%s", err, logTail(logPath))
	}
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case err := <-exited:
		if err != nil {
			return fail(fmt.Errorf("exited before the network was ready: %s", exitString(err)))
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		<-exited
		return fail(fmt.Errorf("waiting for the network: %w", ctx.Err()))
	case <-timer.C:
		cmd.Process.Kill()
		<-exited
		return fail(fmt.Errorf("network not ready after %v", readyTimeout))
	}
	h, err := pastaHandle(pidPath, logPath)
	if err != nil {
		return fail(err)
	}
	return h, nil
}

// pastaHandle names the background pasta from its pid file.
func pastaHandle(pidPath, logPath string) (*Handle, error) {
	b, err := os.ReadFile(pidPath)
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("pid file %s: %q is not a pid", pidPath, b)
	}
	start, _, err := procStat(pid)
	if err != nil {
		return nil, fmt.Errorf("pid %d from %s: %w", pid, pidPath, err)
	}
	// The background pasta is not our child, so its pid could in principle
	// be reused by now: check it is still pasta (comm passt, or passt.avx2
	// when Debian's wrapper picked the AVX2 build) before it is recorded.
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !strings.HasPrefix(string(comm), "pas") {
		return nil, fmt.Errorf("pid %d from %s: not pasta (comm %q)", pid, pidPath, bytes.TrimSpace(comm))
	}
	return &Handle{Driver: DriverPasta, Pid: pid, PidStart: start, LogFile: logPath, PidFile: pidPath}, nil
}

// pastaRunAs is the identity pasta keeps. Started as uid 0 it would switch
// to "nobody" before it opens and joins the target namespaces, and then
// fails ("Couldn't switch to pasta namespaces", or EPERM entering a user
// namespace); in gtu's session user namespace "nobody" is usually unmapped
// as well. So it keeps the caller's ids; it still drops its capabilities
// once set up.
func pastaRunAs() string {
	return fmt.Sprintf("%d:%d", os.Geteuid(), os.Getegid())
}
