package main

import "testing"

func TestNeedsSession(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "x"}, true},
		{[]string{"--root", "/r", "create", "-b", "b", "x"}, true},
		{[]string{"--root", "run", "list"}, false}, // "run" is --root's value
		{[]string{"--debug", "exec", "x", "ls"}, true},
		{[]string{"--log-format", "json", "delete", "x"}, true},
		{[]string{"state", "x"}, false},
		{[]string{"list"}, false},
		{[]string{"spec", "--rootless"}, false},
		{[]string{"session", "stop"}, false},
		{[]string{"run", "--help"}, false},
		{[]string{"-v"}, false},
		{[]string{}, false},
		{[]string{"--name", "web", "--rootfs", "a.tar", "--cmd", "true"}, true},
		{[]string{"--name=web", "--rootfs", "a.tar"}, true},
		{[]string{"frobnicate", "x"}, false},
		{[]string{"exec", "x", "--", "sh", "-c", "spec"}, true},
	} {
		if got := needsSession(tt.args); got != tt.want {
			t.Errorf("needsSession(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
