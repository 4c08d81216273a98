package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestBuildJoinNamespaces(t *testing.T) {
	s := Default(false)
	for i, ns := range s.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace:
			s.Linux.Namespaces[i].Path = "/run/netns/cni-1"
		case specs.PIDNamespace:
			s.Linux.Namespaces[i].Path = "/proc/42/ns/pid"
		}
	}
	p, err := Build(s, Options{ID: "j", Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []JoinNS{
		{Type: "pid", Flag: unix.CLONE_NEWPID, Path: "/proc/42/ns/pid"},
		{Type: "network", Flag: unix.CLONE_NEWNET, Path: "/run/netns/cni-1"},
	}
	if len(p.JoinNamespaces) != len(want) {
		t.Fatalf("JoinNamespaces = %+v, want %+v", p.JoinNamespaces, want)
	}
	for i := range want {
		if p.JoinNamespaces[i] != want[i] {
			t.Errorf("JoinNamespaces[%d] = %+v, want %+v", i, p.JoinNamespaces[i], want[i])
		}
	}
	if p.CloneFlags&(unix.CLONE_NEWNET|unix.CLONE_NEWPID) != 0 {
		t.Errorf("joined namespaces must not also be created: flags %#x", p.CloneFlags)
	}
	if p.CloneFlags&unix.CLONE_NEWNS == 0 {
		t.Errorf("mount namespace still created: flags %#x", p.CloneFlags)
	}
}

func TestRaisableAmbient(t *testing.T) {
	got := raisableAmbient([]int{1, 5, 7}, []int{1, 5, 7}, []int{5})
	if len(got) != 1 || got[0] != 5 {
		t.Fatalf("raisableAmbient = %v, want [5]", got)
	}
	if got := raisableAmbient([]int{1}, nil, nil); got != nil {
		t.Fatalf("raisableAmbient = %v, want nil", got)
	}
}

func TestDefaultDevicesIsACopy(t *testing.T) {
	d := DefaultDevices()
	d[0].FileMode = 0
	if defaultDevices[0].FileMode != 0o666 || len(d) != 6 {
		t.Fatal("DefaultDevices must return a copy of the six defaults")
	}
}

func TestBuildRefusesLSMLabels(t *testing.T) {
	for _, tt := range []struct {
		field  string
		mutate func(*specs.Spec)
	}{
		{"process.apparmorProfile", func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }},
		{"process.selinuxLabel", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }},
		{"linux.mountLabel", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }},
	} {
		s := Default(false)
		tt.mutate(s)
		_, err := Build(s, Options{ID: "x", Bundle: "/b"})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v", tt.field, err)
		}
	}
}

func TestBuildJoinMountUserTime(t *testing.T) {
	s := Default(false)
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			s.Linux.Namespaces[i].Path = "/proc/42/ns/mnt"
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/42/ns/user"})
	p, err := Build(s, Options{ID: "j", Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	if p.CloneFlags&(unix.CLONE_NEWNS|unix.CLONE_NEWUSER) != 0 || len(p.JoinNamespaces) != 2 {
		t.Fatalf("flags %#x joins %+v", p.CloneFlags, p.JoinNamespaces)
	}
}
