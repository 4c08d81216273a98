package slirp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// targetKinds are the namespaces a container may have: as root, a network
// namespace alone or with a user namespace; as an ordinary user (or root
// re-executing this test as gtutest, see TestUnprivileged), always both.
func targetKinds() []struct {
	name   string
	userns bool
} {
	if os.Geteuid() != 0 {
		return []struct {
			name   string
			userns bool
		}{{"userns+netns", true}}
	}
	return []struct {
		name   string
		userns bool
	}{{"netns", false}, {"userns+netns", true}}
}

func TestDrivers(t *testing.T) {
	for _, driver := range []string{DriverSlirp4netns, DriverPasta} {
		t.Run(driver, func(t *testing.T) {
			needDriver(t, driver)
			for _, kind := range targetKinds() {
				t.Run(kind.name, func(t *testing.T) {
					testDriver(t, driver, kind.userns)
				})
			}
		})
	}
}

func testDriver(t *testing.T, driver string, userns bool) {
	tg := startTarget(t, userns)
	dir := t.TempDir()
	hostPort := freePort(t)
	const ctrPort = 8000
	h := startNet(t, Options{
		Driver: driver, Pid: tg.pid, StateDir: dir,
		Ports: []Port{{HostIP: "127.0.0.1", HostPort: uint16(hostPort), ContainerPort: ctrPort, Proto: "tcp"}},
	})
	t.Logf("handle: %+v", *h)
	if h.Driver != driver || !alive(h) {
		t.Fatalf("handle %+v: want a live %s", *h, driver)
	}

	// (1) the interface has an address and the namespace a default route.
	out, err := tg.exec("ip", "-4", "-o", "addr", "show", "dev", ifName).CombinedOutput()
	if err != nil || !strings.Contains(string(out), " inet ") {
		t.Errorf("ip addr show %s in the target: %v: %q, want an IPv4 address", ifName, err, out)
	}
	out, err = tg.exec("ip", "-4", "route", "show", "default").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "default via "+h.Gateway+" dev "+ifName) {
		t.Errorf("ip route in the target: %v: %q, want default via %s dev %s", err, out, h.Gateway, ifName)
	}
	if h.Interface != ifName {
		t.Errorf("handle interface %q, want %q", h.Interface, ifName)
	}

	// (2) the forwarded host port reaches a server inside.
	msg := token(t)
	tg.serve(t, ctrPort, msg)
	if got, err := readFrom(fmt.Sprintf("127.0.0.1:%d", hostPort)); got != msg {
		t.Errorf("host 127.0.0.1:%d -> target :%d: read %q (%v), want %q", hostPort, ctrPort, got, err, msg)
	}

	// (3) the host's loopback is out of reach by default, through the
	// gateway and through the target's own loopback.
	hostMsg := token(t)
	lport := hostServer(t, hostMsg)
	if got := tg.dialFrom(h.Gateway, lport); got == hostMsg {
		t.Errorf("target reached the host's 127.0.0.1:%d through the gateway %s without AllowHostLoopback", lport, h.Gateway)
	}
	if got := tg.dialFrom("127.0.0.1", lport); got == hostMsg {
		t.Errorf("target reached the host's 127.0.0.1:%d through its own loopback", lport)
	}

	// (4) Stop, from the handle as a later gtu reads it back from the
	// state file, ends the helper and cleans up; a second Stop is fine.
	saved, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	h = new(Handle)
	if err := json.Unmarshal(saved, h); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(h) {
		t.Errorf("%s pid %d still alive after Stop", driver, h.Pid)
	}
	if pids := helperPidsHolding(dir); len(pids) > 0 {
		t.Errorf("processes %v still hold files in %s after Stop", pids, dir)
	}
	if err := h.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	for _, p := range []string{h.APISocket, h.PidFile} {
		if _, err := os.Stat(p); p != "" && err == nil {
			t.Errorf("%s left behind after Stop", p)
		}
	}
}

func TestHostLoopbackOptIn(t *testing.T) {
	for _, driver := range []string{DriverSlirp4netns, DriverPasta} {
		t.Run(driver, func(t *testing.T) {
			needDriver(t, driver)
			kinds := targetKinds()
			tg := startTarget(t, kinds[len(kinds)-1].userns)
			h := startNet(t, Options{Driver: driver, Pid: tg.pid, StateDir: t.TempDir(), AllowHostLoopback: true})
			msg := token(t)
			lport := hostServer(t, msg)
			// Reachability is the point. Under load, Debian 12's pasta
			// (2023-02) was seen replaying a short-lived host connection
			// into the namespace's one stream ("msg\nmsg\n..."), so
			// repeated copies of the token count as reaching it.
			if got := tg.dialFrom(h.Gateway, lport); !onlyLines(got, msg) {
				t.Errorf("with AllowHostLoopback, %s:%d from the target read %q, want the host's 127.0.0.1 server (%q)", h.Gateway, lport, got, msg)
			}
		})
	}
}

