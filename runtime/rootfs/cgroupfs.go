package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// cgroupHierarchy is one cgroup filesystem the host has mounted.
type cgroupHierarchy struct {
	// name is the base name of the host mount point ("memory",
	// "cpu,cpuacct", "systemd", "unified"): the directory created under the
	// container's cgroup mount and the key of Plan.CgroupPaths.
	name       string
	mountpoint string
	// root is the mountinfo root field: the cgroup seen at the mount point.
	root string
	v2   bool
	// controllers identify a v1 hierarchy: its controllers and name=,
	// sorted. Empty for cgroup2.
	controllers []string
	// data is the superblock options to mount the same hierarchy again,
	// without rw/ro and release_agent (refused outside the initial user
	// namespace, and not ours to change).
	data string
}

// cgroupHost is what Prepare learns about the host's cgroups before it
// changes any mount.
type cgroupHost struct {
	hierarchies []cgroupHierarchy
	// own maps a hierarchy key (sorted controllers joined by ",", "" for
	// cgroup2) to this process's cgroup from /proc/self/cgroup.
	own map[string]string
}

// v1Flags are superblock options of cgroup v1 that are not controllers.
var v1Flags = map[string]bool{
	"rw": true, "ro": true, "none": true, "all": true, "noprefix": true,
	"clone_children": true, "cpuset_v2_mode": true, "xattr": true,
	"favordynmods": true, "nofavordynmods": true,
}

// readCgroupHost reads <proc>/mountinfo and <proc>/cgroup.
func readCgroupHost(proc string) (*cgroupHost, error) {
	mi, err := os.Open(filepath.Join(proc, "mountinfo"))
	if err != nil {
		return nil, err
	}
	defer mi.Close()
	infos, err := mountinfo.GetMountsFromReader(mi, mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mi.Name(), err)
	}
	cg, err := os.Open(filepath.Join(proc, "cgroup"))
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	own, err := parseProcCgroup(cg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cg.Name(), err)
	}
	return &cgroupHost{hierarchies: cgroupHierarchies(infos), own: own}, nil
}

// cgroupHierarchies picks the cgroup hierarchies out of mountinfo entries,
// keeping the first mount of each (a hierarchy may be mounted, or bound, in
// several places).
func cgroupHierarchies(infos []*mountinfo.Info) []cgroupHierarchy {
	var out []cgroupHierarchy
	seen := map[string]bool{}
	for _, mi := range infos {
		h := cgroupHierarchy{name: filepath.Base(mi.Mountpoint), mountpoint: mi.Mountpoint, root: mi.Root}
		var data []string
		for _, o := range strings.Split(mi.VFSOptions, ",") {
			if o == "" || o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") {
				continue
			}
			data = append(data, o)
			if mi.FSType == "cgroup" && !v1Flags[o] {
				h.controllers = append(h.controllers, o)
			}
		}
		h.data = strings.Join(data, ",")
		switch mi.FSType {
		case "cgroup2":
			h.v2 = true
		case "cgroup":
			if len(h.controllers) == 0 {
				continue
			}
			sort.Strings(h.controllers)
		default:
			continue
		}
		key := h.key()
		if seen[key] || seen["name:"+h.name] {
			continue
		}
		seen[key], seen["name:"+h.name] = true, true
		out = append(out, h)
	}
	return out
}

func (h cgroupHierarchy) key() string { return strings.Join(h.controllers, ",") }

// parseProcCgroup reads /proc/PID/cgroup lines "ID:CONTROLLERS:PATH".
func parseProcCgroup(r io.Reader) (map[string]string, error) {
	own := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var ctrls []string
		if parts[1] != "" {
			ctrls = strings.Split(parts[1], ",")
			sort.Strings(ctrls)
		}
		own[strings.Join(ctrls, ",")] = parts[2]
	}
	return own, sc.Err()
}

