package spec

import (
	"errors"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// session is a rootless session of uid 1001 with subordinate ids
// 100000+65536: 0 -> 1001, 1..65536 -> 100000..165535.
var session = []IDMap{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name    string
		in      []IDMap
		want    []IDMap
		wantErr bool
	}{
		{"caller only", []IDMap{{0, 1001, 1}}, []IDMap{{0, 0, 1}}, false},
		{"subordinate slice", []IDMap{{0, 100000, 1000}}, []IDMap{{0, 1, 1000}}, false},
		{"spans the caller and the range", []IDMap{{5, 1001, 1}, {6, 100000, 10}}, []IDMap{{5, 0, 1}, {6, 1, 10}}, false},
		{"split across entries", []IDMap{{0, 165535, 1}}, []IDMap{{0, 65536, 1}}, false},
		{"beyond the range", []IDMap{{0, 165530, 10}}, nil, true},
		{"unmapped host id", []IDMap{{0, 0, 1}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inner("linux.uidMappings", tt.in, session, "uid")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrNotMapped) {
					t.Errorf("err %v is not ErrNotMapped", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTranslateErrorNamesField(t *testing.T) {
	_, err := inner("linux.gidMappings", []IDMap{{0, 1001, 1}, {1, 300000, 5}}, session, "gid")
	want := "linux.gidMappings[1]: host gid 300000 (of 300000+5) is not mapped into the rootless session: add it to /etc/subgid for this user"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestTranslateDropsIdentityUserNS(t *testing.T) {
	full := []IDMap{{0, 1001, 1}, {1, 100000, 65536}}
	for _, tt := range []struct {
		name     string
		uid, gid []IDMap
		keep     bool
	}{
		{"full map becomes the session's own", full, full, false},
		{"single map stays a namespace", []IDMap{{0, 1001, 1}}, []IDMap{{0, 1001, 1}}, true},
		{"uid full, gid partial", full, []IDMap{{0, 1001, 1}}, true},
		{"same ids, other order", []IDMap{{1, 100000, 65536}, {0, 1001, 1}}, full, false},
		{"shifted", []IDMap{{1, 1001, 1}, {2, 100000, 65535}}, full, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{UserNS: true, CloneFlags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, UIDMappings: tt.uid, GIDMappings: tt.gid}
			o := &Outer{UID: session, GID: session}
			if err := o.translate(p); err != nil {
				t.Fatal(err)
			}
			if p.UserNS != tt.keep || (p.CloneFlags&unix.CLONE_NEWUSER != 0) != tt.keep {
				t.Fatalf("UserNS = %v, flags %#x; want a user namespace: %v", p.UserNS, p.CloneFlags, tt.keep)
			}
			if p.CloneFlags&unix.CLONE_NEWNS == 0 {
				t.Error("the mount namespace was dropped too")
			}
			if !tt.keep && (p.UIDMappings != nil || p.GIDMappings != nil) {
				t.Errorf("mappings kept without a namespace: %v %v", p.UIDMappings, p.GIDMappings)
			}
		})
	}
}

func TestBuildTranslatesOnlyWithOuter(t *testing.T) {
	s := minimal()
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}
	p, err := Build(s, Options{ID: "x", Bundle: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.UIDMappings[0].HostID != 1001 {
		t.Errorf("without Outer: host id %d, want 1001 unchanged", p.UIDMappings[0].HostID)
	}
	p, err = Build(s, Options{ID: "x", Bundle: t.TempDir(), Outer: &Outer{UID: session, GID: session}})
	if err != nil {
		t.Fatal(err)
	}
	if p.UIDMappings[0].HostID != 0 || !p.UserNS {
		t.Errorf("with Outer: %+v userns %v, want host id 0 in a new user namespace", p.UIDMappings, p.UserNS)
	}
}
