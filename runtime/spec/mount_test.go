package spec

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestMountOptionFlags(t *testing.T) {
	// Each option alone on a tmpfs, then (for clearing options) after its
	// setting counterpart, so both directions are checked.
	tests := []struct {
		opts  []string
		flags uintptr
	}{
		{[]string{"ro"}, unix.MS_RDONLY},
		{[]string{"ro", "rw"}, 0},
		{[]string{"nosuid"}, unix.MS_NOSUID},
		{[]string{"nosuid", "suid"}, 0},
		{[]string{"nodev"}, unix.MS_NODEV},
		{[]string{"nodev", "dev"}, 0},
		{[]string{"noexec"}, unix.MS_NOEXEC},
		{[]string{"noexec", "exec"}, 0},
		{[]string{"sync"}, unix.MS_SYNCHRONOUS},
		{[]string{"sync", "async"}, 0},
		{[]string{"dirsync"}, unix.MS_DIRSYNC},
		{[]string{"remount"}, unix.MS_REMOUNT},
		{[]string{"mand"}, unix.MS_MANDLOCK},
		{[]string{"mand", "nomand"}, 0},
		{[]string{"noatime"}, unix.MS_NOATIME},
		{[]string{"noatime", "atime"}, 0},
		{[]string{"nodiratime"}, unix.MS_NODIRATIME},
		{[]string{"nodiratime", "diratime"}, 0},
		{[]string{"relatime"}, unix.MS_RELATIME},
		{[]string{"relatime", "norelatime"}, 0},
		{[]string{"strictatime"}, unix.MS_STRICTATIME},
		{[]string{"strictatime", "nostrictatime"}, 0},
		{[]string{"acl"}, unix.MS_POSIXACL},
		{[]string{"acl", "noacl"}, 0},
		{[]string{"iversion"}, unix.MS_I_VERSION},
		{[]string{"iversion", "noiversion"}, 0},
		{[]string{"lazytime"}, unix.MS_LAZYTIME},
		{[]string{"lazytime", "nolazytime"}, 0},
		{[]string{"silent"}, unix.MS_SILENT},
		{[]string{"silent", "loud"}, 0},
		{[]string{"nosymfollow"}, unix.MS_NOSYMFOLLOW},
		{[]string{"defaults"}, 0},
		{[]string{"nosuid", "nodev", "noexec", "ro"}, unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY},
	}
	for _, tt := range tests {
		got := convertMount(specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: tt.opts}, "/b")
		want := Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Flags: tt.flags}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: got %+v, want %+v", tt.opts, got, want)
		}
	}
}

