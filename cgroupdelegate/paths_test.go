package cgroupdelegate

import (
	"maps"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// TestV1PathsMatchLibrary compares v1Paths with what the library computes
// for the same configuration (manager.NewWithPaths with nil paths), on this
// host: absolute and relative paths, a bare name, SkipDevices, and gtu's
// own cgroups, which differ per hierarchy here (the memory one is under
// PID 1's /process_api/...). Nothing is created.
func TestV1PathsMatchLibrary(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("host is cgroup v2 unified: v1Paths leaves the path to the library")
	}
	for _, cg := range []cgroups.Cgroup{
		{Path: "/gtu-test/c1"},
		{Path: "/gtu-test/a/b/c"},
		{Path: "/x"},
		{Path: "/gtu-test/../escape/./c"},
		{Path: "rel"},
		{Path: "pod/c2"},
		{Path: "../../climb/c3"},
		{Name: "c4"},
		{Name: "c5", Parent: "parent"},
		{Path: "/gtu-test/skip", Resources: &cgroups.Resources{SkipDevices: true}},
		{Path: "rel-skip", Resources: &cgroups.Resources{SkipDevices: true}},
	} {
		if cg.Resources == nil {
			cg.Resources = &cgroups.Resources{}
		}
		lib, err := manager.NewWithPaths(&cg, nil)
		if err != nil {
			t.Fatalf("%+v: library: %v", cg, err)
		}
		want := lib.GetPaths()
		got := v1Paths(&cg)
		if got == nil {
			t.Errorf("path %q name %q: v1Paths left it to the library on this host", cg.Path, cg.Name)
			continue
		}
		if !maps.Equal(got, want) {
			t.Errorf("path %q name %q:\n got %v\nwant %v", cg.Path, cg.Name, got, want)
		}
		if cgroups.IsCgroup2HybridMode() && got[hybridKey] == "" {
			t.Errorf("path %q: no unified entry on a hybrid host: %v", cg.Path, got)
		}
	}
}

func TestV1PathsLeavesSystemdToLibrary(t *testing.T) {
	if got := v1Paths(&cgroups.Cgroup{Systemd: true, Name: "x", Resources: &cgroups.Resources{}}); got != nil {
		t.Errorf("systemd: %v, want nil", got)
	}
}

// BenchmarkPaths shows what v1Paths saves per container over the library.
func BenchmarkPaths(b *testing.B) {
	if cgroups.IsCgroup2UnifiedMode() {
		b.Skip("host is cgroup v2 unified")
	}
	for _, p := range []string{"/gtu-test/bench", "rel/bench"} {
		cg := &cgroups.Cgroup{Path: p, Resources: &cgroups.Resources{}}
		b.Run("library"+p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := manager.NewWithPaths(cg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("v1Paths"+p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := manager.NewWithPaths(cg, v1Paths(cg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
