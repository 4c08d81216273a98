package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanup removes everything a run made outside its work directory, and
// empties the work directory. It is idempotent and runs both at the end of a
// run (also after Ctrl-C) and from run.sh's exit trap (`gtubench cleanup`),
// which catches a driver that crashed or was killed.
//
//  1. Every container still in a runtime's --root is deleted with
//     `RUNTIME --root DIR delete --force ID`.
//  2. Any process still in a cgroup under /gtu-bench (in every v1 hierarchy
//     and in cgroup2) is one of our containers' and is SIGKILLed.
//  3. The /gtu-bench cgroups are removed, deepest first.
//
// r is the running reaper, or nil when called from `gtubench cleanup`.
func cleanup(workdir string, r *reaper) error {
	var errs []error
	raw, err := os.ReadFile(filepath.Join(workdir, "runtimes.json"))
	if err == nil {
		var recs []runtimeRecord
		if err := json.Unmarshal(raw, &recs); err != nil {
			errs = append(errs, err)
		}
		for _, rec := range recs {
			for _, root := range []string{rec.Root, rec.RootlessRoot} {
				entries, _ := os.ReadDir(root)
				for _, e := range entries {
					if e.IsDir() {
						runQuiet(r, rec.Path, "--root", root, "delete", "--force", e.Name())
					}
				}
			}
		}
	}
	stopSession(filepath.Join(workdir, "xdg-rootless", "gtu", ".session"))
	if err := removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(filepath.Join(workdir, "bundles")); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopSession ends the rootless session gtu started for the rootless
// scenario's user (its XDG_RUNTIME_DIR is the work directory's), which
// otherwise outlives the run: its top process is in daemon_pid, and it
// runs only while it holds the flock on lock.
func stopSession(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "daemon_pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	lock, err := os.Open(filepath.Join(dir, "lock"))
	if err != nil {
		return
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil {
		return // nobody holds it: the session is gone, the pid may be another's
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_SH) // until it has let go
}

func runQuiet(r *reaper, argv ...string) {
	if r != nil {
		_, _ = r.run(cmdSpec{argv: argv, timeout: 30 * time.Second})
		return
	}
	_ = exec.Command(argv[0], argv[1:]...).Run()
}

// cgroupMounts lists the mount points of every cgroup and cgroup2 file system.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "... mountpoint ... - fstype source options"
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 1 {
			continue
		}
		if postFields[0] == "cgroup" || postFields[0] == "cgroup2" {
			out = append(out, fields[4])
		}
	}
	return out, sc.Err()
}

func removeCgroups() error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var dirs []string
	for _, m := range mounts {
		top := filepath.Join(m, cgroupParent)
		_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	if len(dirs) == 0 {
		return nil
	}
	for _, d := range dirs {
		raw, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for f := range strings.FieldsSeq(string(raw)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// Deepest first; a cgroup stays busy until its killed tasks are reaped.
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				left = append(left, d)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroups left behind: %s", strings.Join(left, ", "))
		}
		dirs = left
		time.Sleep(50 * time.Millisecond)
	}
}
