package cgroupdelegate

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func blk(major, minor int64) specs.LinuxBlockIODevice {
	return specs.LinuxBlockIODevice{Major: major, Minor: minor}
}

func TestConvertResources(t *testing.T) {
	tests := []struct {
		name string
		in   *specs.LinuxResources
		want cgroups.Resources
	}{
		{name: "nil", in: nil, want: cgroups.Resources{}},
		{name: "empty", in: &specs.LinuxResources{}, want: cgroups.Resources{}},
		{
			name: "memory",
			in: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20), Swap: ptr[int64](128 << 20),
				Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true), CheckBeforeUpdate: ptr(true),
			}},
			want: cgroups.Resources{
				Memory: 64 << 20, MemoryReservation: 32 << 20, MemorySwap: 128 << 20,
				MemorySwappiness: ptr[uint64](10), OomKillDisable: true, MemoryCheckBeforeUpdate: true,
			},
		},
		{
			name: "memory unlimited",
			in:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](-1)}},
			want: cgroups.Resources{Memory: -1, MemorySwap: -1},
		},
		{
			name: "swappiness -1 as uint64 means leave as is",
			in:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](math.MaxUint64)}},
			want: cgroups.Resources{},
		},
		{
			name: "kernel memory ignored",
			in:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20)}},
			want: cgroups.Resources{},
		},
		{
			name: "cpu",
			in: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000),
				RealtimeRuntime: ptr[int64](950000), RealtimePeriod: ptr[uint64](1000000),
				Cpus: "0-1,3", Mems: "0", Idle: ptr[int64](1),
			}},
			want: cgroups.Resources{
				CpuShares: 1024, CpuWeight: 100, CpuQuota: 50000, CpuPeriod: 100000, CpuBurst: ptr[uint64](1000),
				CpuRtRuntime: 950000, CpuRtPeriod: 1000000, CpusetCpus: "0-1,3", CpusetMems: "0", CPUIdle: ptr[int64](1),
			},
		},
		{
			name: "cpu shares convert to v2 weight at both ends",
			in:   &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](2)}},
			want: cgroups.Resources{CpuShares: 2, CpuWeight: 1},
		},
		{
			name: "cpu shares max",
			in:   &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262144)}},
			want: cgroups.Resources{CpuShares: 262144, CpuWeight: 10000},
		},
		{
			name: "cpu quota unlimited, zero shares and period unset",
			in:   &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1), Shares: ptr[uint64](0), Period: ptr[uint64](0)}},
			want: cgroups.Resources{CpuQuota: -1},
		},
		{
			name: "pids",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](32)}},
			want: cgroups.Resources{PidsLimit: ptr[int64](32)},
		},
		{
			name: "pids unlimited",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}},
			want: cgroups.Resources{PidsLimit: ptr[int64](-1)},
		},
		{
			name: "pids without limit",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{}},
			want: cgroups.Resources{},
		},
		{
			name: "blockIO",
			in: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: ptr[uint16](500), LeafWeight: ptr[uint16](300),
				WeightDevice: []specs.LinuxWeightDevice{
					{LinuxBlockIODevice: blk(8, 0), Weight: ptr[uint16](600), LeafWeight: ptr[uint16](200)},
					{LinuxBlockIODevice: blk(8, 16)},
				},
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk(8, 0), Rate: 1 << 20}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk(8, 0), Rate: 2 << 20}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk(8, 0), Rate: 100}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk(8, 0), Rate: 200}},
			}},
			want: cgroups.Resources{
				BlkioWeight: 500, BlkioLeafWeight: 300,
				BlkioWeightDevice: []*cgroups.WeightDevice{
					cgroups.NewWeightDevice(8, 0, 600, 200), cgroups.NewWeightDevice(8, 16, 0, 0),
				},
				BlkioThrottleReadBpsDevice:   []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 1<<20)},
				BlkioThrottleWriteBpsDevice:  []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 2<<20)},
				BlkioThrottleReadIOPSDevice:  []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 100)},
				BlkioThrottleWriteIOPSDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 200)},
			},
		},
		{
			name: "hugepages",
			in:   &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 1 << 30}}},
			want: cgroups.Resources{HugetlbLimit: []*cgroups.HugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 1 << 30}}},
		},
		{
			name: "network",
			in: &specs.LinuxResources{Network: &specs.LinuxNetwork{
				ClassID:    ptr[uint32](0x100001),
				Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}, {Name: "lo", Priority: 1}},
			}},
			want: cgroups.Resources{
				NetClsClassid:    0x100001,
				NetPrioIfpriomap: []*cgroups.IfPrioMap{{Interface: "eth0", Priority: 5}, {Interface: "lo", Priority: 1}},
			},
		},
		{
			name: "rdma",
			in:   &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](10000)}}},
			want: cgroups.Resources{Rdma: map[string]cgroups.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](10000)}}},
		},
		{
			name: "unified",
			in:   &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G", "cgroup.max.descendants": "10"}},
			want: cgroups.Resources{Unified: map[string]string{"memory.high": "1G", "cgroup.max.descendants": "10"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := convertResources(tt.in)
			if err != nil {
				t.Fatalf("convertResources: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestConvertResourcesWarnings(t *testing.T) {
	_, warnings, err := convertResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr[int64](1)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "linux.resources.memory.kernel") {
		t.Errorf("warnings = %q, want one about linux.resources.memory.kernel", warnings)
	}
	_, warnings, _ = convertResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}})
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %q", warnings)
	}
}

func TestConvertResourcesErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    *specs.LinuxResources
		field string // the error must start with this config.json field
	}{
		{"memory limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-2)}}, "linux.resources.memory.limit: -2"},
		{"memory reservation", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: ptr[int64](-5)}}, "linux.resources.memory.reservation:"},
		{"memory swap negative", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](-3)}}, "linux.resources.memory.swap:"},
		{"memory swap below limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](2 << 20), Swap: ptr[int64](1 << 20)}}, "linux.resources.memory.swap:"},
		{"swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, "linux.resources.memory.swappiness: 101"},
		{"cpu shares low", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1)}}, "linux.resources.cpu.shares: 1"},
		{"cpu shares high", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262145)}}, "linux.resources.cpu.shares:"},
		{"cpu quota small", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](500)}}, "linux.resources.cpu.quota: 500"},
		{"cpu quota negative", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-2)}}, "linux.resources.cpu.quota:"},
		{"cpu period small", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](999)}}, "linux.resources.cpu.period:"},
		{"cpu period large", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](1000001)}}, "linux.resources.cpu.period:"},
		{"rt runtime negative", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](-2)}}, "linux.resources.cpu.realtimeRuntime:"},
		{"rt runtime above period", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](2000), RealtimePeriod: ptr[uint64](1000)}}, "linux.resources.cpu.realtimeRuntime:"},
		{"cpus syntax", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-"}}, "linux.resources.cpu.cpus:"},
		{"cpus reversed", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}}, "linux.resources.cpu.cpus:"},
		{"cpus letters", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "all"}}, "linux.resources.cpu.cpus:"},
		{"mems syntax", &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "0,,1"}}, "linux.resources.cpu.mems:"},
		{"cpu idle", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](2)}}, "linux.resources.cpu.idle: 2"},
		{"blkio weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5)}}, "linux.resources.blockIO.weight: 5"},
		{"blkio leaf weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](1001)}}, "linux.resources.blockIO.leafWeight:"},
		{"blkio weight device", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: blk(8, 0), Weight: ptr[uint16](500)}, {LinuxBlockIODevice: blk(8, 0), Weight: ptr[uint16](2000)},
		}}}, "linux.resources.blockIO.weightDevice[1].weight:"},
		{"blkio weight device leaf", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: blk(8, 0), LeafWeight: ptr[uint16](1)},
		}}}, "linux.resources.blockIO.weightDevice[0].leafWeight:"},
		{"blkio weight device major", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: blk(-1, 0)},
		}}}, "linux.resources.blockIO.weightDevice[0]:"},
		{"blkio throttle", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: blk(8, -4), Rate: 1},
		}}}, "linux.resources.blockIO.throttleWriteIOPSDevice[0]:"},
		{"hugepage size", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}}, "linux.resources.hugepageLimits[0].pageSize:"},
		{"network priority name", &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: ""}}}}, "linux.resources.network.priorities[0].name:"},
		{"rdma device", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"": {}}}, "linux.resources.rdma:"},
		{"unified slash", &specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, `linux.resources.unified["../memory.max"]:`},
		{"unified no dot", &specs.LinuxResources{Unified: map[string]string{"memory": "1"}}, `linux.resources.unified["memory"]:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := convertResources(tt.in)
			checkFieldError(t, err, tt.field)
		})
	}
}

func checkFieldError(t *testing.T, err error, prefix string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one starting %q", prefix)
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("error %q does not match ErrInvalidConfig", err)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
}

func TestConvertPath(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want cgroups.Cgroup // only Path, Name, Parent, ScopePrefix compared
	}{
		{"absolute", Config{ID: "c1", Path: "/gtu-test/c1"}, cgroups.Cgroup{Path: "/gtu-test/c1"}},
		{"absolute cleaned", Config{ID: "c1", Path: "/gtu-test/../gtu-test//c1/"}, cgroups.Cgroup{Path: "/gtu-test/c1"}},
		{"relative", Config{ID: "c1", Path: "pod/c1"}, cgroups.Cgroup{Path: "pod/c1"}},
		{"relative cannot climb out", Config{ID: "c1", Path: "../../etc/c1"}, cgroups.Cgroup{Path: "etc/c1"}},
		{"empty is the relative id", Config{ID: "c1"}, cgroups.Cgroup{Name: "c1"}},
		{"systemd", Config{ID: "c1", Systemd: true, Path: "system.slice:docker:abc"},
			cgroups.Cgroup{Parent: "system.slice", ScopePrefix: "docker", Name: "abc"}},
		{"systemd default slice", Config{ID: "c1", Systemd: true, Path: ":gtu:abc"},
			cgroups.Cgroup{ScopePrefix: "gtu", Name: "abc"}},
		{"systemd empty", Config{ID: "c1", Systemd: true}, cgroups.Cgroup{ScopePrefix: "gtu", Name: "c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got cgroups.Cgroup
			if err := convertPath(tt.in, &got); err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.want.Path || got.Name != tt.want.Name || got.Parent != tt.want.Parent || got.ScopePrefix != tt.want.ScopePrefix {
				t.Errorf("got path=%q name=%q parent=%q prefix=%q, want path=%q name=%q parent=%q prefix=%q",
					got.Path, got.Name, got.Parent, got.ScopePrefix, tt.want.Path, tt.want.Name, tt.want.Parent, tt.want.ScopePrefix)
			}
		})
	}
}

func TestConvertPathErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     Config
		prefix string
		is     error
	}{
		{"root", Config{ID: "c1", Path: "/"}, "linux.cgroupsPath:", ErrHierarchyRoot},
		{"root after cleaning", Config{ID: "c1", Path: "/a/.."}, "linux.cgroupsPath:", ErrHierarchyRoot},
		{"own cgroup", Config{ID: "c1", Path: "."}, "linux.cgroupsPath:", nil},
		{"own cgroup after cleaning", Config{ID: "c1", Path: "a/../.."}, "linux.cgroupsPath:", nil},
		{"no id", Config{}, "container id:", nil},
		{"id with slash", Config{ID: "a/b"}, "container id:", nil},
		{"id dotdot", Config{ID: ".."}, "container id:", nil},
		{"systemd two parts", Config{ID: "c1", Systemd: true, Path: "system.slice:c1"}, "linux.cgroupsPath:", nil},
		{"systemd absolute path", Config{ID: "c1", Systemd: true, Path: "/gtu-test/c1"}, "linux.cgroupsPath:", nil},
		{"systemd empty name", Config{ID: "c1", Systemd: true, Path: "system.slice:gtu:"}, "linux.cgroupsPath:", nil},
		{"systemd not a slice", Config{ID: "c1", Systemd: true, Path: "system:gtu:c1"}, "linux.cgroupsPath:", nil},
		{"systemd no id", Config{Systemd: true}, "container id:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cg cgroups.Cgroup
			err := convertPath(tt.in, &cg)
			checkFieldError(t, err, tt.prefix)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not match %v", err, tt.is)
			}
		})
	}
}

// rule is a compact form for comparing device rules: "c 1:3 rwm" plus allow.
func rule(r *devconfig.Rule) string {
	s := r.CgroupString()
	if !r.Allow {
		s = "deny " + s
	}
	return s
}

var wantDefaults = []string{
	"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
	"c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
}

func TestDeviceRules(t *testing.T) {
	tests := []struct {
		name string
		spec []specs.LinuxDeviceCgroup
		devs []specs.LinuxDevice
		want []string
	}{
		{name: "defaults only", want: wantDefaults},
		{
			name: "spec rules first, then defaults, then linux.devices",
			spec: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rw"},
				{Allow: true, Type: "b", Major: ptr[int64](8), Access: "r"},
			},
			devs: []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
				{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
				{Path: "/dev/ttyS0", Type: "u", Major: 4, Minor: 64},
				{Path: "/dev/fifo", Type: "p"},
			},
			want: append(append([]string{"deny a *:* rwm", "c 10:229 rw", "b 8:* r"}, wantDefaults...),
				"c 10:229 rwm", "b 8:0 rwm", "c 4:64 rwm"),
		},
		{
			name: "a linux.devices entry replaces the default with its path",
			devs: []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/tty", Type: "c", Major: 5, Minor: 0}},
			want: []string{
				"c *:* m", "b *:* m", "c 1:8 rwm", "c 1:7 rwm",
				"c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
				"c 1:3 rwm", "c 5:0 rwm",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := deviceRules(tt.spec, tt.devs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				got = append(got, rule(r))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDeviceRulesErrors(t *testing.T) {
	tests := []struct {
		name   string
		spec   []specs.LinuxDeviceCgroup
		devs   []specs.LinuxDevice
		prefix string
	}{
		{"spec type", []specs.LinuxDeviceCgroup{{Allow: true, Type: "x", Access: "r"}}, nil, "linux.resources.devices[0].type:"},
		{"spec access empty", []specs.LinuxDeviceCgroup{{Allow: true, Access: "r"}, {Allow: true, Type: "c"}}, nil, "linux.resources.devices[1].access:"},
		{"spec access bad", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rwx"}}, nil, "linux.resources.devices[0].access:"},
		{"spec major", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr[int64](-7), Access: "r"}}, nil, "linux.resources.devices[0]:"},
		{"device type", nil, []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}, "linux.devices[0].type:"},
		{"device major", nil, []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: -1}}, "linux.devices[0]:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := deviceRules(tt.spec, tt.devs)
			checkFieldError(t, err, tt.prefix)
		})
	}
}

func TestCgroupConfig(t *testing.T) {
	cg, _, err := cgroupConfig(Config{
		ID:        "c1",
		Path:      "/gtu-test/c1",
		Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20)}, Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}}},
		Devices:   []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cg.Path != "/gtu-test/c1" || cg.Memory != 1<<20 {
		t.Errorf("path %q memory %d", cg.Path, cg.Memory)
	}
	if n := len(cg.Devices); n != 1+len(wantDefaults)+1 || rule(cg.Devices[0]) != "deny a *:* rwm" || rule(cg.Devices[n-1]) != "c 10:229 rwm" {
		t.Errorf("device rules not in spec, defaults, linux.devices order: %d rules", n)
	}
	// No resources at all still gives the default device rules.
	cg, _, err = cgroupConfig(Config{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if cg.Resources == nil || len(cg.Devices) != len(wantDefaults) {
		t.Errorf("nil resources: got %+v", cg.Resources)
	}
	for _, bad := range []Config{
		{ID: "c1", Path: "/"},
		{ID: "c1", Resources: &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](5)}}},
		{ID: "c1", Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "q", Access: "r"}}}},
	} {
		if _, _, err := cgroupConfig(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("cgroupConfig(%+v) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "/": "/", "/a/../b": "/b", "a/b/": "a/b", "../a": "a", "a/../..": ".", "/../a": "/a",
	} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}
