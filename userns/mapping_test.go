package userns

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/subid"
)

func TestBuild(t *testing.T) {
	maps, warn := Build(1000, []subid.Range{{Start: 100000, Count: 65536}, {Start: 300000, Count: 10}, {Start: 5, Count: 0}}, "uid")
	want := []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: 1000, Size: 1},
		{ContainerID: 1, HostID: 100000, Size: 65536},
		{ContainerID: 65537, HostID: 300000, Size: 10},
	}
	if !reflect.DeepEqual(maps, want) || warn != "" {
		t.Fatalf("Build = %v, %q", maps, warn)
	}
	if Total(maps) != 65547 {
		t.Errorf("Total = %d", Total(maps))
	}
}

func TestBuildSingle(t *testing.T) {
	maps, warn := Build(1000, nil, "gid")
	if len(maps) != 1 || maps[0].HostID != 1000 || !strings.Contains(warn, "/etc/subgid") {
		t.Fatalf("Build without ranges = %v, %q", maps, warn)
	}
}

func TestBuildCapsAt32Bits(t *testing.T) {
	maps, _ := Build(0, []subid.Range{{Start: 1, Count: 0xffffffff}, {Start: 7, Count: 5}}, "uid")
	if Total(maps) != maxIDs || len(maps) != 2 {
		t.Fatalf("Build = %v (total %d)", maps, Total(maps))
	}
}
