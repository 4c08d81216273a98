package spec

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// base is a valid spec for the validation tests to break.
func base() *specs.Spec { return Default(false) }

func TestValidate(t *testing.T) {
	ns := func(types ...specs.LinuxNamespaceType) []specs.LinuxNamespace {
		var out []specs.LinuxNamespace
		for _, t := range types {
			out = append(out, specs.LinuxNamespace{Type: t})
		}
		return out
	}
	idmap := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   []string // every error line, in order; nil: valid
	}{
		{name: "default is valid", mutate: func(*specs.Spec) {}},
		{name: "rootless default is valid", mutate: func(s *specs.Spec) { *s = *Default(true) }},
		{name: "ociVersion 1.0.0", mutate: func(s *specs.Spec) { s.Version = "1.0.0" }},
		{name: "ociVersion 1.1.0-rc.1", mutate: func(s *specs.Spec) { s.Version = "1.1.0-rc.1" }},
		{name: "ociVersion missing", mutate: func(s *specs.Spec) { s.Version = "" }, want: []string{"ociVersion: required"}},
		{name: "ociVersion 2", mutate: func(s *specs.Spec) { s.Version = "2.0.0" }, want: []string{`ociVersion: unsupported version "2.0.0" (gtu supports 1.x)`}},
		{name: "ociVersion 1", mutate: func(s *specs.Spec) { s.Version = "1" }, want: []string{`ociVersion: unsupported version "1" (gtu supports 1.x)`}},
		{name: "ociVersion 1.x", mutate: func(s *specs.Spec) { s.Version = "1.x" }, want: []string{`ociVersion: unsupported version "1.x" (gtu supports 1.x)`}},
		{name: "root missing", mutate: func(s *specs.Spec) { s.Root = nil }, want: []string{"root.path: required"}},
		{name: "root.path empty", mutate: func(s *specs.Spec) { s.Root.Path = "" }, want: []string{"root.path: required"}},
		{name: "process missing", mutate: func(s *specs.Spec) { s.Process = nil }, want: []string{"process: required"}},
		{name: "args empty", mutate: func(s *specs.Spec) { s.Process.Args = nil }, want: []string{"process.args: must not be empty"}},
		{name: "cwd relative", mutate: func(s *specs.Spec) { s.Process.Cwd = "home" }, want: []string{"process.cwd: must be absolute"}},
		{name: "cwd empty", mutate: func(s *specs.Spec) { s.Process.Cwd = "" }, want: []string{"process.cwd: must be absolute"}},
		{
			name:   "env",
			mutate: func(s *specs.Spec) { s.Process.Env = []string{"A=1", "B", "=x", "C=\x00", "D="} },
			want: []string{
				`process.env[1]: "B" is not of the form KEY=VALUE`,
				`process.env[2]: "=x" is not of the form KEY=VALUE`,
				`process.env[3]: "C=\x00" is not of the form KEY=VALUE`,
			},
		},
		{
			name: "unknown capabilities",
			mutate: func(s *specs.Spec) {
				s.Process.Capabilities = &specs.LinuxCapabilities{
					Bounding:    []string{"CAP_KILL", "CAP_FOO"},
					Effective:   []string{"kill"},
					Inheritable: []string{"CAP_kill"},
					Permitted:   []string{"CAP_CHECKPOINT_RESTORE", ""},
					Ambient:     []string{"CAP_BAR"},
				}
			},
			want: []string{
				`process.capabilities.bounding[1]: unknown capability "CAP_FOO"`,
				`process.capabilities.effective[0]: unknown capability "kill"`,
				`process.capabilities.inheritable[0]: unknown capability "CAP_kill"`,
				`process.capabilities.permitted[1]: unknown capability ""`,
				`process.capabilities.ambient[0]: unknown capability "CAP_BAR"`,
			},
		},
		{
			name: "rlimits",
			mutate: func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{
					{Type: "RLIMIT_FOO"},
					{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1},
					{Type: "RLIMIT_CORE", Soft: 2, Hard: 1},
					{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1},
				}
			},
			want: []string{
				`process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"`,
				`process.rlimits[2]: soft limit 2 is above hard limit 1`,
				`process.rlimits[3].type: duplicate rlimit "RLIMIT_NOFILE"`,
			},
		},
		{name: "oomScoreAdj ok", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(-1000) }},
		{name: "oomScoreAdj", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(1001) }, want: []string{"process.oomScoreAdj: 1001 is outside [-1000, 1000]"}},
		{name: "umask ok", mutate: func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o777)) }},
		{name: "umask", mutate: func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o1000)) }, want: []string{"process.user.umask: 01000 is not a permission mask"}},
		{
			name: "mounts",
			mutate: func(s *specs.Spec) {
				s.Mounts = []specs.Mount{
					{Destination: "/ok", Type: "tmpfs", Source: "tmpfs"},
					{Destination: "/ok2", Type: "fuse.sshfs", Source: "x"},
					{Destination: "rel", Type: "tmpfs"},
					{Destination: "/b", Type: "bind"},
					{Destination: "/c", Options: []string{"rbind"}},
					{Destination: "/d"},
					{Destination: "/e", Type: "tmp fs"},
					{Destination: "/f", Type: "tmpfs", Options: []string{"ro", "", " ", "a,b", "x\x00"}},
				}
			},
			want: []string{
				"mounts[2].destination: must be absolute",
				"mounts[3].source: required for a bind mount",
				"mounts[4].source: required for a bind mount",
				"mounts[5].type: required unless the mount is a bind mount",
				`mounts[6].type: invalid filesystem type "tmp fs"`,
				`mounts[7].options[1]: invalid option ""`,
				`mounts[7].options[2]: invalid option " "`,
				`mounts[7].options[3]: invalid option "a,b"`,
				`mounts[7].options[4]: invalid option "x\x00"`,
			},
		},
		{
			name: "namespaces",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces,
					specs.LinuxNamespace{Type: "foo"},
					specs.LinuxNamespace{Type: "pid", Path: "/proc/1/ns/pid"},
					specs.LinuxNamespace{Type: "time", Path: "proc/1/ns/time"},
				)
			},
			want: []string{
				`linux.namespaces[6].type: unknown namespace "foo"`,
				`linux.namespaces[7].type: duplicate namespace "pid"`,
				`linux.namespaces[8].path: must be absolute`,
			},
		},
		{
			name:   "no linux at all",
			mutate: func(s *specs.Spec) { s.Linux = nil; s.Hostname = "" },
			want:   []string{"linux: required"},
		},
		{
			name:   "hostname and domainname without uts",
			mutate: func(s *specs.Spec) { s.Linux.Namespaces = ns("mount"); s.Domainname = "example.org" },
			want:   []string{"hostname: requires a uts namespace", "domainname: requires a uts namespace"},
		},
		{name: "uts joined by path is enough", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(ns("mount"), specs.LinuxNamespace{Type: "uts", Path: "/run/netns/x"})
		}},
		{
			name:   "user namespace without mappings",
			mutate: func(s *specs.Spec) { s.Linux.Namespaces = ns("mount", "uts", "user") },
			want:   []string{"linux.uidMappings: required with a new user namespace", "linux.gidMappings: required with a new user namespace"},
		},
		{
			name: "joined user namespace needs no mappings",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(ns("mount", "uts"), specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
			},
		},
		{
			name: "mappings without user namespace",
			mutate: func(s *specs.Spec) {
				s.Linux.UIDMappings = []specs.LinuxIDMapping{idmap(0, 0, 1)}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{idmap(0, 0, 1)}
			},
			want: []string{"linux.uidMappings: set without a user namespace", "linux.gidMappings: set without a user namespace"},
		},
		{
			name: "bad mapping ranges",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{
					idmap(0, 1000, 1),
					idmap(1, 100000, 0),
					idmap(1, 4294967295, 2),
					idmap(1, 100000, 65536),
					idmap(0, 200000, 5),
					idmap(70000, 100100, 10),
				}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{idmap(0, 1000, 1)}
			},
			want: []string{
				"linux.uidMappings[1].size: must not be zero",
				"linux.uidMappings[2]: range does not fit in 32-bit ids",
				"linux.uidMappings[4]: container ids 0+5 overlap linux.uidMappings[0]",
				"linux.uidMappings[4]: container ids 0+5 overlap linux.uidMappings[3]",
				"linux.uidMappings[5]: host ids 100100+10 overlap linux.uidMappings[3]",
			},
		},
		{
			name: "too many mapping lines",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
				for i := range uint32(341) {
					s.Linux.UIDMappings = append(s.Linux.UIDMappings, idmap(i, i, 1))
				}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{idmap(0, 1000, 1)}
			},
			want: []string{"linux.uidMappings: 341 ranges exceed the kernel's limit of 340"},
		},
		{
			name: "sysctls allowed",
			mutate: func(s *specs.Spec) {
				s.Hostname = ""
				s.Linux.Sysctl = map[string]string{
					"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "fs.mqueue.msg_max": "1",
					"kernel.domainname": "x", "kernel.hostname": "h", "net.ipv4.conf.eth0/100.forwarding": "1",
				}
			},
		},
		{
			name: "sysctls without their namespace",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = ns("mount")
				s.Hostname = ""
				s.Linux.Sysctl = map[string]string{
					"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "kernel.sem": "1", "fs.mqueue.msg_max": "1",
					"kernel.domainname": "x", "kernel.hostname": "h",
				}
			},
			want: []string{
				`linux.sysctl["fs.mqueue.msg_max"]: requires an ipc namespace`,
				`linux.sysctl["kernel.domainname"]: requires a uts namespace`,
				`linux.sysctl["kernel.hostname"]: requires a uts namespace`,
				`linux.sysctl["kernel.sem"]: requires an ipc namespace`,
				`linux.sysctl["kernel.shmmax"]: requires an ipc namespace`,
				`linux.sysctl["net.ipv4.ip_forward"]: requires a network namespace`,
			},
		},
		{
			name: "sysctls that are not namespaced or malformed",
			mutate: func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{
					"vm.swappiness": "1", "kernel.hostname": "h", "net..x": "1", ".net": "1", "net.a b": "1", "": "1",
				}
			},
			want: []string{
				`linux.sysctl[""]: not a sysctl name`,
				`linux.sysctl[".net"]: not a sysctl name`,
				`linux.sysctl["kernel.hostname"]: conflicts with hostname`,
				`linux.sysctl["net..x"]: not a sysctl name`,
				`linux.sysctl["net.a b"]: not a sysctl name`,
				`linux.sysctl["vm.swappiness"]: not namespaced: setting it would change the host`,
			},
		},
		{
			name: "time offsets",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
				s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
					"monotonic": {Secs: -10},
					"boottime":  {Secs: 10, Nanosecs: 1e9},
					"realtime":  {Secs: 1},
				}
			},
			want: []string{
				`linux.timeOffsets["boottime"].nanosecs: must be below 1000000000`,
				`linux.timeOffsets["realtime"]: unknown clock (want boottime or monotonic)`,
			},
		},
		{
			name: "time offsets without time namespace",
			mutate: func(s *specs.Spec) {
				s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
			},
			want: []string{"linux.timeOffsets: requires a time namespace"},
		},
		{
			name: "devices",
			mutate: func(s *specs.Spec) {
				s.Linux.Devices = []specs.LinuxDevice{
					{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
					{Path: "dev/x", Type: "c"},
					{Path: "/dev/fuse/", Type: "u"},
					{Path: "/dev/sda", Type: "x"},
					{Path: "/dev/fifo", Type: "p"},
					{Path: "/dev/sdb", Type: "b"},
				}
			},
			want: []string{
				"linux.devices[1].path: must be absolute",
				`linux.devices[2].path: duplicate device "/dev/fuse/"`,
				`linux.devices[3].type: unknown device type "x" (want c, b, u or p)`,
			},
		},
		{name: "rootfsPropagation ok", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" }},
		{name: "rootfsPropagation", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "bogus" }, want: []string{`linux.rootfsPropagation: unknown propagation "bogus"`}},
		{
			name: "masked and readonly paths",
			mutate: func(s *specs.Spec) {
				s.Linux.MaskedPaths = []string{"/proc/kcore", "proc/keys"}
				s.Linux.ReadonlyPaths = []string{"sys"}
			},
			want: []string{"linux.maskedPaths[1]: must be absolute", "linux.readonlyPaths[0]: must be absolute"},
		},
		{
			name: "many problems at once",
			mutate: func(s *specs.Spec) {
				s.Version = ""
				s.Process.Args = nil
				s.Mounts[0].Destination = "proc"
			},
			want: []string{"ociVersion: required", "process.args: must not be empty", "mounts[0].destination: must be absolute"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.mutate(s)
			err := Validate(s)
			checkLines(t, err, tt.want)
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	if err := Validate(nil); err == nil || !errors.Is(err, ErrInvalid) {
		t.Errorf("Validate(nil) = %v", err)
	}
}

// checkLines compares an errors.Join'ed error with the expected lines.
func checkLines(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error:\n%v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want:\n%s", strings.Join(want, "\n"))
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}
