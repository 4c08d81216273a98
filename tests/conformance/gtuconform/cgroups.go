package main

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// cgroupSweeper removes the directories that runtime-tools' fixed cgroup
// paths leave behind (see sharesCgroup) after each program that uses them,
// so that no runtime inherits another's cgroup and its limits. runc, for
// one, removes a container's leaf cgroup but not the parents it made
// (testdir/cgrouptest). rmdir only ever removes an empty cgroup.
type cgroupSweeper struct {
	dirs []string // deepest first

	mu      sync.Mutex
	removed int
	stuck   map[string]string // directory -> why rmdir failed
}

// fixedCgroups are runtime-tools v0.9.0's cgroup paths, relative to a
// hierarchy's root (absolute cgroupsPath) or to the caller's own cgroup
// (relative cgroupsPath: runc joins it to /proc/self/cgroup's path).
var fixedCgroups = []string{"cgrouptest", "testdir/cgrouptest/container", "testdir/cgrouptest", "testdir"}

// selfCgroup is one line of /proc/self/cgroup.
type selfCgroup struct {
	controllers string // "memory", "name=systemd", "" for cgroup2
	path        string
}

func parseSelfCgroup(r io.Reader) []selfCgroup {
	var out []selfCgroup
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) == 3 {
			out = append(out, selfCgroup{controllers: f[1], path: f[2]})
		}
	}
	return out
}

// hierarchyDir finds where a /proc/self/cgroup line's hierarchy is mounted
// under root: root/memory, root/systemd for name=systemd, root/unified (or
// root itself) for cgroup2; "" when none of those exists.
func hierarchyDir(root string, c selfCgroup, isDir func(string) bool) string {
	var candidates []string
	if c.controllers == "" {
		candidates = []string{filepath.Join(root, "unified"), root}
	} else {
		candidates = append(candidates, filepath.Join(root, strings.TrimPrefix(c.controllers, "name=")))
		for _, ctl := range strings.Split(c.controllers, ",") {
			candidates = append(candidates, filepath.Join(root, strings.TrimPrefix(ctl, "name=")))
		}
	}
	for _, d := range candidates {
		if isDir(d) {
			return d
		}
	}
	return ""
}

// sweepDirs lists, deepest first, every directory the fixed paths can make
// in the given hierarchies (directory -> the caller's cgroup in it).
func sweepDirs(hierarchies map[string]string) []string {
	seen := map[string]bool{}
	var dirs []string
	for h, own := range hierarchies {
		bases := []string{h}
		if own != "/" && own != "" {
			bases = append(bases, filepath.Join(h, own))
		}
		for _, b := range bases {
			for _, rel := range fixedCgroups {
				d := filepath.Join(b, rel)
				if !seen[d] {
					seen[d] = true
					dirs = append(dirs, d)
				}
			}
		}
	}
	sort.SliceStable(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/")
		if di != dj {
			return di > dj
		}
		return dirs[i] < dirs[j]
	})
	return dirs
}

func newCgroupSweeper(root, procSelfCgroup string) (*cgroupSweeper, error) {
	f, err := os.Open(procSelfCgroup)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	isDir := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.IsDir()
	}
	hier := map[string]string{}
	for _, c := range parseSelfCgroup(f) {
		if d := hierarchyDir(root, c, isDir); d != "" {
			hier[d] = c.path
		}
	}
	return &cgroupSweeper{dirs: sweepDirs(hier), stuck: map[string]string{}}, nil
}

func (s *cgroupSweeper) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dirs {
		err := syscall.Rmdir(d)
		switch {
		case err == nil:
			s.removed++
			delete(s.stuck, d)
		case errors.Is(err, fs.ErrNotExist):
			delete(s.stuck, d)
		default:
			s.stuck[d] = err.Error()
		}
	}
}

// result reports how many directories were removed and which could not be.
func (s *cgroupSweeper) result() (removed int, stuck map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stuck = make(map[string]string, len(s.stuck))
	for k, v := range s.stuck {
		stuck[k] = v
	}
	return s.removed, stuck
}
