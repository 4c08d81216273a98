package userns

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/subid"
)

// maxIDs is how many ids a user namespace can map (0 .. 2^32-2).
const maxIDs = 1<<32 - 1

// Build returns the full mapping for a rootless container: the caller's own
// id becomes 0, then each subordinate range follows from 1 on, in order.
// Without ranges it returns the single mapping and a warning saying what is
// lost and how to fix it (STYLE.md: one warning per degradation).
func Build(callerID uint32, ranges []subid.Range, kind string) ([]specs.LinuxIDMapping, string) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: callerID, Size: 1}}
	next := uint64(1)
	for _, r := range ranges {
		if r.Count == 0 || next >= maxIDs {
			continue
		}
		size := uint64(r.Count)
		if next+size > maxIDs {
			size = maxIDs - next
		}
		maps = append(maps, specs.LinuxIDMapping{ContainerID: uint32(next), HostID: r.Start, Size: uint32(size)})
		next += size
	}
	if len(maps) == 1 {
		return maps, fmt.Sprintf("no subordinate %s range: only %s %d is mapped (as 0); files owned by other ids in an image will not be usable, and a container cannot switch to another user. Add a line to /etc/sub%s to map 65536 more", kind, kind, callerID, kind)
	}
	return maps, ""
}

// Total is how many ids a mapping maps.
func Total(maps []specs.LinuxIDMapping) uint64 {
	var n uint64
	for _, m := range maps {
		n += uint64(m.Size)
	}
	return n
}

// ForCaller is the full mapping of the calling user, from its subordinate
// ranges (getsubids or /etc/subuid and /etc/subgid), with the warnings of
// Build when a kind has none.
func ForCaller() (uids, gids []specs.LinuxIDMapping, warnings []string) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	name, _ := lookupName(int(uid))
	subU, subG, _ := subid.ForUser(name, uid) // no range: Build's warning says what to add
	uids, wu := Build(uid, subU, "uid")
	gids, wg := Build(gid, subG, "gid")
	for _, w := range []string{wu, wg} {
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	return uids, gids, warnings
}
