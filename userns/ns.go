package userns

import (
	"fmt"

	"github.com/moby/sys/user"
)

// Map is one line of /proc/self/uid_map or gid_map: Inside is the id in
// this process's user namespace, Outside the id in its parent's.
type Map struct {
	Inside, Outside, Size uint32
}

// Current returns this process's uid and gid maps, or nil, nil in the
// initial user namespace (a real root or a plain user on the host).
func Current() (uids, gids []Map, err error) {
	u, err := user.CurrentProcessUIDMap()
	if err != nil {
		return nil, nil, fmt.Errorf("/proc/self/uid_map: %w", err)
	}
	g, err := user.CurrentProcessGIDMap()
	if err != nil {
		return nil, nil, fmt.Errorf("/proc/self/gid_map: %w", err)
	}
	if initial(u) {
		return nil, nil, nil
	}
	return convert(u), convert(g), nil
}

// initial reports whether m is the initial namespace's map: every id to
// itself.
func initial(m []user.IDMap) bool {
	return len(m) == 1 && m[0].ID == 0 && m[0].ParentID == 0 && m[0].Count == 1<<32-1
}

func convert(in []user.IDMap) []Map {
	out := make([]Map, len(in))
	for i, m := range in {
		out[i] = Map{Inside: uint32(m.ID), Outside: uint32(m.ParentID), Size: uint32(m.Count)}
	}
	return out
}

// Outside returns the id outside that maps to id inside, and whether one
// does (the host uid of root inside podman's or gtu's session namespace).
func Outside(maps []Map, id uint32) (uint32, bool) {
	for _, m := range maps {
		if id >= m.Inside && id-m.Inside < m.Size {
			return m.Outside + id - m.Inside, true
		}
	}
	return 0, false
}
