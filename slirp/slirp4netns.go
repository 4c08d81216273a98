package slirp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// maxSocketPath is the room in sockaddr_un.sun_path, less the NUL.
const maxSocketPath = 107

// apiTimeout bounds one request on slirp4netns's API socket.
const apiTimeout = 5 * time.Second

func startSlirp4netns(ctx context.Context, path string, o Options, ns *namespaces) (*Handle, error) {
	sock := filepath.Join(o.StateDir, "slirp4netns.sock")
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("slirp4netns: api socket path %s: longer than %d bytes", sock, maxSocketPath)
	}
	logPath := filepath.Join(o.StateDir, "slirp4netns.log")
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("slirp4netns: remove stale api socket: %w", err)
	}
	logf, err := openLog(logPath)
	if err != nil {
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	defer logf.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("slirp4netns: ready pipe: %w", err)
	}
	defer readyR.Close()

	// fd 3: the network namespace, fd 4: the ready pipe, fd 5: the user
	// namespace if any.
	extra := []*os.File{ns.net, readyW}
	args := []string{
		"--configure", "--mtu=" + strconv.Itoa(o.mtu()), "--ready-fd=4",
		"--api-socket", sock, "--enable-seccomp", "--netns-type=path",
	}
	if !o.AllowHostLoopback {
		args = append(args, "--disable-host-loopback")
	}
	if o.IPv6 {
		args = append(args, "--enable-ipv6")
	}
	// The sandbox (a mount namespace of its own, capabilities dropped) needs
	// uid 0: as an ordinary user slirp4netns 1.2 fails in it ("setegid(0)")
	// after sending the tap fd. As root, or root in gtu's session user
	// namespace, it works.
	if os.Geteuid() == 0 {
		args = append(args, "--enable-sandbox")
	}
	if ns.user != nil {
		extra = append(extra, ns.user)
		args = append(args, "--userns-path=/proc/self/fd/5")
	}
	args = append(args, "/proc/self/fd/3", ifName)

	cmd := helperCommand(path, args, logf, extra)
	err = startCloseExec(cmd)
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("slirp4netns: start: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps the helper if this process outlives it

	h := &Handle{Driver: DriverSlirp4netns, Pid: cmd.Process.Pid, LogFile: logPath, APISocket: sock}
	fail := func(err error) (*Handle, error) {
		cmd.Process.Kill()
		<-exited
		os.Remove(sock)
		return nil, fmt.Errorf("slirp4netns: %w%s", err, logTail(logPath))
	}
	// A child of ours cannot be recycled before we reap it, so its stat
	// belongs to it.
	if h.PidStart, _, err = procStat(h.Pid); err != nil {
		return fail(fmt.Errorf("pid %d: %w", h.Pid, err))
	}
	if err := waitReady(ctx, readyR, exited); err != nil {
		return fail(err)
	}
	for _, p := range o.Ports {
		if err := addHostfwd(ctx, sock, p); err != nil {
			return fail(fmt.Errorf("forward %s: %w", p, err))
		}
	}
	return h, nil
}

// waitReady waits for slirp4netns to write to its ready fd. exited is
// refilled with the exit status when it fires first, for fail to drain.
func waitReady(ctx context.Context, r *os.File, exited chan error) error {
	ready := make(chan error, 1)
	go func() {
		var b [1]byte
		n, err := r.Read(b[:])
		if n == 1 {
			err = nil
		} else if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("ready pipe closed")
		}
		ready <- err
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err == nil {
			return nil
		}
		// The pipe closes when slirp4netns dies: report how it died.
		select {
		case werr := <-exited:
			exited <- werr
			return fmt.Errorf("exited before the network was ready: %s", exitString(werr))
		case <-time.After(time.Second):
			return fmt.Errorf("exited before the network was ready: %w", err)
		}
	case err := <-exited:
		exited <- err
		return fmt.Errorf("exited before the network was ready: %s", exitString(err))
	case <-ctx.Done():
		return fmt.Errorf("waiting for the network: %w", ctx.Err())
	case <-timer.C:
		return fmt.Errorf("network not ready after %v", readyTimeout)
	}
}

func exitString(err error) string {
	var ee *exec.ExitError
	if err == nil {
		return "exit status 0"
	}
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}

// addHostfwd asks slirp4netns to forward one port, through its API socket:
// one JSON request per connection, answered with {"return": ...} or
// {"error": {"desc": ...}}.
func addHostfwd(ctx context.Context, sock string, p Port) error {
	req, err := hostfwdRequest(p)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("api socket: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(apiTimeout))
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("api socket: write: %w", err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		return fmt.Errorf("api socket: %w", err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("api socket: read: %w", err)
	}
	return parseAPIReply(reply)
}

func parseAPIReply(b []byte) error {
	var r struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("api reply %q: %w", b, err)
	}
	if r.Error != nil {
		return fmt.Errorf("slirp4netns refused: %s", r.Error.Desc)
	}
	if r.Return == nil {
		return fmt.Errorf("api reply %q: neither return nor error", b)
	}
	return nil
}
