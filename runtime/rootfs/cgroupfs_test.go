package rootfs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// hybridMountinfo is this project's machine (MACHINE.md), trimmed.
const hybridMountinfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// classicMountinfo is a systemd v1 host with co-mounted controllers and a
// second (bind) mount of the memory hierarchy, which must be ignored.
const classicMountinfo = `25 20 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children
90 60 0:28 /docker /mnt/memory rw,relatime - cgroup cgroup rw,memory
`

const v2Mountinfo = `30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

// nestedMountinfo is seen inside a container without a cgroup namespace:
// each hierarchy is mounted from the container's cgroup, not "/".
const nestedMountinfo = `700 690 0:32 /ctr/web /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
701 690 0:38 /ctr/web /sys/fs/cgroup/unified ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw
`

func parseInfos(t *testing.T, text string) []*mountinfo.Info {
	t.Helper()
	infos, err := mountinfo.GetMountsFromReader(strings.NewReader(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

type hier struct{ name, mountpoint, root, data string }

func TestCgroupHierarchies(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		want   []hier
		v2Only bool
	}{
		{"hybrid", hybridMountinfo, []hier{
			{"cpu", "/sys/fs/cgroup/cpu", "/", "cpu"},
			{"cpuacct", "/sys/fs/cgroup/cpuacct", "/", "cpuacct"},
			{"memory", "/sys/fs/cgroup/memory", "/", "memory"},
			{"systemd", "/sys/fs/cgroup/systemd", "/", "name=systemd"},
			{"unified", "/sys/fs/cgroup/unified", "/", ""},
		}, false},
		{"classic", classicMountinfo, []hier{
			{"systemd", "/sys/fs/cgroup/systemd", "/", "xattr,name=systemd"},
			{"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/", "cpu,cpuacct"},
			{"net_cls,net_prio", "/sys/fs/cgroup/net_cls,net_prio", "/", "net_cls,net_prio"},
			{"memory", "/sys/fs/cgroup/memory", "/", "memory"},
			{"cpuset", "/sys/fs/cgroup/cpuset", "/", "cpuset,clone_children"},
		}, false},
		{"v2", v2Mountinfo, []hier{
			{"cgroup", "/sys/fs/cgroup", "/", "nsdelegate,memory_recursiveprot"},
		}, true},
		{"nested", nestedMountinfo, []hier{
			{"memory", "/sys/fs/cgroup/memory", "/ctr/web", "memory"},
			{"unified", "/sys/fs/cgroup/unified", "/ctr/web", ""},
		}, false},
		{"none", "22 27 0:21 / /proc rw - proc proc rw\n", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := cgroupHierarchies(parseInfos(t, tt.text))
			var got []hier
			for _, h := range hs {
				got = append(got, hier{h.name, h.mountpoint, h.root, h.data})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
			host := &cgroupHost{hierarchies: hs}
			if v := host.v2Only(); v != tt.v2Only {
				t.Errorf("v2Only = %v", v)
			}
			u, ok := host.unified()
			if wantOK := strings.Contains(tt.text, "cgroup2"); ok != wantOK || ok && !u.v2 {
				t.Errorf("unified() = %+v, %v", u, ok)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	own, err := parseProcCgroup(strings.NewReader("9:name=systemd:/user.slice\n4:memory:/m\n3:cpuacct,cpu:/c\n0::/u\nbogus\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name=systemd": "/user.slice", "memory": "/m", "cpu,cpuacct": "/c", "": "/u"}
	if !reflect.DeepEqual(own, want) {
		t.Errorf("got %v want %v", own, want)
	}
}

func TestPlanCgroupSubmounts(t *testing.T) {
	const base = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	classic := &cgroupHost{
		hierarchies: cgroupHierarchies(parseInfos(t, classicMountinfo)),
		own:         map[string]string{"name=systemd": "/sys.slice/x", "cpu,cpuacct": "/own", "net_cls,net_prio": "/", "memory": "/own", "cpuset": "/"},
	}
	hybrid := &cgroupHost{
		hierarchies: cgroupHierarchies(parseInfos(t, hybridMountinfo)),
		own:         map[string]string{"cpu": "/a", "cpuacct": "/a", "memory": "/process_api/x", "name=systemd": "/", "": "/u"},
	}
	nested := &cgroupHost{hierarchies: cgroupHierarchies(parseInfos(t, nestedMountinfo)), own: map[string]string{}}
	tests := []struct {
		name     string
		host     *cgroupHost
		flags    uintptr
		cgroupNS bool
		paths    map[string]string
		want     []cgroupSubmount
		err      error
	}{
		{"classic cgroupns ro", classic, unix.MS_RDONLY | unix.MS_NOSUID, true, nil, []cgroupSubmount{
			{name: "systemd", fstype: "cgroup", data: "xattr,name=systemd", flags: base | unix.MS_RDONLY},
			{name: "cpu,cpuacct", fstype: "cgroup", data: "cpu,cpuacct", flags: base | unix.MS_RDONLY},
			{name: "net_cls,net_prio", fstype: "cgroup", data: "net_cls,net_prio", flags: base | unix.MS_RDONLY},
			{name: "memory", fstype: "cgroup", data: "memory", flags: base | unix.MS_RDONLY},
			{name: "cpuset", fstype: "cgroup", data: "cpuset,clone_children", flags: base | unix.MS_RDONLY},
		}, nil},
		{"hybrid bind with plan paths", hybrid, unix.MS_RDONLY | unix.MS_RELATIME, false,
			map[string]string{"memory": "/gtu-test/web", "cpu": "/gtu-test/web", "systemd": "/gtu-test/web", "unified": "/gtu-test/web"},
			[]cgroupSubmount{
				{name: "cpu", source: "/sys/fs/cgroup/cpu/gtu-test/web", flags: base | unix.MS_RDONLY | unix.MS_RELATIME | unix.MS_BIND | unix.MS_REC},
				{name: "cpuacct", source: "/sys/fs/cgroup/cpuacct/a", flags: base | unix.MS_RDONLY | unix.MS_RELATIME | unix.MS_BIND | unix.MS_REC},
				{name: "memory", source: "/sys/fs/cgroup/memory/gtu-test/web", flags: base | unix.MS_RDONLY | unix.MS_RELATIME | unix.MS_BIND | unix.MS_REC},
				{name: "systemd", source: "/sys/fs/cgroup/systemd/gtu-test/web", flags: base | unix.MS_RDONLY | unix.MS_RELATIME | unix.MS_BIND | unix.MS_REC},
				{name: "unified", source: "/sys/fs/cgroup/unified/gtu-test/web", flags: base | unix.MS_RDONLY | unix.MS_RELATIME | unix.MS_BIND | unix.MS_REC},
			}, nil},
		{"hybrid cgroupns", hybrid, 0, true, nil, []cgroupSubmount{
			{name: "cpu", fstype: "cgroup", data: "cpu", flags: base},
			{name: "cpuacct", fstype: "cgroup", data: "cpuacct", flags: base},
			{name: "memory", fstype: "cgroup", data: "memory", flags: base},
			{name: "systemd", fstype: "cgroup", data: "name=systemd", flags: base},
			{name: "unified", fstype: "cgroup2", data: "", flags: base},
		}, nil},
		{"nested strips the mount root", nested, 0, false,
			map[string]string{"memory": "/ctr/web/sub", "unified": "/ctr/web"},
			[]cgroupSubmount{
				{name: "memory", source: "/sys/fs/cgroup/memory/sub", flags: base | unix.MS_BIND | unix.MS_REC},
				{name: "unified", source: "/sys/fs/cgroup/unified", flags: base | unix.MS_BIND | unix.MS_REC},
			}, nil},
		{"nested path outside the mount", nested, 0, false, map[string]string{"memory": "/other", "unified": "/ctr/web"}, nil, ErrCgroupPath},
		{"unknown path", nested, 0, false, nil, nil, ErrCgroupPath},
		{"v2 under the empty key", &cgroupHost{hierarchies: cgroupHierarchies(parseInfos(t, v2Mountinfo))}, 0, false,
			map[string]string{"": "/gtu-test/web"},
			[]cgroupSubmount{{name: "cgroup", source: "/sys/fs/cgroup/gtu-test/web", flags: base | unix.MS_BIND | unix.MS_REC}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planCgroupSubmounts(tt.host, tt.flags, tt.cgroupNS, tt.paths)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCgroupSymlinks(t *testing.T) {
	subs := []cgroupSubmount{{name: "cpu,cpuacct"}, {name: "memory"}, {name: "net_cls,net_prio"}, {name: "cpuset"}, {name: "cpuset,x"}}
	got := cgroupSymlinks(subs)
	want := [][2]string{{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}, {"net_cls", "net_cls,net_prio"}, {"net_prio", "net_cls,net_prio"}, {"x", "cpuset,x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
}

func TestReadCgroupHost(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/mountinfo", hybridMountinfo)
	writeFile(t, dir+"/cgroup", "4:memory:/m\n0::/u\n")
	c, err := readCgroupHost(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.hierarchies) != 5 || c.own["memory"] != "/m" || c.own[""] != "/u" {
		t.Errorf("got %+v", c)
	}
	if _, err := readCgroupHost(t.TempDir()); err == nil {
		t.Error("missing files: no error")
	}
}
