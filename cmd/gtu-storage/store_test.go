package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWhoami(t *testing.T) {
	for _, tc := range []struct {
		name, uidMap string
		euid         int
		want         identity
	}{
		{"host root", "0 0 4294967295\n", 0, identity{rootless: false, hostUID: 0}},
		{"host user", "0 0 4294967295\n", 1001, identity{rootless: true, hostUID: 1001}},
		{"rootlesskit", "0 1001 1\n1 100000 65536\n", 0, identity{rootless: true, hostUID: 1001}},
		{"userns, mapped user", "0 1001 1\n1 100000 65536\n", 5, identity{rootless: true, hostUID: 100004}},
		{"root mapped as itself, partial", "0 0 65536\n", 0, identity{rootless: true, hostUID: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "uid_map")
			if err := os.WriteFile(p, []byte(tc.uidMap), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := whoami(p, tc.euid)
			if err != nil || got != tc.want {
				t.Errorf("whoami = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "uid_map")
	os.WriteFile(p, []byte("0 x 1\n"), 0o644)
	if _, err := whoami(p, 0); err == nil {
		t.Error("a malformed uid_map: no error")
	}
}

func TestLocate(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name          string
		who           identity
		env           map[string]string
		root, runRoot string
	}{
		{"root", identity{}, nil, "/var/lib/gtu/storage", "/run/gtu/storage"},
		{"GOPHERTAINER_ROOT", identity{}, map[string]string{"GOPHERTAINER_ROOT": "/g"}, "/g/storage", "/g/run/storage"},
		{"rootless xdg", identity{rootless: true, hostUID: 4242}, map[string]string{"XDG_DATA_HOME": "/d", "XDG_RUNTIME_DIR": "/r"}, "/d/gtu/storage", "/r/gtu/storage"},
		{"rootless no passwd entry", identity{rootless: true, hostUID: 4242424}, map[string]string{"HOME": "/h"}, "/h/.local/share/gtu/storage", "/run/user/4242424/gtu/storage"},
		{"rootless GOPHERTAINER_ROOT", identity{rootless: true, hostUID: 1}, map[string]string{"GOPHERTAINER_ROOT": "/g", "XDG_DATA_HOME": "/d"}, "/g/storage", "/g/run/storage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, run, err := locate(tc.who, env(tc.env))
			if err != nil || root != tc.root || run != tc.runRoot {
				t.Errorf("locate = %s, %s, %v; want %s, %s", root, run, err, tc.root, tc.runRoot)
			}
		})
	}
	if _, _, err := locate(identity{rootless: true, hostUID: 4242424}, env(nil)); err == nil {
		t.Error("rootless without HOME or passwd entry: no error")
	}
}
