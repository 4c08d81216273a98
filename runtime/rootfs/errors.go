package rootfs

import "errors"

var (
	// ErrNotPlainDir is returned when a proc or sysfs destination exists but
	// is not a plain directory (a symlink there could redirect the mount:
	// CVE-2019-16884).
	ErrNotPlainDir = errors.New("proc and sysfs must be mounted on a plain directory")
	// ErrProcDestination is returned for a mount whose resolved destination
	// lies inside the container's /proc and is not on the short list of
	// files that fuse emulators such as lxcfs replace.
	ErrProcDestination = errors.New("mount destination is inside /proc")
	// ErrDeviceType is returned for a device whose type is not c, b, u or p.
	ErrDeviceType = errors.New("unknown device type")
	// ErrNotProcfs is returned when /proc is not a procfs mount at a moment
	// when the package needs /proc/self/fd to mount onto file handles.
	ErrNotProcfs = errors.New("/proc is not procfs")
	// ErrCgroupPath is returned when the container's cgroup in a hierarchy is
	// unknown or lies outside what the host has mounted of that hierarchy.
	ErrCgroupPath = errors.New("cgroup path not reachable through the host mount")
)