// v2Only reports a host with cgroup2 and no v1 hierarchy.
func (c *cgroupHost) v2Only() bool {
	for _, h := range c.hierarchies {
		if !h.v2 {
			return false
		}
	}
	return len(c.hierarchies) > 0
}

// unified returns the host's cgroup2 hierarchy, if it has one.
func (c *cgroupHost) unified() (cgroupHierarchy, bool) {
	for _, h := range c.hierarchies {
		if h.v2 {
			return h, true
		}
	}
	return cgroupHierarchy{}, false
}

// cgroupSubmount is one mount under the tmpfs of a v1/hybrid cgroup mount.
type cgroupSubmount struct {
	name   string  // directory under the destination
	fstype string  // "cgroup"/"cgroup2" to mount the hierarchy, "" to bind
	source string  // host path to bind
	data   string  // mount data of a fresh mount
	flags  uintptr // mount flags (MS_BIND|MS_REC for a bind)
}

// planCgroupSubmounts decides, for a v1 or hybrid host, what goes under the
// container's cgroup tmpfs. With a cgroup namespace each hierarchy is
// mounted again (the kernel roots it at the namespace); without one the
// container's own cgroup directory is bound from the host. mntFlags' ro and
// atime choice apply to every sub-mount; nosuid, nodev and noexec always do.
func planCgroupSubmounts(c *cgroupHost, mntFlags uintptr, cgroupNS bool, paths map[string]string) ([]cgroupSubmount, error) {
	flags := unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | mntFlags&(unix.MS_RDONLY|atimeFlags)
	var out []cgroupSubmount
	for _, h := range c.hierarchies {
		s := cgroupSubmount{name: h.name}
		switch {
		case cgroupNS && h.v2:
			s.fstype, s.data, s.flags = "cgroup2", h.data, flags
		case cgroupNS:
			s.fstype, s.data, s.flags = "cgroup", h.data, flags
		default:
			src, err := cgroupBindSource(h, c.own, paths)
			if err != nil {
				return nil, err
			}
			s.source, s.flags = src, flags|unix.MS_BIND|unix.MS_REC
		}
		out = append(out, s)
	}
	return out, nil
}

// cgroupBindSource is the host directory of the container's cgroup in h:
// Plan.CgroupPaths by hierarchy name (or one of its controllers; "unified"
// for cgroup2), else this process's own cgroup, in which the parent placed
// it.
func cgroupBindSource(h cgroupHierarchy, own, paths map[string]string) (string, error) {
	keys := []string{h.name}
	if h.v2 {
		keys = append(keys, "unified", "")
	}
	for _, c := range h.controllers {
		keys = append(keys, c, strings.TrimPrefix(c, "name="))
	}
	path, ok := "", false
	for _, k := range keys {
		if path, ok = paths[k]; ok {
			break
		}
	}
	if !ok {
		if path, ok = own[h.key()]; !ok {
			return "", fmt.Errorf("%w: %s: no cgroup path", ErrCgroupPath, h.name)
		}
	}
	path = filepath.Clean("/" + path)
	rel := path
	if h.root != "/" {
		if path != h.root && !strings.HasPrefix(path, h.root+"/") {
			return "", fmt.Errorf("%w: %s: %s is outside %s mounted at %s", ErrCgroupPath, h.name, path, h.root, h.mountpoint)
		}
		rel = strings.TrimPrefix(path, h.root)
	}
	return filepath.Join(h.mountpoint, rel), nil
}

// cgroupSymlinks lists the links that let programs find a co-mounted
// controller by its own name: cpu -> cpu,cpuacct, cpuacct -> cpu,cpuacct.
func cgroupSymlinks(subs []cgroupSubmount) [][2]string {
	names := map[string]bool{}
	for _, s := range subs {
		names[s.name] = true
	}
	var out [][2]string
	for _, s := range subs {
		if !strings.Contains(s.name, ",") {
			continue
		}
		for _, part := range strings.Split(s.name, ",") {
			if part == "" || names[part] {
				continue
			}
			names[part] = true
			out = append(out, [2]string{part, s.name})
		}
	}
	return out
}

