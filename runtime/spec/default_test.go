package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefault(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		s := Default(rootless)
		if s.Version != specs.Version || s.Root.Path != "rootfs" || !s.Root.Readonly || s.Hostname != "gtu" {
			t.Errorf("rootless=%v: version %q root %+v hostname %q", rootless, s.Version, s.Root, s.Hostname)
		}
		if s.Hooks != nil {
			t.Errorf("rootless=%v: hooks set", rootless)
		}
		// Docker's default: deny by default (EPERM), an allowlist, and
		// nothing the container's three capabilities do not cover.
		sc := s.Linux.Seccomp
		if sc == nil || sc.DefaultAction != specs.ActErrno || len(sc.Syscalls) < 10 {
			t.Fatalf("rootless=%v: default seccomp profile %+v", rootless, sc)
		}
		allowed := map[string]bool{}
		for _, r := range sc.Syscalls {
			if r.Action == specs.ActAllow && len(r.Args) == 0 {
				for _, n := range r.Names {
					allowed[n] = true
				}
			}
		}
		for _, n := range []string{"read", "write", "execve", "exit_group"} {
			if !allowed[n] {
				t.Errorf("rootless=%v: %s not allowed by the default profile", rootless, n)
			}
		}
		for _, n := range []string{"mount", "kexec_load", "init_module", "reboot", "swapon"} {
			if allowed[n] {
				t.Errorf("rootless=%v: %s allowed by the default profile (Docker's denies it)", rootless, n)
			}
		}
		var types []specs.LinuxNamespaceType
		for _, ns := range s.Linux.Namespaces {
			types = append(types, ns.Type)
		}
		var dests []string
		for _, m := range s.Mounts {
			dests = append(dests, m.Destination)
		}
		wantDests := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}
		wantTypes := []specs.LinuxNamespaceType{"pid", "network", "ipc", "uts", "mount", "cgroup"}
		if rootless {
			wantDests = wantDests[:6]
			wantTypes = []specs.LinuxNamespaceType{"pid", "ipc", "uts", "mount", "cgroup", "user"}
			if s.Linux.Resources != nil {
				t.Error("rootless default has cgroup resources")
			}
			if want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}}; !reflect.DeepEqual(s.Linux.UIDMappings, want) {
				t.Errorf("uidMappings = %v", s.Linux.UIDMappings)
			}
			if slices.Contains(s.Mounts[2].Options, "gid=5") {
				t.Error("rootless devpts has gid=5")
			}
		}
		if !slices.Equal(types, wantTypes) {
			t.Errorf("rootless=%v: namespaces %v, want %v", rootless, types, wantTypes)
		}
		if !slices.Equal(dests, wantDests) {
			t.Errorf("rootless=%v: mounts %v, want %v", rootless, dests, wantDests)
		}

		// What `gtu spec` writes must load back unchanged.
		bundle := t.TempDir()
		data, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := Load(bundle)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("rootless=%v: Load(Default) differs", rootless)
		}
	}
	// Each call returns a fresh spec: callers edit it.
	a, b := Default(false), Default(false)
	a.Process.Capabilities.Effective[0] = "CAP_CHOWN"
	if b.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" || a.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" {
		t.Error("Default shares slices")
	}
}

func TestDefaultRootlessFullMapUsesTTYGroup(t *testing.T) {
	full := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	for _, tt := range []struct {
		gids []specs.LinuxIDMapping
		want bool
	}{{full, true}, {full[:1], false}} {
		s := DefaultRootless(full, tt.gids)
		if !reflect.DeepEqual(s.Linux.GIDMappings, tt.gids) || !reflect.DeepEqual(s.Linux.UIDMappings, full) {
			t.Fatalf("mappings not kept: %v %v", s.Linux.UIDMappings, s.Linux.GIDMappings)
		}
		var pts []string
		for _, m := range s.Mounts {
			if m.Destination == "/dev/pts" {
				pts = m.Options
			}
		}
		if got := slices.Contains(pts, "gid=5"); got != tt.want {
			t.Errorf("gids %v: devpts gid=5 = %v, want %v", tt.gids, got, tt.want)
		}
	}
}
