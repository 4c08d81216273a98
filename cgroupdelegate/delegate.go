package cgroupdelegate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// Delegation by root, for cgroup v1 and hybrid hosts: no systemd hands a
// user a cgroup there, so root makes one per user in every hierarchy,
// named after the user's host uid, and chowns it (`gtu cgroup-delegate`).
// A rootless gtu finds it by that uid and puts each container's cgroup
// below it, where the limits apply. No other runtime offers this; rootless
// runc only uses such directories when they are named in cgroupsPath.

// delegatedName is the per-user base directory in each hierarchy.
func delegatedName(uid int) string { return "gtu.user." + strconv.Itoa(uid) }

// hierarchy is one mounted cgroup hierarchy.
type hierarchy struct {
	dir  string   // mount point, e.g. /sys/fs/cgroup/memory
	keys []string // the fs driver's names for it: "memory", "cpu", "name=systemd", "" (cgroup2)
	v2   bool
}

// hierarchies lists the hierarchies mounted under root (normally
// /sys/fs/cgroup): every v1 mount and the cgroup2 one, which is root itself
// on a pure v2 host and root/unified on a hybrid one.
func hierarchies(root string) ([]hierarchy, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return hierarchiesFrom(mounts, root), nil
}

// hierarchiesFrom picks the cgroup mounts at or directly under root. A v1
// mount's super options name its controllers ("rw,memory",
// "rw,name=systemd"), which are the fs driver's keys.
func hierarchiesFrom(mounts []*mountinfo.Info, root string) []hierarchy {
	var hs []hierarchy
	for _, m := range mounts {
		if m.Mountpoint != root && filepath.Dir(m.Mountpoint) != root {
			continue
		}
		switch m.FSType {
		case "cgroup2":
			hs = append(hs, hierarchy{dir: m.Mountpoint, keys: []string{""}, v2: true})
		case "cgroup":
			var keys []string
			for opt := range strings.SplitSeq(m.VFSOptions, ",") {
				if opt == "" || opt == "rw" || opt == "ro" || opt == "xattr" || opt == "noprefix" || opt == "clone_children" ||
					opt == "cpuset_v2_mode" || opt == "favordynmods" || strings.HasPrefix(opt, "release_agent=") {
					continue
				}
				keys = append(keys, opt)
			}
			if len(keys) > 0 {
				hs = append(hs, hierarchy{dir: m.Mountpoint, keys: keys})
			}
		}
	}
	return hs
}

// userFiles are the files of a delegated base that the user must write:
// moving processes in (v1 tasks and cgroup.procs; cgroup2 also threads)
// and, on cgroup2, enabling controllers for its children. The limit files
// of the base stay root's, so root may cap the user as a whole there;
// the user sets limits in the cgroups it creates below, whose files the
// kernel gives to the owner of the parent directory.
var userFiles = []string{"cgroup.procs", "tasks", "cgroup.threads", "cgroup.subtree_control"}

