package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestBuildDefault(t *testing.T) {
	p, err := Build(Default(false), Options{ID: "web", Bundle: "/bundles/web", NoPivot: true, NoNewKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	nsFlags := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS)
	caps := []int{int(capability.CAP_AUDIT_WRITE), int(capability.CAP_KILL), int(capability.CAP_NET_BIND_SERVICE)}
	want := &Plan{
		ID: "web", Bundle: "/bundles/web", Rootfs: "/bundles/web/rootfs", RootfsReadonly: true,
		NoPivot: true, NoNewKeyring: true,
		CloneFlags: nsFlags, CgroupNS: true,
		Mounts: []Mount{
			{Source: "proc", Destination: "/proc", Type: "proc"},
			{Source: "tmpfs", Destination: "/dev", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
			{Source: "devpts", Destination: "/dev/pts", Type: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
			{Source: "shm", Destination: "/dev/shm", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, Data: "mode=1777,size=65536k"},
			{Source: "mqueue", Destination: "/dev/mqueue", Type: "mqueue", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
			{Source: "sysfs", Destination: "/sys", Type: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
			{Source: "cgroup", Destination: "/sys/fs/cgroup", Type: "cgroup", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY},
		},
		Devices:       defaultDevices,
		MaskedPaths:   Default(false).Linux.MaskedPaths,
		ReadonlyPaths: Default(false).Linux.ReadonlyPaths,
		Hostname:      "gtu", SetHostname: true,
		Process: Process{
			Args:       []string{"sh"},
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:        "/",
			Terminal:   true,
			Caps:       &Caps{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:    []Rlimit{{Name: "RLIMIT_NOFILE", Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}},
			NoNewPrivs: true,
		},
	}
	if !reflect.DeepEqual(p, want) {
		gotJSON, _ := json.MarshalIndent(p, "", " ")
		wantJSON, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("Build(Default(false)) =\n%s\nwant\n%s", gotJSON, wantJSON)
	}

	// The Plan crosses a process boundary as JSON: it must survive it.
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, p) {
		t.Errorf("Plan JSON round trip changed it:\n%+v\n%+v", back, *p)
	}
	if p.Mounts[0].IsBind() {
		t.Error("proc mount reported as bind")
	}
}

func TestBuildRootlessDefault(t *testing.T) {
	p, err := Build(Default(true), Options{ID: "r", Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS | unix.CLONE_NEWUSER); p.CloneFlags != want {
		t.Errorf("CloneFlags = %#x, want %#x", p.CloneFlags, want)
	}
	if !p.UserNS || !p.CgroupNS {
		t.Errorf("UserNS = %v, CgroupNS = %v, want both", p.UserNS, p.CgroupNS)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if want := []IDMap{{0, uid, 1}}; !reflect.DeepEqual(p.UIDMappings, want) {
		t.Errorf("UIDMappings = %v, want %v", p.UIDMappings, want)
	}
	if want := []IDMap{{0, gid, 1}}; !reflect.DeepEqual(p.GIDMappings, want) {
		t.Errorf("GIDMappings = %v, want %v", p.GIDMappings, want)
	}
	sys := p.Mounts[len(p.Mounts)-1]
	want := Mount{Source: "/sys", Destination: "/sys", Type: "bind", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY}
	if !reflect.DeepEqual(sys, want) || !sys.IsBind() {
		t.Errorf("/sys mount = %+v, want %+v", sys, want)
	}
	if pts := p.Mounts[2]; pts.Data != "newinstance,ptmxmode=0666,mode=0620" {
		t.Errorf("devpts data = %q, want no gid=5", pts.Data)
	}
}

func TestBuildNamespaces(t *testing.T) {
	tests := []struct {
		types    []specs.LinuxNamespaceType
		flags    uintptr
		cgroupNS bool
		timeNS   bool
		userNS   bool
	}{
		{types: []specs.LinuxNamespaceType{"mount"}, flags: unix.CLONE_NEWNS},
		{types: []specs.LinuxNamespaceType{"mount", "pid"}, flags: unix.CLONE_NEWNS | unix.CLONE_NEWPID},
		{types: []specs.LinuxNamespaceType{"mount", "network"}, flags: unix.CLONE_NEWNS | unix.CLONE_NEWNET},
		{types: []specs.LinuxNamespaceType{"mount", "ipc"}, flags: unix.CLONE_NEWNS | unix.CLONE_NEWIPC},
		{types: []specs.LinuxNamespaceType{"mount", "uts"}, flags: unix.CLONE_NEWNS | unix.CLONE_NEWUTS},
		{types: []specs.LinuxNamespaceType{"mount", "user"}, flags: unix.CLONE_NEWNS | unix.CLONE_NEWUSER, userNS: true},
		{types: []specs.LinuxNamespaceType{"mount", "cgroup"}, flags: unix.CLONE_NEWNS, cgroupNS: true},
		{types: []specs.LinuxNamespaceType{"mount", "time"}, flags: unix.CLONE_NEWNS, timeNS: true},
		{
			types:    []specs.LinuxNamespaceType{"time", "cgroup", "user", "uts", "ipc", "network", "pid", "mount"},
			flags:    unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWUSER,
			cgroupNS: true, timeNS: true, userNS: true,
		},
	}
	for _, tt := range tests {
		s := minimal()
		for _, ty := range tt.types {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: ty})
		}
		if tt.userNS {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}
		p, err := Build(s, Options{Bundle: "/b"})
		if err != nil {
			t.Errorf("%v: %v", tt.types, err)
			continue
		}
		if p.CloneFlags != tt.flags || p.CgroupNS != tt.cgroupNS || p.TimeNS != tt.timeNS || p.UserNS != tt.userNS {
			t.Errorf("%v: flags %#x cgroup %v time %v user %v, want %#x %v %v %v", tt.types,
				p.CloneFlags, p.CgroupNS, p.TimeNS, p.UserNS, tt.flags, tt.cgroupNS, tt.timeNS, tt.userNS)
		}
	}
}

// minimal is the smallest spec Build accepts.
func minimal() *specs.Spec {
	return &specs.Spec{
		Version: "1.0.2",
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"true"}, Cwd: "/"},
		Linux:   &specs.Linux{},
	}
}

func TestBuildProcess(t *testing.T) {
	s := minimal()
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "mount"}}
	s.Process = &specs.Process{
		Terminal:    true,
		ConsoleSize: &specs.Box{Height: 24, Width: 80},
		User:        specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{5, 6}, Umask: ptr(uint32(0o027)), Username: "alice"},
		Args:        []string{"/bin/app", "-v"},
		Env:         []string{"A=1"},
		Cwd:         "/srv",
		Capabilities: &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"},
			Effective:   []string{"CAP_CHOWN"},
			Inheritable: []string{"CAP_NET_RAW"},
			Permitted:   []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_RAW"},
			Ambient:     []string{"CAP_NET_RAW"},
		},
		Rlimits: []specs.POSIXRlimit{
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
			{Type: "RLIMIT_NPROC", Soft: 10, Hard: 20},
			{Type: "RLIMIT_RTTIME", Soft: 1, Hard: 2},
		},
		NoNewPrivileges: true,
		OOMScoreAdj:     ptr(500),
	}
	p, err := Build(s, Options{Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	want := Process{
		Args: []string{"/bin/app", "-v"}, Env: []string{"A=1"}, Cwd: "/srv", Terminal: true,
		ConsoleWidth: 80, ConsoleHeight: 24,
		User: User{UID: 1000, GID: 100, AdditionalGids: []uint32{5, 6}, Umask: ptr(uint32(0o027)), Username: "alice"},
		Caps: &Caps{
			Bounding:    []int{unix.CAP_CHOWN, unix.CAP_SYS_ADMIN, unix.CAP_CHECKPOINT_RESTORE},
			Effective:   []int{unix.CAP_CHOWN},
			Inheritable: []int{unix.CAP_NET_RAW},
			Permitted:   []int{unix.CAP_CHOWN, unix.CAP_SYS_ADMIN, unix.CAP_NET_RAW},
			Ambient:     []int{unix.CAP_NET_RAW},
		},
		Rlimits: []Rlimit{
			{Name: "RLIMIT_CORE", Resource: unix.RLIMIT_CORE},
			{Name: "RLIMIT_NPROC", Resource: unix.RLIMIT_NPROC, Soft: 10, Hard: 20},
			{Name: "RLIMIT_RTTIME", Resource: unix.RLIMIT_RTTIME, Soft: 1, Hard: 2},
		},
		NoNewPrivs:  true,
		OOMScoreAdj: ptr(500),
	}
	if !reflect.DeepEqual(p.Process, want) {
		t.Errorf("Process =\n%+v\nwant\n%+v", p.Process, want)
	}
	if p.SetHostname || p.SetDomainname || p.Devices == nil {
		t.Errorf("SetHostname %v SetDomainname %v Devices %v", p.SetHostname, p.SetDomainname, p.Devices)
	}
}

func TestCapNumbersMatchKernel(t *testing.T) {
	// Every name in the table resolves to the kernel's number.
	for _, tt := range []struct {
		name string
		num  int
	}{
		{"CAP_CHOWN", unix.CAP_CHOWN}, {"CAP_KILL", unix.CAP_KILL}, {"CAP_SYS_RESOURCE", unix.CAP_SYS_RESOURCE},
		{"CAP_AUDIT_READ", unix.CAP_AUDIT_READ}, {"CAP_PERFMON", unix.CAP_PERFMON}, {"CAP_BPF", unix.CAP_BPF},
		{"CAP_CHECKPOINT_RESTORE", unix.CAP_CHECKPOINT_RESTORE},
	} {
		if got, ok := capNumbers()[tt.name]; !ok || got != tt.num {
			t.Errorf("capNumbers()[%q] = %d, %v; want %d", tt.name, got, ok, tt.num)
		}
	}
	for name := range rlimits {
		s := minimal()
		s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "mount"}}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: name}}
		if _, err := Build(s, Options{Bundle: "/b"}); err != nil {
			t.Errorf("rlimit %s: %v", name, err)
		}
	}
}

