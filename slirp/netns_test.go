package slirp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// target is a process in a network namespace of its own (and a user
// namespace of its own when userns), standing in for a container's init.
type target struct {
	cmd    *exec.Cmd
	pid    int
	userns bool
}

// startTarget starts `unshare [--user --map-root-user] --net sh`, which
// says "ready" once it is inside its namespaces and then sleeps.
func startTarget(t testing.TB, userns bool) *target {
	t.Helper()
	args := []string{"--net"}
	if userns {
		args = []string{"--user", "--map-root-user", "--net"}
	}
	args = append(args, "sh", "-c", "echo ready; exec sleep 1000")
	cmd := exec.Command("unshare", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start target: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("target: read %q, %v (unshare failed?)", line, err)
	}
	tg := &target{cmd: cmd, pid: cmd.Process.Pid, userns: userns}
	// The loopback is down in a new namespace; containers bring it up.
	if out, err := tg.exec("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("target: lo up: %v: %s", err, out)
	}
	return tg
}

// exec runs a command inside the target's namespaces.
func (tg *target) exec(args ...string) *exec.Cmd {
	ns := []string{"-t", strconv.Itoa(tg.pid), "-n"}
	if tg.userns {
		ns = append(ns, "-U", "--preserve-credentials")
	}
	return exec.Command("nsenter", append(ns, args...)...)
}

// serve starts a one-shot TCP server in the target that sends msg to the
// first client, and waits until it listens.
func (tg *target) serve(t *testing.T, port int, msg string) {
	t.Helper()
	cmd := tg.exec("busybox", "nc", "-l", "-p", strconv.Itoa(port))
	cmd.Stdin = strings.NewReader(msg + "\n")
	if err := cmd.Start(); err != nil {
		t.Fatalf("server in target: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The listening socket shows in /proc/net/tcp of the namespace (state
	// 0A); poll for it rather than sleep a guessed time.
	// busybox nc listens on [::], so look in tcp6 too.
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		for _, f := range []string{"tcp", "tcp6"} {
			var b []byte
			if b, err = os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", tg.pid, f)); err != nil {
				break
			}
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) > 3 && strings.HasSuffix(f[1], want[:len(want)-1]) && f[3] == "0A" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server in target: not listening on %d after 5s (%v)", port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialFrom connects from inside the target to addr:port and returns what
// the peer sent (empty if it could not connect).
func (tg *target) dialFrom(addr string, port int) string {
	// -w bounds only the connect: a helper may accept the connection on the
	// namespace's side and never answer, so the whole client is bounded too.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	cmd := tg.exec("busybox", "nc", "-w", "2", addr, strconv.Itoa(port))
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func token(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// freePort returns a TCP port free on the host's loopback right now.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hostServer listens on the host's 127.0.0.1 and sends msg to every client.
func hostServer(t *testing.T, msg string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, msg+"\n")
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// readFrom dials a host address, retrying while the forwarder is not
// through yet, and returns the first line the far end sends.
func readFrom(addr string) (string, error) {
	deadline := time.Now().Add(5 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err == nil {
			return strings.TrimSpace(line), nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return "", lastErr
}

// helperPidsHolding lists processes that hold a file under dir open: a
// helper started with its log there holds it as stdout, so after a failed
// Start or a Stop there must be none.
func helperPidsHolding(dir string) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(l, dir+"/") {
				if _, state, err := procStat(pid); err == nil && state != 'Z' {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

func needDriver(t testing.TB, driver string) {
	t.Helper()
	if _, err := exec.LookPath(driver); err != nil {
		t.Skipf("%s is not installed (scripts/setup-test-host.sh installs it): %v", driver, err)
	}
	for _, tool := range []string{"unshare", "nsenter", "busybox", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	if fi, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun: %v", err)
	} else if os.Geteuid() != 0 && fi.Mode().Perm()&0o006 != 0o006 {
		t.Skipf("/dev/net/tun is %v, unprivileged use needs 0666 (scripts/setup-test-host.sh sets it)", fi.Mode().Perm())
	}
}

func startNet(t *testing.T, o Options) *Handle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start(%+v): %v", o, err)
	}
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			t.Errorf("cleanup Stop: %v", err)
		}
	})
	return h
}

func alive(h *Handle) bool {
	start, state, err := procStat(h.Pid)
	return err == nil && start == h.PidStart && state != 'Z' && state != 'X'
}
