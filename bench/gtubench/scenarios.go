package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

func versionOf(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "unknown (" + path + " --version failed)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// probe runs the bundle once with each runtime (and once rootless), and
// leaves out of every scenario a runtime that cannot run it, with the reason.
func (b *bench) probe() {
	for _, rt := range b.rts {
		if rt.skip != "" {
			fmt.Printf("  %-6s skipped: %s\n", rt.name, rt.skip)
			continue
		}
		if st, err := os.Stat(rt.path); err != nil || st.Mode()&0o111 == 0 {
			rt.skip = fmt.Sprintf("%s is not an executable file", rt.path)
		} else if err := b.runOnce(rt, false); err != nil {
			rt.skip = fmt.Sprintf("`%s run` of the bundle failed: %v", rt.name, err)
		}
		if rt.skip != "" {
			fmt.Printf("  %-6s skipped: %s\n", rt.name, rt.skip)
			continue
		}
		fmt.Printf("  %-6s %s (%s)\n", rt.name, rt.path, rt.version)
		switch {
		case !b.opts.rootless || !b.want("rootless"):
			rt.rootlessSkip = "not asked for"
		case b.nobody == nil:
			rt.rootlessSkip = "no unprivileged user on this host (-rootless-user, nobody)"
		default:
			if err := b.runOnce(rt, true); err != nil {
				rt.rootlessSkip = fmt.Sprintf("rootless `%s run` as %s failed: %v", rt.name, b.rootlessName, err)
				fmt.Printf("  %-6s rootless skipped: %s\n", rt.name, rt.rootlessSkip)
			}
		}
	}
}

// runOnce runs the `true` bundle and removes whatever it leaves.
func (b *bench) runOnce(rt *rtDef, rootless bool) error {
	id := b.newID(rt, "probe")
	dir, err := b.kit.bundle(id, []string{"true"}, rootless)
	if err != nil {
		return err
	}
	defer b.kit.dropBundle(id)
	c := b.cmd(rt, rootless, "run", "--bundle", dir, id)
	c.timeout = 30 * time.Second
	_, err = b.r.must(c)
	b.forceDelete(rt, rootless, id)
	return err
}

// forceDelete removes a container if the runtime still knows it, ignoring
// errors: it is clean-up, never measured.
func (b *bench) forceDelete(rt *rtDef, rootless bool, id string) {
	if _, err := b.r.must(b.cmd(rt, rootless, "state", id)); err != nil {
		return
	}
	_, _ = b.r.run(b.cmd(rt, rootless, "delete", "--force", id))
}

// alternate runs step warmup+runs times for every runtime, interleaved: in
// round i the runtimes go in an order rotated by i, so neither always follows
// the other (page cache, CPU frequency and cgroup creation costs left by the
// previous run fall on each alike). A runtime whose step fails leaves the
// scenario with the error as its reason.
func (b *bench) alternate(rts []*rtDef, failed map[string]string, step func(rt *rtDef, record bool) error) error {
	total := b.opts.warmup + b.opts.runs
	for i := range total {
		n := len(rts)
		for j := range n {
			rt := rts[(i+j)%n]
			if _, bad := failed[rt.name]; bad {
				continue
			}
			if err := interrupted(b.ctx); err != nil {
				return err
			}
			if err := step(rt, i >= b.opts.warmup); err != nil {
				failed[rt.name] = err.Error()
				fmt.Printf("  %s failed: %v\n", rt.name, err)
			}
		}
	}
	return interrupted(b.ctx)
}

// runScenario: `RUNTIME run --bundle B ID` of `true`. runc run creates,
// starts, waits for the container and deletes it; a drop-in must do the
// same, so the single command is the measure. If a runtime leaves the
// container behind, it is deleted unmeasured and the report says so.
func (b *bench) runScenario() error {
	fmt.Println("scenario: run (root)")
	return b.runLike(false, false, "run", "rss")
}

// seccompScenario is runScenario with Docker's default seccomp profile in
// the config, as podman and Docker always send one.
func (b *bench) seccompScenario() error {
	fmt.Println("scenario: run with Docker's default seccomp profile (root)")
	return b.runLike(false, true, "run-seccomp", "rss-seccomp")
}

func (b *bench) rootlessScenario() error {
	fmt.Printf("scenario: run (rootless, as %s)\n", b.rootlessName)
	var rts []*rtDef
	sc := b.res.get("run-rootless")
	for _, rt := range b.active() {
		if rt.rootlessSkip != "" {
			sc.skip(rt.name, rt.rootlessSkip)
			b.res.get("rss-rootless").skip(rt.name, rt.rootlessSkip)
			continue
		}
		rts = append(rts, rt)
	}
	if len(rts) == 0 {
		return nil
	}
	return b.runLike(true, false, "run-rootless", "rss-rootless", rts...)
}

func (b *bench) runLike(rootless, withSeccomp bool, key, rssKey string, rts ...*rtDef) error {
	if rts == nil {
		rts = b.active()
	}
	sc, rss := b.res.get(key), b.res.get(rssKey)
	failed := map[string]string{}
	leftover := map[string]bool{}
	err := b.alternate(rts, failed, func(rt *rtDef, record bool) error {
		id := b.newID(rt, "")
		dir, err := b.kit.bundleWith(id, []string{"true"}, rootless, withSeccomp)
		if err != nil {
			return err
		}
		defer b.kit.dropBundle(id)
		c := b.cmd(rt, rootless, "run", "--bundle", dir, id)
		c.isolate = true // its RSS is recorded
		b.r.takeOrphans()
		res, err := b.r.must(c)
		_, orphanRSS := b.r.takeOrphans()
		if err != nil {
			b.forceDelete(rt, rootless, id)
			return err
		}
		if _, err := b.r.must(b.cmd(rt, rootless, "state", id)); err == nil {
			leftover[rt.name] = true
			_, _ = b.r.run(b.cmd(rt, rootless, "delete", "--force", id))
		}
		if record {
			sc.add(rt.name, ms(res.elapsed))
			rss.add(rt.name, float64(max(res.maxRSSKiB, orphanRSS))/1024)
		}
		return nil
	})
	for name, reason := range failed {
		sc.skip(name, reason)
		rss.skip(name, reason)
	}
	for name := range leftover {
		sc.note(fmt.Sprintf("%s run left the container behind (runc deletes it); it was deleted unmeasured", name))
	}
	return err
}

// stepsScenario times create, start and delete of a `true` container as
// separate commands. Between start and delete the driver polls `state`
// (unmeasured) until the container has stopped, so delete never races the
// exit of `true`.
func (b *bench) stepsScenario() error {
	fmt.Println("scenario: create / start / delete")
	cr, st, de := b.res.get("create"), b.res.get("start"), b.res.get("delete")
	failed := map[string]string{}
	err := b.alternate(b.active(), failed, func(rt *rtDef, record bool) error {
		id := b.newID(rt, "")
		dir, err := b.kit.bundle(id, []string{"true"}, false)
		if err != nil {
			return err
		}
		defer b.kit.dropBundle(id)
		c, err := b.r.must(b.cmd(rt, false, "create", "--bundle", dir, id))
		if err != nil {
			b.forceDelete(rt, false, id)
			return err
		}
		s, err := b.r.must(b.cmd(rt, false, "start", id))
		if err == nil {
			err = b.waitStatus(rt, id, "stopped")
		}
		if err != nil {
			b.forceDelete(rt, false, id)
			return err
		}
		d, err := b.r.must(b.cmd(rt, false, "delete", id))
		if err != nil {
			b.forceDelete(rt, false, id)
			return err
		}
		if record {
			cr.add(rt.name, ms(c.elapsed))
			st.add(rt.name, ms(s.elapsed))
			de.add(rt.name, ms(d.elapsed))
		}
		return nil
	})
	for name, reason := range failed {
		for _, sc := range []*scenario{cr, st, de} {
			sc.skip(name, reason)
		}
	}
	return err
}

func (b *bench) waitStatus(rt *rtDef, id, want string) error {
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		c := b.cmd(rt, false, "state", id)
		c.stdout = true
		res, err := b.r.must(c)
		if err != nil {
			return err
		}
		var st struct{ Status string }
		if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
			return fmt.Errorf("%s state %s: %w", rt.name, id, err)
		}
		if last = st.Status; last == want {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s state %s: still %q after 10s, want %q", rt.name, id, last, want)
}

// execScenario times `RUNTIME exec ID true` in a running `sleep` container.
// A runtime whose exec fails on the first try is reported as skipped with its
// error (gtu has no exec yet).
func (b *bench) execScenario() error {
	fmt.Println("scenario: exec")
	sc := b.res.get("exec")
	ids := map[string]string{}
	defer func() {
		for _, rt := range b.active() {
			if id, ok := ids[rt.name]; ok {
				_, _ = b.r.run(b.cmd(rt, false, "delete", "--force", id))
				b.kit.dropBundle(id)
			}
		}
	}()
	var rts []*rtDef
	for _, rt := range b.active() {
		id := b.newID(rt, "exec")
		dir, err := b.kit.bundle(id, []string{"sleep", "3600"}, false)
		if err != nil {
			return err
		}
		ids[rt.name] = id
		if _, err := b.r.must(b.cmd(rt, false, "create", "--bundle", dir, id)); err != nil {
			sc.skip(rt.name, "could not create a sleep container: "+err.Error())
			continue
		}
		if _, err := b.r.must(b.cmd(rt, false, "start", id)); err != nil {
			sc.skip(rt.name, "could not start a sleep container: "+err.Error())
			continue
		}
		if _, err := b.r.must(b.cmd(rt, false, "exec", id, "true")); err != nil {
			sc.skip(rt.name, fmt.Sprintf("%s has no working exec yet: %v", rt.name, err))
			fmt.Printf("  exec: skipped (%s)\n", sc.skipped[rt.name])
			continue
		}
		rts = append(rts, rt)
	}
	failed := map[string]string{}
	err := b.alternate(rts, failed, func(rt *rtDef, record bool) error {
		res, err := b.r.must(b.cmd(rt, false, "exec", ids[rt.name], "true"))
		if err != nil {
			return err
		}
		if record {
			sc.add(rt.name, ms(res.elapsed))
		}
		return nil
	})
	for name, reason := range failed {
		sc.skip(name, reason)
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
