package spec

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		config  *string // nil: no config.json
		dir     bool    // config.json is a directory
		wantErr string
		is      []error
	}{
		{name: "ok", config: ptr(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"future":{"x":1}}`)},
		{name: "missing", wantErr: "config.json: no such file in bundle BUNDLE", is: []error{ErrNoConfig, fs.ErrNotExist}},
		{name: "directory", dir: true, wantErr: "config.json: read BUNDLE/config.json: is a directory"},
		{
			name:    "trailing comma",
			config:  ptr("{\n  \"ociVersion\": \"1.0.2\",\n}"),
			wantErr: "config.json:3:1: invalid character '}' looking for beginning of object key string",
			is:      []error{ErrMalformed},
		},
		{
			name:    "wrong type",
			config:  ptr("{\n  \"process\": {\n    \"args\": 5\n  }\n}"),
			wantErr: "config.json:3:13: process.args: cannot use a JSON number as []string",
			is:      []error{ErrMalformed},
		},
		{
			name:    "truncated",
			config:  ptr("{\n  \"ociVersion\": \"1.0.2\""),
			wantErr: "config.json:2:24: unexpected end of JSON input",
			is:      []error{ErrMalformed},
		},
		{name: "empty", config: ptr(""), wantErr: "config.json:1:1: unexpected end of JSON input", is: []error{ErrMalformed}},
		{
			name:    "trailing garbage",
			config:  ptr("{}\nx"),
			wantErr: "config.json:2:1: invalid character 'x' after top-level value",
			is:      []error{ErrMalformed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := t.TempDir()
			if tt.config != nil {
				if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(*tt.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.dir {
				if err := os.Mkdir(filepath.Join(bundle, "config.json"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Load(bundle)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.Version != "1.0.2" || s.Process.Args[0] != "sh" {
					t.Errorf("Load() = %+v", s)
				}
				return
			}
			want := strings.ReplaceAll(tt.wantErr, "BUNDLE", bundle)
			if err == nil || err.Error() != want {
				t.Fatalf("Load() error = %v, want %s", err, want)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
		})
	}
}

func TestDecodeErrorOther(t *testing.T) {
	inner := errors.New("boom")
	err := decodeError(nil, inner)
	if err.Error() != "config.json: boom" || !errors.Is(err, ErrMalformed) || !errors.Is(err, inner) {
		t.Errorf("decodeError() = %v", err)
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\n\nef")
	tests := []struct {
		idx       int64
		line, col int
	}{
		{-5, 1, 1}, {0, 1, 1}, {1, 1, 2}, {2, 1, 3}, {3, 2, 1}, {6, 3, 1}, {7, 4, 1}, {9, 4, 3}, {100, 4, 3},
	}
	for _, tt := range tests {
		if line, col := position(data, tt.idx); line != tt.line || col != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.idx, line, col, tt.line, tt.col)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadExecBase(t *testing.T) {
	dir := t.TempDir()
	s := Default(false)
	s.Process.Args = []string{"sleep", "1"}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := LoadExecBase(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(base.Process, s.Process) || !reflect.DeepEqual(base.Seccomp(), s.Linux.Seccomp) {
		t.Errorf("LoadExecBase lost the process or the seccomp profile")
	}
	if _, err := LoadExecBase(t.TempDir()); !errors.Is(err, ErrNoConfig) {
		t.Errorf("no config.json: err = %v, want ErrNoConfig", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"process": 7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadExecBase(dir); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: err = %v, want ErrMalformed", err)
	}
	if (&ExecBase{}).Seccomp() != nil {
		t.Error("no linux: want no profile")
	}
}
