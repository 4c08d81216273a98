package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

func TestVerbModel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		verb string // field of CLI kept; "" when the whole model must be used
	}{
		{[]string{"run", "x"}, "Run"},
		{[]string{"--root", "/r", "--log", "l", "--log-format", "json", "create", "-b", "b", "x"}, "Create"},
		{[]string{"--root=/r", "--debug", "--systemd-cgroup", "--rootless", "delete", "-f", "x"}, "Delete"},
		{[]string{"--root", "run", "state", "x"}, "State"},    // "run" is --root's value
		{[]string{"exec", "x", "--", "sh", "--help"}, "Exec"}, // --help is the process's
		{[]string{"cgroup-delegate", "--user", "u"}, "CgroupDelegate"},
		{[]string{"-v"}, ""},
		{[]string{}, ""},
		{[]string{"run", "--help"}, ""},
		{[]string{"-h", "run"}, ""},
		{[]string{"help"}, ""},
		{[]string{"--", "run"}, ""},
	} {
		model, ok := verbModel(tc.args)
		if tc.verb == "" {
			if ok {
				t.Errorf("%q: got a model %v, want the whole model", tc.args, model)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: no model, want one with %s", tc.args, tc.verb)
			continue
		}
		typ := reflect.TypeFor[CLI]()
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			_, isCmd := f.Tag.Lookup("cmd")
			mf, kept := model.FieldByName(f.Name)
			want := f.IsExported() && (!isCmd || f.Name == tc.verb)
			if kept != want {
				t.Errorf("%q: the model keeps %s: %v, want %v", tc.args, f.Name, kept, want)
			}
			if kept && (mf.Type != f.Type || mf.Tag != f.Tag) {
				t.Errorf("%q: field %s differs: %v %q", tc.args, f.Name, mf.Type, mf.Tag)
			}
		}
	}
}

// TestParseSameAsWholeModel checks that the reduced model parses command
// lines as the whole model does: the same verb, global flags and verb
// flags (the dropped verbs' defaults are never read).
func TestParseSameAsWholeModel(t *testing.T) {
	for _, args := range [][]string{
		{"run", "x"},
		{"--root", "/r", "run", "-d", "--keep", "-b", "/b", "--pid-file", "p", "x"},
		{"--log-format=json", "--debug", "create", "--console-socket", "s", "--preserve-fds", "2", "x"},
		{"--rootless", "start", "x"},
		{"--rootless=false", "--systemd-cgroup", "delete", "--force", "x"},
		{"kill", "x", "KILL"},
		{"exec", "-t", "-e", "A=1", "--cwd", "/", "x", "--", "sh", "-c", "true"},
		{"update", "--cpu-quota", "-1", "x"},
		{"state", "x"},
		{"list", "-q"},
		{"run"}, // an error in both
	} {
		var full CLI
		p, err := kong.New(&full, kongOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		fctx, ferr := p.Parse(args)
		var small CLI
		sctx, serr := parse(&small, args)
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Errorf("%q: whole model: %v, reduced: %v", args, ferr, serr)
			continue
		}
		if ferr != nil {
			continue
		}
		if fctx.Command() != sctx.Command() {
			t.Errorf("%q: command %q, reduced %q", args, fctx.Command(), sctx.Command())
			continue
		}
		verb := strings.Fields(fctx.Command())[0]
		fv, sv := reflect.ValueOf(full), reflect.ValueOf(small)
		for i := 0; i < fv.NumField(); i++ {
			f := fv.Type().Field(i)
			if _, isCmd := f.Tag.Lookup("cmd"); (isCmd && kebab(f.Name) != verb) || !f.IsExported() {
				continue
			}
			if !reflect.DeepEqual(fv.Field(i).Interface(), sv.Field(i).Interface()) {
				t.Errorf("%q: %s = %+v, reduced %+v", args, f.Name, fv.Field(i), sv.Field(i))
			}
		}
	}
}

func TestBundleArg(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "x"}, ""},
		{[]string{"--root", "/r", "run", "--bundle", "/b", "x"}, "/b"},
		{[]string{"create", "-b", "/b", "x"}, "/b"},
		{[]string{"create", "--bundle=/b", "x"}, "/b"},
		{[]string{"create", "-b=/b", "x"}, "/b"},
		{[]string{"run", "--", "-b", "/b"}, ""},
	} {
		if got := bundleArg(tt.args); got != tt.want {
			t.Errorf("bundleArg(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
