package rootfs

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatfsFlags(t *testing.T) {
	tests := []struct {
		name string
		st   int64
		want uintptr
	}{
		{"relatime is not MS_BIND", unix.ST_RELATIME, unix.MS_RELATIME},
		{"locked set", unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME,
			unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME},
		{"no atime flag means strictatime", unix.ST_NOSUID, unix.MS_NOSUID | unix.MS_STRICTATIME},
		{"noatime", unix.ST_NOATIME | unix.ST_NODIRATIME, unix.MS_NOATIME | unix.MS_NODIRATIME},
		{"others", unix.ST_SYNCHRONOUS | unix.ST_MANDLOCK | stNoSymfollow | unix.ST_RELATIME | 0x20,
			unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK | unix.MS_NOSYMFOLLOW | unix.MS_RELATIME},
	}
	for _, tt := range tests {
		if got := statfsFlags(tt.st); got != tt.want {
			t.Errorf("%s: got %s want %s", tt.name, flagNames(got), flagNames(tt.want))
		}
	}
}

func TestWithLockedFlags(t *testing.T) {
	const rb = unix.MS_BIND | unix.MS_REMOUNT
	tests := []struct {
		name      string
		want, cur uintptr
		out       uintptr
	}{
		{"adds locked nosuid nodev noexec", rb | unix.MS_RDONLY,
			unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME | unix.MS_SYNCHRONOUS,
			rb | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME},
		{"keeps a locked ro", rb | unix.MS_NOSUID, unix.MS_RDONLY | unix.MS_STRICTATIME,
			rb | unix.MS_NOSUID | unix.MS_RDONLY | unix.MS_STRICTATIME},
		{"explicit atime wins", rb | unix.MS_NOATIME, unix.MS_RELATIME, rb | unix.MS_NOATIME},
		{"nothing to add", rb | unix.MS_RDONLY | unix.MS_RELATIME, unix.MS_RELATIME, rb | unix.MS_RDONLY | unix.MS_RELATIME},
	}
	for _, tt := range tests {
		if got := withLockedFlags(tt.want, tt.cur); got != tt.out {
			t.Errorf("%s: got %s want %s", tt.name, flagNames(got), flagNames(tt.out))
		}
	}
}

func TestNeedsBindRemount(t *testing.T) {
	tests := map[uintptr]bool{
		unix.MS_BIND:                                     false,
		unix.MS_BIND | unix.MS_REC:                       false,
		unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY:      true,
		unix.MS_BIND | unix.MS_NOSUID:                    true,
		unix.MS_BIND | unix.MS_RELATIME:                  true,
		unix.MS_BIND | unix.MS_REMOUNT | unix.MS_REC:     false,
		unix.MS_BIND | unix.MS_NODEV | unix.MS_NOEXEC:    true,
		unix.MS_BIND | unix.MS_REC | unix.MS_STRICTATIME: true,
	}
	for flags, want := range tests {
		if got := needsBindRemount(flags); got != want {
			t.Errorf("%s: got %v", flagNames(flags), got)
		}
	}
}

func TestHasOption(t *testing.T) {
	tests := []struct {
		data, key string
		want      bool
	}{
		{"mode=755,size=65536k", "mode", true},
		{"size=1m,mode=1777", "mode", true},
		{"ptmxmode=0666", "mode", false},
		{"", "mode", false},
		{"newinstance", "newinstance", true},
	}
	for _, tt := range tests {
		if got := hasOption(tt.data, tt.key); got != tt.want {
			t.Errorf("hasOption(%q, %q) = %v", tt.data, tt.key, got)
		}
	}
}

func TestFlagNames(t *testing.T) {
	tests := map[uintptr]string{
		0: "0x0",
		unix.MS_RDONLY | unix.MS_BIND | unix.MS_REMOUNT: "ro,remount,bind",
		unix.MS_SLAVE | unix.MS_REC:                     "rec,slave",
		unix.MS_RDONLY | 1<<40:                          "ro,0x10000000000",
	}
	for f, want := range tests {
		if got := flagNames(f); got != want {
			t.Errorf("flagNames(%#x) = %q, want %q", f, got, want)
		}
	}
}

func TestProcDestinationAllowed(t *testing.T) {
	tests := []struct {
		path, fstype string
		want         bool
	}{
		{"/proc", "proc", true},
		{"/proc", "bind", false},
		{"/proc", "tmpfs", false},
		{"/proc/cpuinfo", "bind", true},
		{"/proc/sys/kernel/ns_last_pid", "bind", true},
		{"/proc/self/attr/current", "bind", false},
		{"/proc/sys", "tmpfs", false},
		{"/procfoo", "bind", true},
		{"/sys", "sysfs", true},
		{"/", "bind", true},
	}
	for _, tt := range tests {
		if got := procDestinationAllowed(tt.path, tt.fstype); got != tt.want {
			t.Errorf("procDestinationAllowed(%q, %q) = %v", tt.path, tt.fstype, got)
		}
	}
}