// pasta sets IPv6 up statically, by the time Start returns. (slirp4netns
// announces its prefix by router advertisements: the address comes later,
// so it is not checked here.)
func TestPastaIPv6(t *testing.T) {
	needDriver(t, DriverPasta)
	if b, err := os.ReadFile("/proc/net/if_inet6"); err != nil || !strings.Contains(string(b), " 00 ") {
		t.Skipf("the host has no global IPv6 address for pasta to copy (%v)", err)
	}
	kinds := targetKinds()
	tg := startTarget(t, kinds[len(kinds)-1].userns)
	startNet(t, Options{Driver: DriverPasta, Pid: tg.pid, StateDir: t.TempDir(), IPv6: true})
	out, err := tg.exec("ip", "-6", "route", "show", "default").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "default via ") {
		t.Errorf("ip -6 route show default in the target: %v: %q, want a default route", err, out)
	}
}

func TestStopRecycledOrGone(t *testing.T) {
	// A live process that is not the helper: Stop must not signal it.
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	start, _, err := procStat(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	recycled := &Handle{Driver: DriverSlirp4netns, Pid: sleeper.Process.Pid, PidStart: start + 1}
	if err := recycled.Stop(); err != nil {
		t.Errorf("Stop of a recycled pid: %v, want nil", err)
	}
	if _, state, err := procStat(sleeper.Process.Pid); err != nil || state == 'Z' {
		t.Errorf("Stop signalled a process whose start time differs (state %c, %v)", state, err)
	}

	// A pid that no longer exists.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock := dir + "/slirp4netns.sock"
	os.WriteFile(sock, nil, 0o600)
	h := &Handle{Driver: DriverSlirp4netns, Pid: gone.Process.Pid, PidStart: 1, APISocket: sock}
	if err := h.Stop(); err != nil {
		t.Errorf("Stop of a gone pid: %v, want nil", err)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("Stop left %s behind", sock)
	}
	var nilHandle *Handle
	if err := nilHandle.Stop(); err != nil {
		t.Errorf("Stop of a nil handle: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, driver := range []string{DriverSlirp4netns, DriverPasta} {
		t.Run(driver, func(t *testing.T) {
			needDriver(t, driver)
			kinds := targetKinds()
			tg := startTarget(t, kinds[len(kinds)-1].userns)
			busy := freePort(t) // bound by a first helper, refused to a second
			first := startNet(t, Options{Driver: driver, Pid: tg.pid, StateDir: t.TempDir(),
				Ports: []Port{{HostIP: "127.0.0.1", HostPort: uint16(busy), ContainerPort: 80}}})
			_ = first
			tg2 := startTarget(t, kinds[len(kinds)-1].userns)
			for _, tt := range []struct {
				name string
				o    Options
				want string
			}{
				{"unknown driver", Options{Driver: "vde"}, `unknown network driver "vde"`},
				{"bad port", Options{Ports: []Port{{HostPort: 80, ContainerPort: 80, Proto: "sctp"}}}, `protocol "sctp"`},
				{"bad host ip", Options{Ports: []Port{{HostIP: "localhost", HostPort: 80, ContainerPort: 80}}}, `host address "localhost"`},
				{"gone pid", Options{Pid: gone.Process.Pid}, fmt.Sprintf("target pid %d: no such process", gone.Process.Pid)},
				{"bad mtu", Options{MTU: 100}, "mtu 100"},
				{"no state dir", Options{StateDir: "/nonexistent/gtu-slirp"}, "state directory"},
				{"port in use", Options{Ports: []Port{{HostIP: "127.0.0.1", HostPort: uint16(busy), ContainerPort: 80}}}, ""},
			} {
				t.Run(tt.name, func(t *testing.T) {
					dir := t.TempDir()
					o := tt.o
					if o.Driver == "" {
						o.Driver = driver
					}
					if o.Pid == 0 {
						o.Pid = tg2.pid
					}
					if o.StateDir == "" {
						o.StateDir = dir
					}
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					h, err := Start(ctx, o)
					if err == nil {
						h.Stop()
						t.Fatalf("Start(%+v) succeeded, want an error", o)
					}
					t.Logf("error: %v", err)
					if !strings.Contains(err.Error(), tt.want) {
						t.Errorf("Start error %q, want it to contain %q", err, tt.want)
					}
					if tt.name != "unknown driver" && !strings.HasPrefix(err.Error(), driver+":") {
						t.Errorf("Start error %q does not name the driver %s", err, driver)
					}
					if pids := helperPidsHolding(dir); len(pids) > 0 {
						t.Errorf("failed Start left processes %v running", pids)
					}
				})
			}
		})
	}
}

// onlyLines reports whether s is one or more lines, each exactly line.
func onlyLines(s, line string) bool {
	if s == "" {
		return false
	}
	for _, l := range strings.Split(s, "\n") {
		if l != line {
			return false
		}
	}
	return true
}