// Delegate gives the user uid (primary group gid) a cgroup of its own in
// every hierarchy under root ("/sys/fs/cgroup"): root/<hierarchy>/gtu.user.UID,
// owned by the user. It is idempotent and returns the directories. In the
// cpuset hierarchy the base gets cpuset.cpus and cpuset.mems from its parent:
// an empty cpuset refuses every task. Device rules are not delegated: a v1
// devices cgroup only lets real root write devices.allow.
func Delegate(root string, uid, gid int) ([]string, error) {
	if uid <= 0 || gid < 0 {
		return nil, fmt.Errorf("delegate cgroups: uid %d gid %d: not an unprivileged user", uid, gid)
	}
	hs, err := hierarchies(root)
	if err != nil {
		return nil, fmt.Errorf("delegate cgroups: %w", err)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("delegate cgroups: no cgroup hierarchy mounted under %s", root)
	}
	var dirs []string
	for _, h := range hs {
		dir := filepath.Join(h.dir, delegatedName(uid))
		if err := delegateOne(h, dir, uid, gid); err != nil {
			return dirs, fmt.Errorf("delegate cgroup %s to uid %d: %w", dir, uid, err)
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

func delegateOne(h hierarchy, dir string, uid, gid int) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, k := range h.keys {
		if k == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := copyIfEmpty(dir, f); err != nil {
					return err
				}
			}
		}
	}
	if h.v2 {
		// Hand the children every controller this level has.
		if err := enableControllers(dir); err != nil {
			return err
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	for _, f := range userFiles {
		if err := os.Chown(filepath.Join(dir, f), uid, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// copyIfEmpty copies a cpuset file from the parent when dir's is empty.
func copyIfEmpty(dir, file string) error {
	cur, err := cgroups.ReadFile(dir, file)
	if err != nil {
		return err
	}
	if strings.TrimSpace(cur) != "" {
		return nil
	}
	parent, err := cgroups.ReadFile(filepath.Dir(dir), file)
	if err != nil {
		return err
	}
	return cgroups.WriteFile(dir, file, strings.TrimSpace(parent))
}

// enableControllers writes "+c" for each controller of a cgroup2 directory
// to its cgroup.subtree_control.
func enableControllers(dir string) error {
	avail, err := cgroups.ReadFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	for _, c := range strings.Fields(avail) {
		if err := cgroups.WriteFile(dir, "cgroup.subtree_control", "+"+c); err != nil {
			return fmt.Errorf("enable controller %s: %w", c, err)
		}
	}
	return nil
}

// Undelegate removes what Delegate made for uid, in every hierarchy. A
// base that still holds cgroups or processes is left and reported (rmdir
// fails with EBUSY). It returns the directories removed.
func Undelegate(root string, uid int) ([]string, error) {
	if uid <= 0 {
		return nil, fmt.Errorf("undelegate cgroups: uid %d: not an unprivileged user", uid)
	}
	hs, err := hierarchies(root)
	if err != nil {
		return nil, fmt.Errorf("undelegate cgroups: %w", err)
	}
	var removed []string
	var errs []error
	for _, h := range hs {
		dir := filepath.Join(h.dir, delegatedName(uid))
		var st unix.Stat_t
		if err := unix.Lstat(dir, &st); errors.Is(err, unix.ENOENT) {
			continue
		} else if err != nil {
			errs = append(errs, fmt.Errorf("undelegate %s: %w", dir, err))
			continue
		}
		if int(st.Uid) != uid {
			errs = append(errs, fmt.Errorf("undelegate %s: owned by uid %d, not %d: %w", dir, st.Uid, uid, ErrNotDelegated))
			continue
		}
		if err := unix.Rmdir(dir); err != nil {
			errs = append(errs, fmt.Errorf("undelegate %s: %w (containers of the user still there?)", dir, err))
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}

// findDelegation returns, for each fs-driver key, the base directory root
// delegated to hostUID, found by name and checked by owner. ownerHere is
// hostUID as this process sees it: 0 inside a user namespace that maps the
// host uid to 0 (gtu's session, podman's), hostUID itself outside.
func findDelegation(hs []hierarchy, hostUID, ownerHere int) map[string]string {
	bases := map[string]string{}
	for _, h := range hs {
		dir := filepath.Join(h.dir, delegatedName(hostUID))
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != ownerHere {
			continue
		}
		for _, k := range h.keys {
			bases[k] = dir
		}
	}
	return bases
}

// mapUID returns the id that host id hostID has in the user namespace
// whose uid_map (or gid_map) is given, and whether it is mapped there.
func mapUID(idMap string, hostID int) (int, bool) {
	for line := range strings.SplitSeq(idMap, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		inside, err1 := strconv.ParseInt(f[0], 10, 64)
		outside, err2 := strconv.ParseInt(f[1], 10, 64)
		count, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if h := int64(hostID); h >= outside && h < outside+count {
			return int(inside + h - outside), true
		}
	}
	return -1, false
}
