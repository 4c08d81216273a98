// Package mounts answers "what is mounted at or below this directory?",
// for the test harnesses that must never delete a directory with something
// still mounted in it.
package mounts

import (
	"io"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Under lists the mount points at or below dir in this mount namespace,
// deepest first (the order to unmount them in).
func Under(dir string) []string {
	infos, err := mountinfo.GetMounts(filter(dir))
	if err != nil {
		return nil
	}
	return points(infos)
}

// UnderReader is Under for a mountinfo table read from r.
func UnderReader(r io.Reader, dir string) []string {
	infos, err := mountinfo.GetMountsFromReader(r, filter(dir))
	if err != nil {
		return nil
	}
	return points(infos)
}

func filter(dir string) mountinfo.FilterFunc {
	return func(i *mountinfo.Info) (skip, stop bool) {
		return i.Mountpoint != dir && !strings.HasPrefix(i.Mountpoint, dir+"/"), false
	}
}

func points(infos []*mountinfo.Info) []string {
	out := make([]string, 0, len(infos))
	for _, i := range infos {
		out = append(out, i.Mountpoint)
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
