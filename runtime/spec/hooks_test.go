package spec

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateHooks(t *testing.T) {
	secs := func(n int) *int { return &n }
	tests := []struct {
		name  string
		hooks *specs.Hooks
		want  []string
	}{
		{name: "none", hooks: nil},
		{name: "empty", hooks: &specs.Hooks{}},
		{
			name: "valid",
			hooks: &specs.Hooks{
				Prestart:        []specs.Hook{{Path: "/bin/true"}},
				CreateRuntime:   []specs.Hook{{Path: "/bin/true", Args: []string{"true", "x"}, Env: []string{"A=1", "B="}, Timeout: secs(1)}},
				CreateContainer: []specs.Hook{{Path: "/bin/true"}},
				StartContainer:  []specs.Hook{{Path: "/bin/true"}},
				Poststart:       []specs.Hook{{Path: "/bin/true"}},
				Poststop:        []specs.Hook{{Path: "/bin/true"}},
			},
		},
		{
			name: "every field of every list",
			hooks: &specs.Hooks{
				Prestart:        []specs.Hook{{Path: "true"}},
				CreateRuntime:   []specs.Hook{{Path: "/bin/true"}, {Path: "bin/x"}},
				CreateContainer: []specs.Hook{{Path: ""}},
				StartContainer:  []specs.Hook{{Path: "/x", Env: []string{"A=1", "B", "=c"}}},
				Poststart:       []specs.Hook{{Path: "/x", Timeout: secs(0)}},
				Poststop:        []specs.Hook{{Path: "/x", Timeout: secs(-5)}, {Path: "/y", Timeout: secs(5)}},
			},
			want: []string{
				"hooks.prestart[0].path: must be absolute",
				"hooks.createRuntime[1].path: must be absolute",
				"hooks.createContainer[0].path: must be absolute",
				`hooks.startContainer[0].env[1]: "B" is not of the form KEY=VALUE`,
				`hooks.startContainer[0].env[2]: "=c" is not of the form KEY=VALUE`,
				"hooks.poststart[0].timeout: must be positive",
				"hooks.poststop[0].timeout: must be positive",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			s.Hooks = tt.hooks
			err := Validate(s)
			checkLines(t, err, tt.want)
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
		})
	}
}

func TestBuildHooks(t *testing.T) {
	secs := func(n int) *int { return &n }
	s := base()
	s.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{{Path: "/p"}},
		CreateRuntime:   []specs.Hook{{Path: "/cr", Args: []string{"cr", "-v"}, Env: []string{"A=1"}, Timeout: secs(3)}},
		CreateContainer: []specs.Hook{{Path: "/cc"}},
		StartContainer:  []specs.Hook{{Path: "/sc"}},
		Poststart:       []specs.Hook{{Path: "/ps"}},
		Poststop:        []specs.Hook{{Path: "/pt1"}, {Path: "/pt2"}},
	}
	p, err := Build(s, Options{ID: "c", Bundle: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Hooks{
		Prestart:        []Hook{{Path: "/p"}},
		CreateRuntime:   []Hook{{Path: "/cr", Args: []string{"cr", "-v"}, Env: []string{"A=1"}, Timeout: 3}},
		CreateContainer: []Hook{{Path: "/cc"}},
		StartContainer:  []Hook{{Path: "/sc"}},
		Poststart:       []Hook{{Path: "/ps"}},
		Poststop:        []Hook{{Path: "/pt1"}, {Path: "/pt2"}},
	}
	if !reflect.DeepEqual(p.Hooks, want) {
		t.Fatalf("Plan.Hooks = %+v, want %+v", p.Hooks, want)
	}
	// The plan is a copy: config.json's slices are not shared.
	s.Hooks.CreateRuntime[0].Args[0] = "changed"
	if p.Hooks.CreateRuntime[0].Args[0] != "cr" {
		t.Error("Plan.Hooks shares args with the spec")
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back.Hooks, want) {
		t.Fatalf("hooks do not survive JSON: %+v, %v", back.Hooks, err)
	}

	// No hooks, or only empty lists: nil, and nothing in the plan's JSON.
	for _, h := range []*specs.Hooks{nil, {}, {Poststop: []specs.Hook{}}} {
		s.Hooks = h
		p, err := Build(s, Options{ID: "c", Bundle: "/b"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Hooks != nil {
			t.Errorf("hooks %+v: Plan.Hooks = %+v, want nil", h, p.Hooks)
		}
	}
}

func TestHooksPredicates(t *testing.T) {
	hook := []Hook{{Path: "/x"}}
	tests := []struct {
		name        string
		h           *Hooks
		stop, inCtr bool
		later       *Hooks
	}{
		{name: "nil"},
		{name: "empty", h: &Hooks{}},
		{name: "prestart", h: &Hooks{Prestart: hook}, stop: true},
		{name: "createRuntime", h: &Hooks{CreateRuntime: hook}, stop: true},
		{name: "createContainer", h: &Hooks{CreateContainer: hook}, inCtr: true},
		{name: "startContainer", h: &Hooks{StartContainer: hook}, inCtr: true},
		{name: "poststart", h: &Hooks{Poststart: hook}, later: &Hooks{Poststart: hook}},
		{name: "poststop", h: &Hooks{Poststop: hook, CreateRuntime: hook}, stop: true, later: &Hooks{Poststop: hook}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.RuntimeStop(); got != tt.stop {
				t.Errorf("RuntimeStop() = %v, want %v", got, tt.stop)
			}
			if got := tt.h.InContainer(); got != tt.inCtr {
				t.Errorf("InContainer() = %v, want %v", got, tt.inCtr)
			}
			if got := tt.h.Later(); !reflect.DeepEqual(got, tt.later) {
				t.Errorf("Later() = %+v, want %+v", got, tt.later)
			}
		})
	}
}
