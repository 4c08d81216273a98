package spec

import (
	"os"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns the config.json `gtu spec` writes: runc 1.1's `runc spec`
// (or `runc spec --rootless`), with these differences:
//   - a cgroup namespace always, not only on a cgroup v2 host: hosts like the
//     hybrid one gtu is tested on should not show the container the host's
//     cgroup paths;
//   - no ambient capabilities: without inheritable ones (dropped by runc
//     after CVE-2022-29162) the kernel refuses to raise them;
//   - rootless: no /sys/fs/cgroup mount, since an unprivileged user
//     namespace cannot mount cgroup v1 hierarchies; the rbind of /sys
//     brings the host's cgroup tree read-only instead.
//
// Seccomp is left out until gtu applies it.
func Default(rootless bool) *specs.Spec {
	if rootless {
		return DefaultRootless(
			[]specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}},
			[]specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}})
	}
	return defaultSpec(false, nil, nil)
}

// DefaultRootless is `gtu spec --rootless`: Default's rootless template with
// the given id mappings (the caller's full map from package userns: its own
// id as 0, then its subordinate ranges). With more than one id mapped, the
// tty group (gid 5) exists in the container and devpts uses it, as as root.
func DefaultRootless(uids, gids []specs.LinuxIDMapping) *specs.Spec {
	return defaultSpec(true, uids, gids)
}

func defaultSpec(rootless bool, uids, gids []specs.LinuxIDMapping) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal: true,
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: append([]string(nil), caps...),
				Permitted: append([]string(nil), caps...),
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "gtu",
		Mounts:   defaultMounts(rootless, rootless && !mapsID(gids, 5)),
		Linux: &specs.Linux{
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
	if !rootless {
		s.Linux.Namespaces = []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
			{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
		}
		// Deny all device access through the devices cgroup; the default
		// device nodes are allowed back by the cgroup manager.
		s.Linux.Resources = &specs.LinuxResources{
			Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		}
		s.Linux.Seccomp = defaultSeccomp(s)
		return s
	}
	// Rootless, like `runc spec --rootless`: map only the calling user to
	// root (no subordinate ids needed), no network namespace (an
	// unprivileged user cannot wire one up without slirp), no cgroup
	// limits (nothing may be delegated).
	s.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}, {Type: specs.UserNamespace},
	}
	s.Linux.UIDMappings = uids
	s.Linux.GIDMappings = gids
	s.Linux.Seccomp = defaultSeccomp(s)
	return s
}

// defaultSeccomp is Docker's default profile (moby/profiles, the profile
// Docker and containerd ship), resolved for s's capabilities: it denies what
// Docker's default denies.
func defaultSeccomp(s *specs.Spec) *specs.LinuxSeccomp {
	p, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		// Only an unknown architecture of this build gets here: better no
		// profile in a template than no template.
		return nil
	}
	return p
}

// mapsID reports whether maps give the container id.
func mapsID(maps []specs.LinuxIDMapping, id uint32) bool {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return true
		}
	}
	return false
}

func defaultMounts(rootless, noTTYGroup bool) []specs.Mount {
	// gid=5 (tty) cannot be used when only the caller's own gid is mapped.
	ptsOpts := []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	if !noTTYGroup {
		ptsOpts = append(ptsOpts, "gid=5")
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: ptsOpts},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	if rootless {
		// sysfs can only be mounted by the owner of the network namespace,
		// and a rootless container shares the host's.
		return append(mounts, specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}})
	}
	return append(mounts,
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	)
}
