package rootless

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// denyProfile allows everything but mkdir (EPERM), chmod to mode 0777
// (EACCES, an argument condition), and close_range, which older profiles
// (runtime-tools' default) lack: gtu must not need it once the filter is on.
func denyProfile() *specs.LinuxSeccomp {
	eacces := uint(13)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat", "close_range"}, Action: specs.ActErrno},
			{Names: []string{"chmod"}, Action: specs.ActErrno, ErrnoRet: &eacces,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0o777, Op: specs.OpEqualTo}}},
			{Names: []string{"fchmodat"}, Action: specs.ActErrno, ErrnoRet: &eacces,
				Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0o777, Op: specs.OpEqualTo}}},
		},
	}
}

const seccompProbe = `mkdir /tmp/x 2>&1; echo mkdir=$?; chmod 777 /tmp; echo chmod777=$?; chmod 1777 /tmp; echo chmod1777=$?; grep Seccomp: /proc/self/status`

func TestSeccomp(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	for _, nnp := range []bool{true, false} {
		c := newEnv(t).newContainer(t, "sh", "-c", seccompProbe+"; echo ready; sleep 1000 & wait")
		c.spec.Root.Readonly = false
		c.spec.Process.NoNewPrivileges = nnp
		c.spec.Linux.Seccomp = denyProfile()
		c.mustCreate()
		c.mustStart()
		c.waitOutput("ready", 1)
		out := c.output()
		for _, want := range []string{"Operation not permitted", "mkdir=1", "chmod777=1", "chmod1777=0", "Seccomp:\t2"} {
			if !strings.Contains(out, want) {
				t.Errorf("noNewPrivileges=%v: want %q in %q", nnp, want, out)
			}
		}
		// An exec'd process gets the container's filter.
		r := c.e.mustRuntime("exec", c.id, "sh", "-c", "mkdir /tmp/y; echo mkdir=$?")
		if !strings.Contains(r.stdout, "mkdir=1") {
			t.Errorf("exec: mkdir was not filtered: %v", r)
		}
		c.e.mustRuntime("delete", "-f", c.id)
		c.assertGone()
	}
}

func TestSeccompErrors(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc's messages differ")
	t.Parallel()
	c := newEnv(t).newContainer(t, "true")
	c.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_SOMETIMES"}
	r := c.create()
	if r.code == 0 || !strings.Contains(r.stderr, "linux.seccomp.defaultAction") {
		t.Errorf("unknown action: %v", r)
	}
	c.assertGone()
}

func TestPodmanSeccompCapsReadOnly(t *testing.T) {
	requireRoot(t)
	p := requirePodman(t)
	profile := filepath.Join(shortTempDir(t, "gtusc"), "profile.json")
	b, _ := json.Marshal(denyProfile())
	if err := os.WriteFile(profile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := p.mustRun(t, append(p.runArgs("--rm", "--security-opt", "seccomp="+profile), p.image, "sh", "-c", "mkdir /tmp/z; echo mkdir=$?")...)
	if !strings.Contains(out, "mkdir=1") {
		t.Errorf("podman --security-opt seccomp: mkdir not filtered: %q", out)
	}
	out = p.mustRun(t, append(p.runArgs("--rm", "--cap-drop", "all"), p.image, "grep", "CapEff", "/proc/self/status")...)
	if !strings.Contains(out, "0000000000000000") {
		t.Errorf("podman --cap-drop all: %q", out)
	}
	r := p.run(append(p.runArgs("--rm", "--read-only"), p.image, "touch", "/newfile")...)
	if r.code == 0 {
		t.Errorf("podman --read-only: touch / succeeded: %v", r)
	}
	p.assertNoContainers(t)
}

// TestSeccompNotify: with SCMP_ACT_NOTIFY the notify descriptor and a
// ContainerProcessState reach linux.seccomp.listenerPath; once the agent
// closes the descriptor, the notified call fails with ENOSYS.
func TestSeccompNotify(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	sock := filepath.Join(shortTempDir(t, "gtun"), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type message struct {
		state specs.ContainerProcessState
		fd    int
		err   error
	}
	got := make(chan message, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			got <- message{err: err}
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 1<<16), make([]byte, 128)
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- message{err: err}
			return
		}
		var m message
		scms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(scms) == 1 {
			var fds []int
			if fds, err = unix.ParseUnixRights(&scms[0]); err == nil && len(fds) == 1 {
				m.fd = fds[0]
			}
		}
		m.err = errors.Join(err, json.Unmarshal(buf[:n], &m.state))
		got <- m
	}()
	c := newEnv(t).newContainer(t, "sh", "-c", "mkdir /tmp/n; echo rc=$?; echo ready; sleep 1000 & wait")
	c.spec.Root.Readonly = false
	c.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: sock, ListenerMetadata: "meta-42",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	c.mustCreate()
	c.mustStart()
	var m message
	select {
	case m = <-got:
	case <-time.After(pollTimeout):
		t.Fatal("no message on the seccomp listener")
	}
	if m.err != nil {
		t.Fatal(m.err)
	}
	st := m.state
	if len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName || st.Metadata != "meta-42" || st.State.ID != c.id || st.Pid <= 0 {
		t.Errorf("ContainerProcessState = %+v", st)
	}
	if m.fd <= 0 {
		t.Fatal("no notify descriptor")
	}
	unix.Close(m.fd) // no agent: the notified mkdir fails with ENOSYS
	c.waitOutput("ready", 1)
	if out := c.output(); !strings.Contains(out, "rc=1") {
		t.Errorf("mkdir under notify without an agent: %q", out)
	}
	c.e.mustRuntime("delete", "-f", c.id)
	c.assertGone()
}
