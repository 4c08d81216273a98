package rootless

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withNetNS gives the container a network namespace of its own (the
// rootless template shares the host's, as runc's does).
func withNetNS(c *container) {
	c.spec.Linux.Namespaces = append(c.spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
}

func requireHelper(t *testing.T, driver string) {
	t.Helper()
	bin := driver
	if _, err := exec.LookPath(bin); err != nil {
		t.Skipf("%s is not installed (scripts/setup-test-host.sh installs it)", bin)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRootlessPublish: a port forwarded with -p reaches a server in the
// container, with both drivers; delete stops the helper.
func TestRootlessPublish(t *testing.T) {
	for _, driver := range []string{"slirp4netns", "pasta"} {
		t.Run(driver, func(t *testing.T) {
			e := newUserEnv(t)
			requireHelper(t, driver)
			t.Parallel()
			c := e.newContainer(t, "sh", "-c", "echo ready; while :; do echo hello-from-inside | nc -l -p 8080; done")
			withNetNS(c)
			port := freePort(t)
			c.mustCreate("--network", driver, "-p", strconv.Itoa(port)+":8080")
			c.mustStart()
			c.waitOutput("ready", 1)
			var got string
			poll(t, "an answer through the forwarded port", func() (bool, string) {
				conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
				if err != nil {
					return false, err.Error()
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				got, err = bufio.NewReader(conn).ReadString('\n')
				return got == "hello-from-inside\n", got + " " + errString(err)
			})
			helper := networkHelperPid(t, e, c)
			e.mustRuntime("delete", "--force", c.id)
			c.assertGone()
			if alive(helper) {
				t.Errorf("the %s helper %d outlived delete", driver, helper)
			}
		})
	}
}

// TestRootlessHostLoopback: the host's 127.0.0.1 is out of reach through the
// gateway unless --allow-host-loopback.
func TestRootlessHostLoopback(t *testing.T) {
	e := newUserEnv(t)
	requireHelper(t, "slirp4netns")
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte("hello-from-host\n"))
			conn.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	script := `gw=$(ip route | awk '/^default/ {print $3}'); nc -w 3 "$gw" ` + port + ` </dev/null`
	for _, allow := range []bool{false, true} {
		c := e.newContainer(t, "sh", "-c", script)
		withNetNS(c)
		flags := []string{"--network", "slirp4netns"}
		if allow {
			flags = append(flags, "--allow-host-loopback")
		}
		r := c.run(flags...)
		reached := strings.Contains(r.stdout, "hello-from-host")
		if reached != allow {
			t.Errorf("--allow-host-loopback=%v: reached the host's loopback = %v (%v)", allow, reached, r)
		}
		c.assertGone()
	}
}

// TestNetworkNeedsNetNS: asking for a network without a network namespace
// is a clear error, and nothing is left.
func TestNetworkNeedsNetNS(t *testing.T) {
	e := newUserEnv(t)
	t.Parallel()
	c := e.newContainer(t, "true")
	r := c.run("-p", "18081:80")
	if r.code == 0 {
		t.Fatalf("a port without a network namespace was accepted: %v", r)
	}
	mustContain(t, "the error", r.stderr, "no network namespace of its own")
	c.assertGone()
}

func networkHelperPid(t *testing.T, e *env, c *container) int {
	t.Helper()
	// gtu's own state file (white-box, gtu-only test): the helper's pid.
	data, err := os.ReadFile(filepath.Join(e.root, c.id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Network struct {
			Pid int `json:"pid"`
		} `json:"network"`
	}
	if err := json.Unmarshal(data, &st); err != nil || st.Network.Pid <= 0 {
		t.Fatalf("no network helper in the state (%v): %s", err, data)
	}
	return st.Network.Pid
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
