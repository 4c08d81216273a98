package rootfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// stNoSymfollow is ST_NOSYMFOLLOW from <linux/statfs.h>, missing from x/sys.
const stNoSymfollow = 0x2000

// atimeFlags are the mount flags that select the atime mode. The kernel
// locks them as one unit (MNT_LOCK_ATIME) in a less privileged namespace.
const atimeFlags = unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// lockableFlags are the flags the kernel locks on mounts copied into a less
// privileged mount namespace (MNT_LOCK_READONLY, _NODEV, _NOSUID, _NOEXEC):
// a MS_BIND|MS_REMOUNT that leaves one of them out fails with EPERM.
const lockableFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// statfsFlags converts statfs(2) f_flags (ST_*) into mount(2) flags (MS_*).
// The two share bit values only in part: ST_RELATIME is 0x1000, which is
// MS_BIND, so the raw value must never be passed to mount(2).
func statfsFlags(st int64) uintptr {
	table := []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_SYNCHRONOUS, unix.MS_SYNCHRONOUS},
		{unix.ST_MANDLOCK, unix.MS_MANDLOCK},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
		{stNoSymfollow, unix.MS_NOSYMFOLLOW},
	}
	var ms uintptr
	for _, e := range table {
		if st&e.st != 0 {
			ms |= e.ms
		}
	}
	// statfs has no ST_STRICTATIME: neither noatime nor relatime means
	// strictatime, and a remount without any atime flag would silently
	// turn it into relatime (the kernel's default).
	if ms&(unix.MS_NOATIME|unix.MS_RELATIME) == 0 {
		ms |= unix.MS_STRICTATIME
	}
	return ms
}

// withLockedFlags returns the flags for retrying a MS_BIND|MS_REMOUNT that
// failed with EPERM: want plus whatever of the mount's current flags cur the
// kernel may have locked. The atime mode is kept from cur only when want
// does not choose one, so an explicit conflicting request still fails.
func withLockedFlags(want, cur uintptr) uintptr {
	out := want | cur&lockableFlags
	if want&atimeFlags == 0 {
		out |= cur & atimeFlags
	}
	return out
}

// needsBindRemount reports whether a bind mount's flags ask for more than
// the bind itself: MS_BIND ignores every other flag, so ro, nosuid, nodev,
// noexec and the atime flags only take effect through a second
// MS_BIND|MS_REMOUNT call.
func needsBindRemount(flags uintptr) bool {
	return flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0
}

// hasOption reports whether the comma-separated mount data sets key
// (as "key" or "key=value").
func hasOption(data, key string) bool {
	for _, o := range strings.Split(data, ",") {
		if o == key || strings.HasPrefix(o, key+"=") {
			return true
		}
	}
	return false
}
