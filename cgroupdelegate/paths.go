package cgroupdelegate

import (
	"path/filepath"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// v1Subsystems are the names the library's v1 fs driver keys its paths by
// (fs.subsystems), in its order; hybridKey is added on a hybrid host.
var v1Subsystems = []string{
	"cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
	"net_cls", "net_prio", "perf_event", "freezer", "rdma", "name=systemd", "misc",
}

const (
	hybridMountpoint = cgroupRoot + "/unified" // the cgroup2 tree of a hybrid host
	hybridKey        = ""                      // its key in the paths map
	devicesSubsystem = "devices"
	cgroupNamePrefix = "name="
)

// v1Paths computes, for the v1 fs driver, the paths map the library's
// manager.NewWithPaths(cg, nil) would compute (fs.initPaths), but more
// cheaply: the library parses /proc/self/cgroup once per subsystem for a
// relative cgroupsPath (about 13 file reads and 100 KB of garbage per
// container) and, for an absolute one, stats and resolves each
// /sys/fs/cgroup/<subsystem> in turn. Here /proc/self/cgroup is read at
// most once, and the mounts come from the library's cached mountinfo.
//
// nil means "let the library compute them": a cgroup v2 or systemd
// manager, an error (the library reports it), the devices hierarchy
// missing (fatal there, for security), or a layout where the shortcut for
// absolute paths could differ from the library's (a cgroup mount that is
// not a directory directly under a tmpfs /sys/fs/cgroup).
func v1Paths(cg *cgroups.Cgroup) map[string]string {
	if cg.Systemd || cgroups.IsCgroup2UnifiedMode() {
		return nil
	}
	inner := cg.Path
	if inner == "" {
		inner = filepath.Join(cleanPath(cg.Parent), cleanPath(cg.Name))
	} else {
		inner = cleanPath(inner)
	}
	abs := filepath.IsAbs(inner)
	var own map[string]string
	if !abs {
		var err error
		if own, err = cgroups.ParseCgroupFile("/proc/self/cgroup"); err != nil {
			return nil
		}
	} else if !defaultRootIsTmpfs() {
		return nil
	}
	subsystems := v1Subsystems
	if cgroups.IsCgroup2HybridMode() {
		subsystems = append(subsystems[:len(subsystems):len(subsystems)], hybridKey)
	}
	paths := make(map[string]string, len(subsystems))
	for _, name := range subsystems {
		p, found := subsystemPath(name, inner, own)
		if p == "" && !found {
			// Absent here, as in initPaths, except devices, whose
			// absence the library reports as an error.
			if name == devicesSubsystem && (cg.Resources == nil || !cg.SkipDevices) {
				return nil
			}
			continue
		}
		if p == "" {
			return nil
		}
		paths[name] = p
	}
	return paths
}

// subsystemPath is fs.subsysPath for one subsystem: for an absolute inner
// path, the subsystem's mount joined with it; for a relative one, gtu's own
// cgroup in that hierarchy (own: /proc/self/cgroup) joined with it. found
// is false when the subsystem is not mounted or gtu is in no cgroup of it;
// p is "" with found true when the shortcut does not apply.
func subsystemPath(name, inner string, own map[string]string) (p string, found bool) {
	if name == hybridKey {
		// The library joins the unified mount with the path, relative
		// or not (GetOwnCgroupPath("") returns the mount itself), once gtu
		// is in a cgroup2 cgroup at all.
		if own != nil {
			if _, ok := own[hybridKey]; !ok {
				return "", false
			}
		}
		return filepath.Join(hybridMountpoint, inner), true
	}
	if own == nil {
		mnt, _, err := cgroups.FindCgroupMountpointAndRoot(cgroupRoot, name)
		if err != nil {
			return "", false
		}
		// fs.subsysPath joins the root with the mount's base name.
		if filepath.Dir(mnt) != cgroupRoot {
			return "", true
		}
		return filepath.Join(mnt, inner), true
	}
	cg, ok := own[name]
	if !ok {
		if cg, ok = own[cgroupNamePrefix+name]; !ok {
			return "", false
		}
	}
	mnt, root, err := cgroups.FindCgroupMountpointAndRoot("", name)
	if err != nil {
		return "", false
	}
	// Nested containers see host paths in /proc/self/cgroup.
	rel, err := filepath.Rel(root, cg)
	if err != nil {
		return "", true
	}
	return filepath.Join(mnt, rel, inner), true
}

// defaultRootIsTmpfs: /sys/fs/cgroup is a tmpfs, where the library takes
// the hierarchy roots from for absolute paths (fs.tryDefaultCgroupRoot).
func defaultRootIsTmpfs() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
