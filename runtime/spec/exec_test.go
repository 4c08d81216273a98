package spec

import (
	"errors"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func baseProcess() *specs.Process {
	return &specs.Process{
		Args: []string{"sh"}, Cwd: "/", Env: []string{"PATH=/bin", "TERM=xterm"},
		User:         specs.User{UID: 5, GID: 6},
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}},
	}
}

func TestExecProcessFlags(t *testing.T) {
	yes := true
	p, err := ExecProcess(baseProcess(), nil, ExecOptions{
		Args: []string{"ls", "-l"}, Env: []string{"TERM=dumb", "A=1"}, Cwd: "/tmp", User: "1000:1001",
		AdditionalGids: []string{"7"}, Caps: []string{"net_raw"}, NoNewPrivs: true, Tty: &yes,
	})
	if err != nil {
		t.Fatal(err)
	}
	pr := p.Process
	if !p.Exec || !reflect.DeepEqual(pr.Args, []string{"ls", "-l"}) || pr.Cwd != "/tmp" || !pr.Terminal || !pr.NoNewPrivs {
		t.Fatalf("plan: %+v", pr)
	}
	if !reflect.DeepEqual(pr.Env, []string{"PATH=/bin", "TERM=dumb", "A=1"}) {
		t.Errorf("env %q", pr.Env)
	}
	if pr.User.UID != 1000 || pr.User.GID != 1001 || !reflect.DeepEqual(pr.User.AdditionalGids, []uint32{7}) {
		t.Errorf("user %+v", pr.User)
	}
	if !reflect.DeepEqual(pr.Caps.Effective, []int{unix.CAP_KILL, unix.CAP_NET_RAW}) || !reflect.DeepEqual(pr.Caps.Ambient, []int{unix.CAP_NET_RAW}) {
		t.Errorf("caps %+v", pr.Caps)
	}
}

func TestExecProcessDefaults(t *testing.T) {
	base := baseProcess()
	p, err := ExecProcess(base, nil, ExecOptions{Args: []string{"id"}, User: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Process.User.UID != 42 || p.Process.User.GID != 6 || p.Process.Cwd != "/" {
		t.Errorf("defaults not kept: %+v", p.Process)
	}
	if base.User.UID != 5 || base.Args[0] != "sh" {
		t.Error("the container's process was modified")
	}
	// --process replaces everything, flags are ignored.
	own := &specs.Process{Args: []string{"true"}, Cwd: "/srv"}
	p, err = ExecProcess(base, own, ExecOptions{Args: []string{"ignored"}})
	if err != nil || p.Process.Args[0] != "true" || p.Process.Cwd != "/srv" {
		t.Fatalf("--process: %+v %v", p, err)
	}
}

func TestExecProcessErrors(t *testing.T) {
	tests := []struct {
		name string
		base *specs.Process
		proc *specs.Process
		o    ExecOptions
		is   error
	}{
		{"no base", nil, nil, ExecOptions{Args: []string{"x"}}, ErrInvalid},
		{"bad user", baseProcess(), nil, ExecOptions{Args: []string{"x"}, User: "root"}, ErrInvalid},
		{"bad gid", baseProcess(), nil, ExecOptions{Args: []string{"x"}, User: "1:g"}, ErrInvalid},
		{"bad extra gid", baseProcess(), nil, ExecOptions{Args: []string{"x"}, AdditionalGids: []string{"x"}}, ErrInvalid},
		{"relative cwd", baseProcess(), nil, ExecOptions{Args: []string{"x"}, Cwd: "tmp"}, ErrInvalid},
		{"unknown cap", baseProcess(), nil, ExecOptions{Args: []string{"x"}, Caps: []string{"CAP_NOPE"}}, ErrInvalid},
		{"bad process file", nil, &specs.Process{Cwd: "/"}, ExecOptions{}, ErrInvalid},
		{"cap not grantable", baseProcess(), nil, ExecOptions{Args: []string{"x"}, Caps: []string{"SYS_ADMIN"}, BoundingCaps: []int{unix.CAP_KILL}}, ErrCapNotGrantable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ExecProcess(tt.base, tt.proc, tt.o); !errors.Is(err, tt.is) {
				t.Fatalf("err %v, want %v", err, tt.is)
			}
		})
	}
	b := baseProcess()
	b.Args = nil
	if _, err := ExecProcess(b, nil, ExecOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no command: %v", err)
	}
}
