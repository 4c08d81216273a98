package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// inRoot opens what pathrs-lite would, inside root: plain paths by one
// confined openat2, anything through a symlink or ".." by pathrs-lite.
func TestInRootSameAsPathrs(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"proc/acpi", "sys/firmware", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "proc/kcore"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// An absolute symlink must resolve inside root, not on the host.
	if err := os.Symlink("/etc", filepath.Join(dir, "proc/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../..", filepath.Join(dir, "sys/up")); err != nil {
		t.Fatal(err)
	}
	root, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	inode := func(f *os.File) uint64 {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return st.Ino
	}
	for _, path := range []string{"/proc/acpi", "/proc/kcore", "proc/../sys/firmware", "/proc/link", "/sys/up", "/etc", "proc//acpi/.", "/sys/up/proc/link"} {
		f, err := inRoot(root, path)
		if err != nil {
			t.Errorf("open %s: %v", path, err)
			continue
		}
		want, err := pathrs.OpenatInRoot(root, path)
		if err != nil {
			t.Fatalf("pathrs %s: %v", path, err)
		}
		if got, want := inode(f), inode(want); got != want {
			t.Errorf("open %s: inode %d, pathrs-lite finds %d", path, got, want)
		}
	}
	for _, p := range []string{"/proc/timer_stats", "/sys/nope/deeper", "/nope", "/proc/link/nope"} {
		if _, err := inRoot(root, p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("open %s: %v, want not exist", p, err)
		}
	}
}

// mkdirIn makes a missing directory as pathrs-lite's MkdirAllHandle would,
// and never follows a symlink out of root while doing it the short way.
func TestMkdirInSameAsPathrs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		path  string
	}{
		{"missing leaf", func(string) {}, "/dev/pts"},
		{"missing parents", func(string) {}, "/a/b/c"},
		{"existing", func(string) {}, "/dev"},
		{"leaf is a symlink in root", func(dir string) {
			os.Symlink("/etc", filepath.Join(dir, "dev/shm"))
		}, "/dev/shm"},
		{"leaf is a dangling symlink", func(dir string) {
			os.Symlink("/nope", filepath.Join(dir, "dev/mqueue"))
		}, "/dev/mqueue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := [2]string{}
			for i, fn := range []func(*os.File, string) (*os.File, error){mkdirIn, func(r *os.File, p string) (*os.File, error) { return pathrs.MkdirAllHandle(r, p, 0o755) }} {
				dir := t.TempDir()
				for _, d := range []string{"dev", "etc"} {
					if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				tc.setup(dir)
				root, err := openRoot(dir)
				if err != nil {
					t.Fatal(err)
				}
				f, err := fn(root, tc.path)
				root.Close()
				if err != nil {
					results[i] = "error"
					continue
				}
				link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
				f.Close()
				results[i] = strings.TrimPrefix(link, dir)
			}
			if results[0] != results[1] {
				t.Errorf("mkdirIn(%s) opened %q, MkdirAllHandle %q", tc.path, results[0], results[1])
			}
		})
	}
}
