package spec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// Outer describes the user namespace gtu itself runs in when an
// unprivileged caller's gtu re-executed itself inside its rootless session.
// There config.json's id mappings still speak of host ids (what `runc spec
// --rootless` and `gtu spec --rootless` write, since the caller lives on the
// host), while the kernel wants the ids of gtu's own namespace in the maps
// of a namespace gtu creates. UID and GID are gtu's /proc/self/uid_map and
// gid_map: ContainerID is the id inside gtu's namespace, HostID outside.
type Outer struct {
	UID, GID []IDMap
}

// ErrNotMapped means a mapping names host ids that the session does not map.
var ErrNotMapped = errors.New("host ids not mapped into the rootless session")

// translate rewrites the host ids of a plan's mappings into ids of gtu's own
// namespace, and drops a new user namespace whose translated maps are the
// identity over the whole session: the container would get exactly the ids
// it has without one, and it saves creating and mapping a namespace on
// every start (podman's rootless containers run in its user namespace the
// same way).
func (o *Outer) translate(p *Plan) error {
	if o == nil {
		return nil
	}
	var errs []error
	var err error
	if p.UIDMappings, err = inner("linux.uidMappings", p.UIDMappings, o.UID, "uid"); err != nil {
		errs = append(errs, err)
	}
	if p.GIDMappings, err = inner("linux.gidMappings", p.GIDMappings, o.GID, "gid"); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if p.UserNS && identityOver(p.UIDMappings, o.UID) && identityOver(p.GIDMappings, o.GID) {
		p.UserNS = false
		p.CloneFlags &^= unix.CLONE_NEWUSER
		p.UIDMappings, p.GIDMappings = nil, nil
	}
	return nil
}

// inner maps each host range of maps through outer, splitting a range that
// spans several of outer's entries.
func inner(field string, maps, outer []IDMap, kind string) ([]IDMap, error) {
	var out []IDMap
	for i, m := range maps {
		c, h, left := uint64(m.ContainerID), uint64(m.HostID), uint64(m.Size)
		for left > 0 {
			o, ok := containing(outer, h)
			if !ok {
				return nil, &specError{msg: fmt.Sprintf("%s[%d]: host %s %d (of %d+%d) is not mapped into the rootless session: add it to /etc/sub%s for this user",
					field, i, kind, h, m.HostID, m.Size, kind), kinds: []error{ErrNotMapped}}
			}
			n := min(left, uint64(o.HostID)+uint64(o.Size)-h)
			out = append(out, IDMap{ContainerID: uint32(c), HostID: uint32(uint64(o.ContainerID) + h - uint64(o.HostID)), Size: uint32(n)})
			c, h, left = c+n, h+n, left-n
		}
	}
	return out, nil
}

func containing(maps []IDMap, host uint64) (IDMap, bool) {
	for _, o := range maps {
		if host >= uint64(o.HostID) && host-uint64(o.HostID) < uint64(o.Size) {
			return o, true
		}
	}
	return IDMap{}, false
}

// identityOver reports whether maps map every id of gtu's namespace (the
// inside ids of outer) to itself and nothing else.
func identityOver(maps, outer []IDMap) bool {
	if len(maps) == 0 {
		return false
	}
	type span struct{ lo, hi uint64 }
	collect := func(ms []IDMap, key func(IDMap) uint32) []span {
		var s []span
		for _, m := range ms {
			lo := uint64(key(m))
			s = append(s, span{lo, lo + uint64(m.Size)})
		}
		slices.SortFunc(s, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
		var merged []span
		for _, x := range s {
			if n := len(merged); n > 0 && merged[n-1].hi == x.lo {
				merged[n-1].hi = x.hi
				continue
			}
			merged = append(merged, x)
		}
		return merged
	}
	for _, m := range maps {
		if m.ContainerID != m.HostID {
			return false
		}
	}
	return slices.Equal(collect(maps, func(m IDMap) uint32 { return m.ContainerID }),
		collect(outer, func(m IDMap) uint32 { return m.ContainerID }))
}