func TestBuildBoundingCaps(t *testing.T) {
	// This VM's root lacks CAP_SYS_RESOURCE (MACHINE.md).
	var hostBounding []int
	for c := range unix.CAP_CHECKPOINT_RESTORE + 1 {
		if c != unix.CAP_SYS_RESOURCE {
			hostBounding = append(hostBounding, c)
		}
	}
	s := Default(false)
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_RESOURCE")
	s.Process.Capabilities.Ambient = []string{"CAP_SYS_RESOURCE", "CAP_KILL"}
	if _, err := Build(s, Options{Bundle: "/b"}); err != nil {
		t.Errorf("nil BoundingCaps must skip the check: %v", err)
	}
	_, err := Build(s, Options{Bundle: "/b", BoundingCaps: hostBounding})
	checkLines(t, err, []string{
		"process.capabilities.bounding: CAP_SYS_RESOURCE is not in gtu's bounding set (the host cannot grant it)",
		"process.capabilities.ambient: CAP_SYS_RESOURCE is not in gtu's bounding set (the host cannot grant it)",
	})
	if !errors.Is(err, ErrCapNotGrantable) {
		t.Errorf("errors.Is(ErrCapNotGrantable) = false for %v", err)
	}
	if _, err := Build(Default(false), Options{Bundle: "/b", BoundingCaps: hostBounding}); err != nil {
		t.Errorf("default caps rejected: %v", err)
	}
	s = Default(false)
	s.Process.Capabilities = nil
	if p, err := Build(s, Options{Bundle: "/b", BoundingCaps: []int{}}); err != nil || p.Process.Caps != nil {
		t.Errorf("no capabilities: Caps = %v, err = %v", p.Process.Caps, err)
	}
}

