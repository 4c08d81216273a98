package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"web", true},
		{"A-z_0+9.x", true},
		{"...", true},
		{strings.Repeat("a", maxIDLen), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("a", maxIDLen+1), false},
		{"a/b", false},
		{"../etc", false},
		{"a b", false},
		{"a\x00b", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		if tt.ok != (err == nil) {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, does not wrap ErrInvalidID", tt.id, err)
		}
	}
}

func TestCreateOpenRemove(t *testing.T) {
	s := Store{Root: filepath.Join(t.TempDir(), "run", "gtu")}
	d, err := s.Create("web")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() != "web" || d.Path() != filepath.Join(s.Root, "web") {
		t.Errorf("Create: id %q path %q", d.ID(), d.Path())
	}
	if d.FifoPath() != filepath.Join(s.Root, "web", "exec.fifo") {
		t.Errorf("FifoPath = %q", d.FifoPath())
	}
	for _, p := range []string{s.Root, d.Path()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", p, fi.Mode().Perm())
		}
	}

	_, err = s.Create("web")
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("second Create = %v, want ErrExists naming the id", err)
	}

	o, err := s.Open("web")
	if err != nil {
		t.Fatal(err)
	}
	if o.Path() != d.Path() {
		t.Errorf("Open path %q, Create path %q", o.Path(), d.Path())
	}
	if err := o.Remove(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Open("web")
	if !errors.Is(err, ErrNotExist) || err.Error() != `container "web" does not exist` {
		t.Errorf("Open after Remove = %v", err)
	}
	if err := o.Remove(); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
}

func TestStoreErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Mkdir through it gives ENOENT, MkdirAll then meets a non-directory.
	dangling := filepath.Join(tmp, "dangling")
	if err := os.Symlink(filepath.Join(tmp, "missing", "x"), dangling); err != nil {
		t.Fatal(err)
	}
	notDir := Store{Root: tmp}
	if err := os.WriteFile(filepath.Join(tmp, "plain"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		run  func() error
		is   error // nil: any error
	}{
		{"create invalid id", func() error { _, err := Store{Root: tmp}.Create("a/b"); return err }, ErrInvalidID},
		{"open invalid id", func() error { _, err := Store{Root: tmp}.Open(".."); return err }, ErrInvalidID},
		{"create under file", func() error { _, err := Store{Root: file}.Create("x"); return err }, nil},
		{"create root fails", func() error { _, err := Store{Root: dangling}.Create("x"); return err }, nil},
		{"open under file", func() error { _, err := Store{Root: file}.Open("x"); return err }, nil},
		{"open non-directory", func() error { _, err := notDir.Open("plain"); return err }, nil},
		{"open missing root", func() error { _, err := Store{Root: filepath.Join(tmp, "nope")}.Open("x"); return err }, ErrNotExist},
		{"list file root", func() error { _, err := Store{Root: file}.List(); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v does not wrap %v", err, tt.is)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q is not lowercase", err)
			}
		})
	}
}

func TestList(t *testing.T) {
	tmp := t.TempDir()
	s := Store{Root: tmp}
	ids, err := Store{Root: filepath.Join(tmp, "missing")}.List()
	if err != nil || len(ids) != 0 {
		t.Fatalf("List of missing root = %v, %v", ids, err)
	}
	for _, id := range []string{"c", "a", "b", "nostate"} {
		d, err := s.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		if id != "nostate" {
			if err := d.Save(&State{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Noise: a plain file, and a directory whose name is not a valid id.
	if err := os.WriteFile(filepath.Join(tmp, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "bad id", stateFile), 0o700); err != nil {
		t.Fatal(err)
	}
	ids, err = s.List()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("List = %q, want %q", ids, want)
	}

	// A state.json that cannot be probed is an error, not a silent skip.
	loop := filepath.Join(tmp, "loop")
	if err := os.Mkdir(loop, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stateFile, filepath.Join(loop, stateFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(); err == nil || !strings.Contains(err.Error(), loop) {
		t.Errorf("List with a symlink loop = %v, want an error naming %s", err, loop)
	}
}