// mountCgroup performs a Plan.Mounts entry of type "cgroup".
func (m *mounter) mountCgroup(mnt spec.Mount, dest string) error {
	if m.cgroups != nil && m.cgroups.v2Only() {
		h, _ := m.cgroups.unified()
		return m.mountCgroup2(mnt, dest, h)
	}
	tmpfs := spec.Mount{
		Source: "tmpfs", Type: "tmpfs", Destination: dest, Data: "mode=755",
		Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
	}
	if err := m.mountFS(tmpfs, dest); err != nil {
		return err
	}
	top, err := openIn(m.root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	var subs []cgroupSubmount
	if m.cgroups != nil {
		if subs, err = planCgroupSubmounts(m.cgroups, mnt.Flags, m.cgroupNS, m.cgroupPaths); err != nil {
			return err
		}
	}
	for _, s := range subs {
		if err := mountCgroupSub(top, s); err != nil {
			return err
		}
	}
	for _, l := range cgroupSymlinks(subs) {
		if err := unix.Symlinkat(l[1], int(top.Fd()), l[0]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s -> %s: %w", l[0], l[1], err)
		}
	}
	if mnt.Flags&unix.MS_RDONLY != 0 {
		if err := remountKeeping(top, unix.MS_RDONLY); err != nil {
			return err
		}
	}
	return applyAfter(top, mnt)
}

// mountCgroupSub creates and mounts one hierarchy under the cgroup tmpfs.
func mountCgroupSub(dir *os.File, s cgroupSubmount) error {
	if err := unix.Mkdirat(int(dir.Fd()), s.name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("mkdir %s: %w", s.name, err)
	}
	target, err := openAt(dir, s.name, s.name, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer target.Close()
	if s.fstype != "" {
		if err := unix.Mount("cgroup", procfd(target), s.fstype, s.flags, s.data); err != nil {
			return fmt.Errorf("mount %s (%s): %w", s.fstype, s.name, err)
		}
		return nil
	}
	if err := unix.Mount(s.source, procfd(target), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind cgroup (%s) %s: %w", s.name, s.source, err)
	}
	top, err := openAt(dir, s.name, s.name, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer top.Close()
	if err := remountBind(top, s.flags); err != nil {
		return fmt.Errorf("cgroup (%s): %w", s.name, err)
	}
	return nil
}

// mountCgroup2 mounts the host's cgroup2 hierarchy at dest: a "cgroup"
// mount on a v2-only host, or an explicit "cgroup2" mount. The host's
// superblock options go along because a cgroup2 mount from the initial
// cgroup namespace applies its options to the whole host: without them it
// would clear nsdelegate or memory_recursiveprot there. Without a cgroup
// namespace the kernel may refuse (EPERM/EBUSY, e.g. in a user namespace);
// then the container's cgroup is bound instead, like runc.
func (m *mounter) mountCgroup2(mnt spec.Mount, dest string, h cgroupHierarchy) error {
	target, err := mkdirIn(m.root, dest)
	if err != nil {
		return err
	}
	defer target.Close()
	data := strings.Trim(h.data+","+mnt.Data, ",")
	err = unix.Mount("cgroup2", procfd(target), "cgroup2", mnt.Flags, data)
	if err != nil && !m.cgroupNS && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
		src, serr := cgroupBindSource(h, m.cgroups.own, m.cgroupPaths)
		if serr != nil {
			return serr
		}
		return m.bindOnto(src, target, dest, mnt.Flags|unix.MS_BIND|unix.MS_REC, mnt)
	}
	if err != nil {
		return fmt.Errorf("mount cgroup2: %w", err)
	}
	top, err := openIn(m.root, dest)
	if err != nil {
		return err
	}
	defer top.Close()
	return applyAfter(top, mnt)
}