func TestBuildRootfs(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		bundle, root       string
		wantBundle, wantFS string
	}{
		{"/b", "rootfs", "/b", "/b/rootfs"},
		{"/b/", "./rootfs/", "/b", "/b/rootfs"},
		{"/b", "../shared/rootfs", "/b", "/shared/rootfs"},
		{"/b", "/srv/rootfs", "/b", "/srv/rootfs"},
		{"/b", "/srv/../rootfs/", "/b", "/rootfs"},
		{"rel/bundle", "rootfs", filepath.Join(cwd, "rel/bundle"), filepath.Join(cwd, "rel/bundle/rootfs")},
		{"", "rootfs", cwd, filepath.Join(cwd, "rootfs")},
	}
	for _, tt := range tests {
		s := Default(false)
		s.Root.Path = tt.root
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "data", Options: []string{"rbind"}})
		p, err := Build(s, Options{Bundle: tt.bundle})
		if err != nil {
			t.Errorf("%q %q: %v", tt.bundle, tt.root, err)
			continue
		}
		if p.Bundle != tt.wantBundle || p.Rootfs != tt.wantFS {
			t.Errorf("%q %q: Bundle %q Rootfs %q, want %q %q", tt.bundle, tt.root, p.Bundle, p.Rootfs, tt.wantBundle, tt.wantFS)
		}
		if src := p.Mounts[len(p.Mounts)-1].Source; src != filepath.Join(tt.wantBundle, "data") {
			t.Errorf("%q: bind source %q not relative to the bundle", tt.bundle, src)
		}
	}
}

