package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newTestDir(t *testing.T, id string) (Store, *Dir) {
	t.Helper()
	s := Store{Root: t.TempDir()}
	d, err := s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func TestSaveLoad(t *testing.T) {
	_, d := newTestDir(t, "web")
	if _, err := d.Load(); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load before Save = %v, want ErrNotExist", err)
	}
	want := &State{
		OCIVersion:  "1.3.0",
		ID:          "web",
		Pid:         4242,
		PidStart:    123456789,
		Bundle:      "/srv/web",
		Rootfs:      "/srv/web/rootfs",
		Annotations: map[string]string{"a": "b"},
		Created:     time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Owner:       "root",
		CgroupPaths: map[string]string{"": "/sys/fs/cgroup/gtu/web"},
		Cgroup:      json.RawMessage(`{"path":"/gtu/web"}`),
		OwnPidNS:    true,
		Systemd:     true,
		Rootless:    true,
		Stopped:     true,
	}
	for range 2 { // the second Save replaces the first
		if err := d.Save(want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v\nwant %+v", got, want)
	}
	ents, err := os.ReadDir(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != stateFile {
		t.Errorf("dir holds %v, want only %s", ents, stateFile)
	}
	fi, err := os.Stat(filepath.Join(d.Path(), stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestSaveLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, d *Dir)
		save  *State // nil: call Load
		is    error
	}{
		{
			name: "corrupt",
			setup: func(t *testing.T, d *Dir) {
				write(t, filepath.Join(d.Path(), stateFile), `{"id": `)
			},
		},
		{
			name: "state.json is a directory",
			setup: func(t *testing.T, d *Dir) {
				mkdir(t, filepath.Join(d.Path(), stateFile))
			},
		},
		{
			name:  "save bad raw cgroup",
			setup: func(t *testing.T, d *Dir) {},
			save:  &State{Cgroup: json.RawMessage(`{`)},
		},
		{
			name: "save into removed dir",
			setup: func(t *testing.T, d *Dir) {
				if err := d.Remove(); err != nil {
					t.Fatal(err)
				}
			},
			save: &State{},
			is:   os.ErrNotExist,
		},
		{
			name: "save over a directory",
			setup: func(t *testing.T, d *Dir) {
				mkdir(t, filepath.Join(d.Path(), stateFile, "x"))
			},
			save: &State{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := newTestDir(t, "web")
			tt.setup(t, d)
			var err error
			if tt.save != nil {
				err = d.Save(tt.save)
			} else {
				_, err = d.Load()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if want := filepath.Join(d.Path(), stateFile); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			// A failed Save leaves no temporary file behind.
			ents, _ := os.ReadDir(d.Path())
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("left %s behind", e.Name())
				}
			}
		})
	}
}

func TestLockExcludes(t *testing.T) {
	s, d1 := newTestDir(t, "web")
	d2, err := s.Open("web")
	if err != nil {
		t.Fatal(err)
	}
	if err := d1.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := d1.Lock(); err == nil {
		t.Error("second Lock on the same handle succeeded")
	}
	if err := d2.lock(unix.LOCK_EX | unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("try-lock of a locked container = %v, want EWOULDBLOCK", err)
	}
	if err := d2.lock(unix.LOCK_SH | unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("shared try-lock of a locked container = %v, want EWOULDBLOCK", err)
	}
	done := make(chan error)
	go func() { done <- d2.Lock() }()
	if err := d1.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("blocked Lock = %v", err)
	}
	if err := d1.lock(unix.LOCK_EX | unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("try-lock after hand-over = %v, want EWOULDBLOCK", err)
	}
	if err := d2.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Unlock(); err == nil {
		t.Error("Unlock of an unlocked handle succeeded")
	}
}

func TestLockShared(t *testing.T) {
	s, d1 := newTestDir(t, "web")
	d2, _ := s.Open("web")
	d3, _ := s.Open("web")
	if err := d1.LockShared(); err != nil {
		t.Fatal(err)
	}
	if err := d2.lock(unix.LOCK_SH | unix.LOCK_NB); err != nil {
		t.Fatalf("second shared lock = %v", err)
	}
	if err := d3.lock(unix.LOCK_EX | unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("exclusive try-lock under readers = %v, want EWOULDBLOCK", err)
	}
	for _, d := range []*Dir{d1, d2} {
		if err := d.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d3.lock(unix.LOCK_EX | unix.LOCK_NB); err != nil {
		t.Fatalf("exclusive lock after readers left = %v", err)
	}
	d3.Unlock()
}

func TestLockErrors(t *testing.T) {
	_, d := newTestDir(t, "web")
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := d.Lock(); err == nil || !strings.Contains(err.Error(), d.Path()) {
		t.Errorf("Lock of a removed container = %v, want an error naming %s", err, d.Path())
	}
	d.fd = 1 << 20 // not an open descriptor
	if err := d.Unlock(); !errors.Is(err, unix.EBADF) {
		t.Errorf("Unlock of a bad fd = %v, want EBADF", err)
	}
	if d.fd != -1 {
		t.Errorf("fd after failed Unlock = %d, want -1", d.fd)
	}
}

func TestRemoveError(t *testing.T) {
	// RemoveAll refuses a path ending in ".", the one error it gives as root.
	d := newDir("web", t.TempDir()+"/.")
	if err := d.Remove(); err == nil || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("Remove = %v, want an error naming the container", err)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
}