func TestMountPropagationAndAttrs(t *testing.T) {
	const atime = unix.MOUNT_ATTR__ATIME
	tests := []struct {
		opts             []string
		prop             []uintptr
		attrSet, attrClr uint64
	}{
		{opts: []string{"private"}, prop: []uintptr{unix.MS_PRIVATE}},
		{opts: []string{"rprivate"}, prop: []uintptr{unix.MS_PRIVATE | unix.MS_REC}},
		{opts: []string{"slave"}, prop: []uintptr{unix.MS_SLAVE}},
		{opts: []string{"rslave"}, prop: []uintptr{unix.MS_SLAVE | unix.MS_REC}},
		{opts: []string{"shared"}, prop: []uintptr{unix.MS_SHARED}},
		{opts: []string{"rshared"}, prop: []uintptr{unix.MS_SHARED | unix.MS_REC}},
		{opts: []string{"unbindable"}, prop: []uintptr{unix.MS_UNBINDABLE}},
		{opts: []string{"runbindable"}, prop: []uintptr{unix.MS_UNBINDABLE | unix.MS_REC}},
		{opts: []string{"rshared", "private"}, prop: []uintptr{unix.MS_SHARED | unix.MS_REC, unix.MS_PRIVATE}},
		{opts: []string{"rro"}, attrSet: unix.MOUNT_ATTR_RDONLY},
		{opts: []string{"rrw"}, attrClr: unix.MOUNT_ATTR_RDONLY},
		{opts: []string{"rnosuid"}, attrSet: unix.MOUNT_ATTR_NOSUID},
		{opts: []string{"rsuid"}, attrClr: unix.MOUNT_ATTR_NOSUID},
		{opts: []string{"rnodev"}, attrSet: unix.MOUNT_ATTR_NODEV},
		{opts: []string{"rdev"}, attrClr: unix.MOUNT_ATTR_NODEV},
		{opts: []string{"rnoexec"}, attrSet: unix.MOUNT_ATTR_NOEXEC},
		{opts: []string{"rexec"}, attrClr: unix.MOUNT_ATTR_NOEXEC},
		{opts: []string{"rnodiratime"}, attrSet: unix.MOUNT_ATTR_NODIRATIME},
		{opts: []string{"rdiratime"}, attrClr: unix.MOUNT_ATTR_NODIRATIME},
		// Access-time modes are values inside MOUNT_ATTR__ATIME: setting one
		// must clear the whole field (mount_setattr(2)).
		{opts: []string{"rrelatime"}, attrSet: unix.MOUNT_ATTR_RELATIME, attrClr: atime},
		{opts: []string{"rnorelatime"}, attrClr: unix.MOUNT_ATTR_RELATIME},
		{opts: []string{"rnoatime"}, attrSet: unix.MOUNT_ATTR_NOATIME, attrClr: atime},
		{opts: []string{"ratime"}, attrClr: unix.MOUNT_ATTR_NOATIME},
		{opts: []string{"rstrictatime"}, attrSet: unix.MOUNT_ATTR_STRICTATIME, attrClr: atime},
		{opts: []string{"rnostrictatime"}, attrClr: unix.MOUNT_ATTR_STRICTATIME},
		{opts: []string{"rnosymfollow"}, attrSet: unix.MOUNT_ATTR_NOSYMFOLLOW},
		{opts: []string{"rsymfollow"}, attrClr: unix.MOUNT_ATTR_NOSYMFOLLOW},
		{opts: []string{"rro", "rnosuid", "rnodev"}, attrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV},
	}
	for _, tt := range tests {
		got := convertMount(specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: tt.opts}, "/b")
		want := Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Propagation: tt.prop, AttrSet: tt.attrSet, AttrClr: tt.attrClr}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: got %+v, want %+v", tt.opts, got, want)
		}
	}
}

func TestConvertMount(t *testing.T) {
	tests := []struct {
		name string
		in   specs.Mount
		want Mount
	}{
		{
			name: "data options kept in order",
			in:   specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			want: Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		},
		{
			name: "type bind alone is a non-recursive bind",
			in:   specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/etc/hosts"},
			want: Mount{Destination: "/etc/hosts", Type: "bind", Source: "/etc/hosts", Flags: unix.MS_BIND},
		},
		{
			name: "rbind option on type none",
			in:   specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "ro"}},
			want: Mount{Destination: "/sys", Type: "bind", Source: "/sys", Flags: unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_RDONLY},
		},
		{
			name: "bind option without type, relative source",
			in:   specs.Mount{Destination: "/data", Source: "data/dir", Options: []string{"bind", "rprivate"}},
			want: Mount{Destination: "/data", Type: "bind", Source: "/b/data/dir", Flags: unix.MS_BIND, Propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}},
		},
		{
			name: "relative source of a non-bind mount is left alone",
			in:   specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"},
			want: Mount{Destination: "/proc", Type: "proc", Source: "proc"},
		},
		{
			name: "unknown options are filesystem data",
			in:   specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "newinstance", "ptmxmode=0666", "tmpcopyup"}},
			want: Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Flags: unix.MS_NOSUID, Data: "newinstance,ptmxmode=0666,tmpcopyup"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := convertMount(tt.in, "/b"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMountOptionNames(t *testing.T) {
	names := mountOptionNames()
	if len(names) != len(mountFlags)+len(propagationFlags)+len(recAttrFlags) {
		t.Fatalf("names overlap between tables: %v", names)
	}
	for _, want := range []string{"ro", "rbind", "rslave", "rro", "nosymfollow", "rnosymfollow"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("%q missing from %v", want, names)
		}
	}
}