func TestBuildLinux(t *testing.T) {
	s := Default(false)
	s.Domainname = "example.org"
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}, "boottime": {Secs: 86400}}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Linux.RootfsPropagation = "rslave"
	s.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
		{Path: "/dev/null/", Type: "c", Major: 1, Minor: 3, FileMode: ptr(os.FileMode(0o600)), UID: ptr(uint32(7)), GID: ptr(uint32(8))},
		{Path: "/dev/kmsg", Type: "u", Major: 1, Minor: 11, FileMode: ptr(os.FileMode(0o4640) | os.ModeCharDevice)},
	}
	p, err := Build(s, Options{ID: "x", Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []TimeOffset{{Clock: "boottime", Secs: 86400}, {Clock: "monotonic", Secs: -5, Nsecs: 7}}; !reflect.DeepEqual(p.TimeOffsets, want) || !p.TimeNS {
		t.Errorf("TimeOffsets = %v (TimeNS %v), want %v", p.TimeOffsets, p.TimeNS, want)
	}
	if !p.SetDomainname || p.Domainname != "example.org" || !p.SetHostname || p.Hostname != "gtu" {
		t.Errorf("hostname %q %v domainname %q %v", p.Hostname, p.SetHostname, p.Domainname, p.SetDomainname)
	}
	if p.RootfsPropagation != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("RootfsPropagation = %#x", p.RootfsPropagation)
	}
	if !reflect.DeepEqual(p.Sysctls, s.Linux.Sysctl) {
		t.Errorf("Sysctls = %v", p.Sysctls)
	}
	s.Linux.Sysctl["net.ipv4.ip_forward"] = "0"
	if p.Sysctls["net.ipv4.ip_forward"] != "1" {
		t.Error("Sysctls shares the spec's map")
	}
	want := []Device{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o666},
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: 0o600, UID: 7, GID: 8},
		{Path: "/dev/kmsg", Type: "u", Major: 1, Minor: 11, FileMode: 0o640},
	}
	for _, d := range defaultDevices {
		if d.Path != "/dev/null" {
			want = append(want, d)
		}
	}
	if !reflect.DeepEqual(p.Devices, want) {
		t.Errorf("Devices =\n%+v\nwant\n%+v", p.Devices, want)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   []string
		is     error
	}{
		{
			name:   "validation first",
			mutate: func(s *specs.Spec) { s.Process.Args = nil; s.Linux.Namespaces[0].Path = "/proc/1/ns/pid" },
			want:   []string{"process.args: must not be empty"},
			is:     ErrInvalid,
		},
		{
			name: "joining a mount or time namespace with a new user namespace",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces,
					specs.LinuxNamespace{Type: specs.UserNamespace},
					specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
				for i, ns := range s.Linux.Namespaces {
					if ns.Type == specs.MountNamespace {
						s.Linux.Namespaces[i].Path = "/proc/1/ns/mnt"
					}
				}
			},
			want: []string{
				"linux.namespaces[4].path: joining an existing mount namespace together with a new user namespace is not supported yet",
				"linux.namespaces[7].path: joining an existing time namespace together with a new user namespace is not supported yet",
			},
			is: ErrUnsupported,
		},
		{
			name: "idmapped mounts",
			mutate: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/a", Source: "/a", Type: "bind", UIDMappings: []specs.LinuxIDMapping{{Size: 1}}},
					specs.Mount{Destination: "/b", Source: "/b", Type: "bind", GIDMappings: []specs.LinuxIDMapping{{Size: 1}}},
					specs.Mount{Destination: "/c", Source: "/c", Options: []string{"rbind", "ridmap", "idmap"}},
				)
			},
			want: []string{
				"mounts[7]: idmapped mounts are not supported yet",
				"mounts[8]: idmapped mounts are not supported yet",
				"mounts[9].options[1]: idmapped mounts are not supported yet",
				"mounts[9].options[2]: idmapped mounts are not supported yet",
			},
			is: ErrUnsupported,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Default(false)
			tt.mutate(s)
			p, err := Build(s, Options{Bundle: "/b"})
			if p != nil {
				t.Errorf("Build() returned a plan with an error")
			}
			checkLines(t, err, tt.want)
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}
