package main

import (
	"archive/tar"
	"errors"
	"testing"
)

func TestChecker(t *testing.T) {
	sym := func(name, to string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to}
	}
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg} }
	dir := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeDir} }
	for _, tc := range []struct {
		name     string
		rootless bool
		layers   [][]*tar.Header
		bad      string // the entry refused, "" for none
	}{
		{"plain", false, [][]*tar.Header{{dir("./"), dir("bin/"), reg("./bin/sh"), sym("bin/ls", "/bin/busybox"), sym("etc/localtime", "/usr/share/zoneinfo/UTC")}}, ""},
		{"leading slash", false, [][]*tar.Header{{reg("/etc/passwd")}}, ""},
		{"dot-dot", false, [][]*tar.Header{{reg("../x")}}, "../x"},
		{"dot-dot after a dir", false, [][]*tar.Header{{reg("a/../../x")}}, "a/../../x"},
		{"dot-dot staying inside", false, [][]*tar.Header{{reg("a/../x")}}, ""},
		{"write through absolute symlink", false, [][]*tar.Header{{sym("e", "/tmp"), reg("e/x")}}, "e/x"},
		{"write through relative symlink", false, [][]*tar.Header{{sym("e", "usr"), dir("e/d/")}}, "e/d/"},
		{"relative symlink out", false, [][]*tar.Header{{sym("a/e", "../../x")}}, "a/e"},
		{"symlink replaced by a dir", false, [][]*tar.Header{{sym("e", "/tmp"), dir("e/"), reg("e/x")}}, ""},
		{"symlink of a lower layer", false, [][]*tar.Header{{sym("e", "/tmp")}, {reg("e/x")}}, "e/x"},
		{"symlink whited out above", false, [][]*tar.Header{{sym("e", "/tmp")}, {reg(".wh.e"), reg("e/x")}}, ""},
		{"opaque dir hides lower symlinks", false, [][]*tar.Header{{sym("d/e", "/tmp")}, {reg("d/.wh..wh..opq"), reg("d/e/x")}}, ""},
		{"opaque dir keeps its own layer's", false, [][]*tar.Header{{sym("d/e", "/tmp"), reg("d/.wh..wh..opq"), reg("d/e/x")}}, "d/e/x"},
		{"hard link out", false, [][]*tar.Header{{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../etc/shadow"}}}, "h"},
		{"hard link through symlink", false, [][]*tar.Header{{sym("e", "/"), {Name: "h", Typeflag: tar.TypeLink, Linkname: "e/etc/shadow"}}}, "h"},
		{"device as root", false, [][]*tar.Header{{{Name: "dev/null", Typeflag: tar.TypeChar}}}, ""},
		{"device rootless", true, [][]*tar.Header{{{Name: "dev/null", Typeflag: tar.TypeChar}}}, "dev/null"},
		{"fifo rootless", true, [][]*tar.Header{{{Name: "p", Typeflag: tar.TypeFifo}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(tc.rootless)
			var bad string
			var err error
		layers:
			for _, l := range tc.layers {
				c.nextLayer()
				for _, h := range l {
					if err = c.check(h); err != nil {
						bad = h.Name
						break layers
					}
				}
			}
			if bad != tc.bad {
				t.Errorf("refused %q (%v), want %q", bad, err, tc.bad)
			}
			if err != nil && !errors.Is(err, errHostile) {
				t.Errorf("error %v is not errHostile", err)
			}
		})
	}
}
