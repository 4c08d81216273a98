package rootless

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookRecorder records what a hook sees into the directory $OUT: its state
// on stdin, its args and environment, its mount namespace, and its name
// (the first argument) appended to $OUT/order. With HOOK_MSG it writes that
// to stderr; it exits with HOOK_EXIT. The same script serves on the host
// (bundle/record) and inside the rootfs (/record): both have a static
// /bin/busybox.
const hookRecorder = `#!/bin/busybox sh
name=$1
/bin/busybox cat > "$OUT/$name.state"
echo "$@" > "$OUT/$name.args"
/bin/busybox env > "$OUT/$name.env"
/bin/busybox readlink /proc/self/ns/mnt > "$OUT/$name.mnt"
echo "$name" >> "$OUT/order"
[ -n "$HOOK_MSG" ] && echo "$HOOK_MSG" >&2
exit ${HOOK_EXIT:-0}
`

// hookSleeper records its pid and becomes a long sleep, for timeouts.
const hookSleeper = `#!/bin/busybox sh
echo $$ > "$OUT/sleeper.pid"
exec /bin/busybox sleep 60
`

// hookCallsState runs `RUNTIME --root ROOT state ID` and keeps its output
// in $OUT/NAME.state-output.
const hookCallsState = `#!/bin/busybox sh
"$RUNTIME" --root "$ROOT" state "$ID" > "$OUT/$1.state-output" 2>&1
exit 0
`

// hooked is a container whose bundle holds the hook scripts and an out
// directory, bind-mounted at /out inside the container.
type hooked struct {
	*container
	out string // host path of the out directory
}

// newHooked makes a container running args with the recorder scripts in
// place and no hooks configured yet.
func newHooked(t *testing.T, e *env, args ...string) *hooked {
	t.Helper()
	c := e.newContainer(t, args...)
	h := &hooked{container: c, out: filepath.Join(c.bundle, "out")}
	for _, dir := range []string{h.out, filepath.Join(c.bundle, "rootfs", "out")} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, body := range map[string]string{
		filepath.Join(c.bundle, "record"):           hookRecorder,
		filepath.Join(c.bundle, "rootfs", "record"): hookRecorder,
		filepath.Join(c.bundle, "sleeper"):          hookSleeper,
		filepath.Join(c.bundle, "callstate"):        hookCallsState,
	} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.spec.Mounts = append(c.spec.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: h.out,
		Options: []string{"rbind", "rw"}})
	c.spec.Hooks = &specs.Hooks{}
	return h
}

// host is a recorder hook run in the runtime namespace (host paths), named
// name in $OUT/order, with extra environment.
func (h *hooked) host(name string, env ...string) specs.Hook {
	return specs.Hook{Path: filepath.Join(h.bundle, "record"), Args: []string{"record", name},
		Env: append([]string{"OUT=" + h.out}, env...)}
}

// inside is a recorder hook whose path resolves inside the container.
func (h *hooked) inside(name string, env ...string) specs.Hook {
	return specs.Hook{Path: "/record", Args: []string{"record", name}, Env: append([]string{"OUT=/out"}, env...)}
}

// order is the hooks that ran so far, in order.
func (h *hooked) order() []string {
	data, _ := os.ReadFile(filepath.Join(h.out, "order"))
	return strings.Fields(string(data))
}

func (h *hooked) wantOrder(want ...string) {
	h.t.Helper()
	if got := h.order(); !slices.Equal(got, want) {
		h.t.Fatalf("hooks ran %v, want %v", got, want)
	}
}

// wantOrderButPoststart is wantOrder for the hooks other than poststart,
// which runc 1.1.5 runs at the end of create (runc#1710; runc#5186 moved
// it to start).
func (h *hooked) wantOrderButPoststart(want ...string) {
	h.t.Helper()
	got := slices.DeleteFunc(h.order(), func(s string) bool { return s == "poststart" })
	if !slices.Equal(got, want) {
		h.t.Fatalf("hooks other than poststart ran %v, want %v", got, want)
	}
}

// seen is the state the hook called name read on its stdin.
func (h *hooked) seen(name string) specs.State {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.out, name+".state"))
	if err != nil {
		h.t.Fatalf("hook %s left no state: %v", name, err)
	}
	var st specs.State
	if err := json.Unmarshal(data, &st); err != nil {
		h.t.Fatalf("hook %s read invalid state JSON %q: %v", name, data, err)
	}
	return st
}

// wantSeen checks the state hook name saw: status, pid (0: none), and the
// container's id, bundle and annotations.
func (h *hooked) wantSeen(name, status string, pid int) {
	h.t.Helper()
	st := h.seen(name)
	if string(st.Status) != status || st.Pid != pid || st.ID != h.id || st.Bundle != h.bundle ||
		st.Annotations["org.gtu.test"] != "hooks" || st.Version == "" {
		h.t.Errorf("hook %s saw %+v, want status %s, pid %d, id %s, bundle %s, our annotation", name, st, status, pid, h.id, h.bundle)
	}
}

// file reads one of a hook's records (args, env, mnt).
func (h *hooked) file(name string) string {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.out, name))
	if err != nil {
		h.t.Fatalf("%v", err)
	}
	return strings.TrimSpace(string(data))
}

func readNS(t *testing.T, pid string) string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + pid + "/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestHooksLifecycle: each hook runs at its point of the lifecycle, in the
// right namespace, with the status the runtime spec gives that point on its
// stdin, and with exactly its own args and env.
func TestHooksLifecycle(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	h := newHooked(t, e, "sh", "-c", "test -e /out/startContainer.state && touch /out/process-after-startContainer; exec sleep 100")
	h.spec.Annotations = map[string]string{"org.gtu.test": "hooks"}
	pre := h.host("prestart", "HOOKVAR=x y")
	pre.Args = append(pre.Args, "a b", "c")
	h.spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{pre},
		CreateRuntime:   []specs.Hook{h.host("createRuntime")},
		CreateContainer: []specs.Hook{h.host("createContainer")},
		StartContainer:  []specs.Hook{h.inside("startContainer")},
		Poststart:       []specs.Hook{h.host("poststart")},
		Poststop:        []specs.Hook{h.host("poststop")},
	}
	h.write()
	// A variable of the runtime's own environment must not reach a hook.
	cmd := e.command("create", "-b", h.bundle, h.id)
	cmd.Env = append(cmd.Env, "GTU_TEST_LEAK=1")
	if r := h.executeDetached(cmd); r.code != 0 {
		t.Fatalf("%v", r)
	}
	st, _, r := h.state()
	if r.code != 0 || st.Status != "created" {
		t.Fatalf("after create: %v, status %q", r, st.Status)
	}
	pid := st.Pid
	afterCreate := h.order()
	h.wantOrderButPoststart("prestart", "createRuntime", "createContainer")
	h.wantSeen("prestart", "creating", pid)
	h.wantSeen("createRuntime", "creating", pid)

	if got := h.file("prestart.args"); got != "prestart a b c" {
		t.Errorf("prestart args %q, want %q", got, "prestart a b c")
	}
	env := h.file("prestart.env")
	if !strings.Contains(env, "HOOKVAR=x y\n") || !strings.Contains(env, "OUT="+h.out) {
		t.Errorf("prestart env lacks its own variables:\n%s", env)
	}
	for _, leak := range []string{"GTU_TEST_LEAK=", "HOME=", markEnv + "="} {
		if strings.Contains(env, leak) {
			t.Errorf("prestart env has %s from elsewhere:\n%s", leak, env)
		}
	}

	// prestart and createRuntime run in the runtime's mount namespace,
	// createContainer in the container's (its path is a host path).
	hostNS, ctrNS := readNS(t, "self"), readNS(t, strconv.Itoa(pid))
	if got := h.file("createRuntime.mnt"); got != hostNS {
		t.Errorf("createRuntime ran in mount namespace %s, want the runtime's %s", got, hostNS)
	}
	if got := h.file("createContainer.mnt"); got != ctrNS {
		t.Errorf("createContainer ran in mount namespace %s, want the container's %s", got, ctrNS)
	}

	h.mustStart()
	h.wantOrderButPoststart("prestart", "createRuntime", "createContainer", "startContainer")
	if st := h.seen("startContainer"); st.Status != "created" || st.ID != h.id {
		t.Errorf("startContainer saw %+v, want status created", st)
	}
	if got := h.file("startContainer.mnt"); got != ctrNS {
		t.Errorf("startContainer ran in mount namespace %s, want the container's %s", got, ctrNS)
	}
	poll(t, "the container's process to start", func() (bool, string) {
		_, err := os.Stat(filepath.Join(h.out, "process-after-startContainer"))
		return err == nil, "the process did not see startContainer's record before it ran"
	})

	afterStart := h.order()
	h.e.mustRuntime("kill", h.id, "KILL")
	h.waitStatus("stopped")
	h.wantOrderButPoststart("prestart", "createRuntime", "createContainer", "startContainer")
	h.e.mustRuntime("delete", h.id)
	h.wantOrderButPoststart("prestart", "createRuntime", "createContainer", "startContainer", "poststop")
	h.wantSeen("poststop", "stopped", 0)
	h.assertGone()

	t.Run("hooks in the container see the host pid", func(t *testing.T) {
		specOnly(t, "runc 1.1.5 gives createContainer and startContainer hooks the pid inside the container's pid namespace (1)")
		h.wantSeen("createContainer", "creating", pid)
		h.wantSeen("startContainer", "created", pid)
	})
	t.Run("poststart after start", func(t *testing.T) {
		specOnly(t, "runc 1.1.5 runs poststart hooks at the end of create, with status created (runc#1710)")
		if !slices.Equal(afterCreate, []string{"prestart", "createRuntime", "createContainer"}) ||
			!slices.Equal(afterStart, []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart"}) {
			t.Errorf("hooks after create %v, after start %v", afterCreate, afterStart)
		}
		h.wantSeen("poststart", "running", pid)
	})
}

// TestHooksForegroundRun: a foreground run runs poststart once the process
// runs and poststop once it has exited and been deleted.
func TestHooksForegroundRun(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	h := newHooked(t, e, "true")
	h.spec.Annotations = map[string]string{"org.gtu.test": "hooks"}
	h.spec.Hooks = &specs.Hooks{
		CreateRuntime:  []specs.Hook{h.host("createRuntime")},
		StartContainer: []specs.Hook{h.inside("startContainer")},
		Poststart:      []specs.Hook{h.host("poststart")},
		Poststop:       []specs.Hook{h.host("poststop")},
	}
	if r := h.run(); r.code != 0 {
		t.Fatalf("%v", r)
	}
	h.wantOrderButPoststart("createRuntime", "startContainer", "poststop")
	h.wantSeen("poststop", "stopped", 0)
	h.assertGone()
	specOnly(t, "runc 1.1.5 runs poststart hooks at the end of create (runc#1710)")
	h.wantOrder("createRuntime", "startContainer", "poststart", "poststop")
}

// TestHookFailsCreate: a failing prestart, createRuntime or createContainer
// hook fails create (and run) with its exit status and stderr, runs no
// later hook but poststop (runtime.md: continue at the destroy step), and
// leaves nothing behind.
func TestHookFailsCreate(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	for _, failing := range []string{"prestart", "createRuntime", "createContainer"} {
		for _, verb := range []string{"create", "run"} {
			t.Run(failing+"/"+verb, func(t *testing.T) {
				e := newEnv(t)
				t.Parallel()
				h := newHooked(t, e, "sh", "-c", "touch /out/process-ran")
				bad := []string{"HOOK_EXIT=3", "HOOK_MSG=no network for you"}
				hook := func(name string) []specs.Hook {
					if name == failing {
						return []specs.Hook{h.host(name, bad...)}
					}
					return []specs.Hook{h.host(name)}
				}
				h.spec.Hooks = &specs.Hooks{
					Prestart:        hook("prestart"),
					CreateRuntime:   hook("createRuntime"),
					CreateContainer: hook("createContainer"),
					StartContainer:  []specs.Hook{h.inside("startContainer")},
					Poststart:       []specs.Hook{h.host("poststart")},
					Poststop:        []specs.Hook{h.host("poststop")},
				}
				var r result
				if verb == "create" {
					r = h.create()
				} else {
					r = h.run()
				}
				if r.code == 0 {
					t.Fatalf("a failing %s hook did not fail %s: %v", failing, verb, r)
				}
				mustContain(t, verb+"'s error", r.stderr, "exit status 3")
				mustContain(t, verb+"'s error", r.stderr, "no network for you")
				want := []string{"prestart", "createRuntime", "createContainer"}
				want = append(want[:slices.Index(want, failing)+1], "poststop")
				h.wantOrder(want...)
				if _, err := os.Stat(filepath.Join(h.out, "process-ran")); err == nil {
					t.Error("the container's process ran")
				}
				h.assertGone()
				specOnly(t, "runc names the hook only by its index in the list (error running hook #0)")
				mustContain(t, verb+"'s error", r.stderr, "hooks."+failing+"[0] "+filepath.Join(h.bundle, "record")+": exit status 3: no network for you")
			})
		}
	}
}

// TestHookTimeout: a hook that sleeps past its timeout is killed and fails
// its step.
func TestHookTimeout(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	h := newHooked(t, e, "true")
	one := 1
	h.spec.Hooks.CreateRuntime = []specs.Hook{{Path: filepath.Join(h.bundle, "sleeper"), Env: []string{"OUT=" + h.out}, Timeout: &one}}
	begin := time.Now()
	r := h.create()
	took := time.Since(begin)
	if r.code == 0 {
		t.Fatalf("create with a hook sleeping past its timeout succeeded: %v", r)
	}
	if took > 30*time.Second {
		t.Errorf("create took %v with a 1s hook timeout", took)
	}
	mustContain(t, "create's error", r.stderr, "time")
	data, err := os.ReadFile(filepath.Join(h.out, "sleeper.pid"))
	if err != nil {
		t.Fatalf("the hook never ran: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	poll(t, "the timed-out hook to die", func() (bool, string) {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		return errors.Is(err, os.ErrNotExist) || isZombie(pid), "pid " + strconv.Itoa(pid) + " still alive"
	})
	h.assertGone()
	specOnly(t, "runc says: error running hook #0: hook ran past specified timeout of 1.0s")
	mustContain(t, "create's error", r.stderr, "hooks.createRuntime[0] "+filepath.Join(h.bundle, "sleeper")+": timed out after 1s")
}

// TestStartContainerHookFails: a failing startContainer hook keeps the
// container's process from running; the container ends up stopped.
func TestStartContainerHookFails(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	h := newHooked(t, e, "sh", "-c", "touch /out/process-ran; exec sleep 100")
	h.spec.Hooks = &specs.Hooks{
		StartContainer: []specs.Hook{h.inside("startContainer", "HOOK_EXIT=4", "HOOK_MSG=not today")},
		Poststart:      []specs.Hook{h.host("poststart")},
		Poststop:       []specs.Hook{h.host("poststop")},
	}
	h.mustCreate()
	r := h.start()
	h.waitStatus("stopped")
	if _, err := os.Stat(filepath.Join(h.out, "process-ran")); err == nil {
		t.Error("the container's process ran despite the failing startContainer hook")
	}
	h.wantOrderButPoststart("startContainer")
	h.e.mustRuntime("delete", h.id)
	h.wantOrderButPoststart("startContainer", "poststop")
	h.assertGone()
	specOnly(t, "runc 1.1.5's start succeeds: its init fails after start has returned")
	h.wantOrder("startContainer", "poststop") // no poststart after a failed start
	if r.code == 0 {
		t.Fatalf("start succeeded despite the failing startContainer hook: %v", r)
	}
	mustContain(t, "start's error", r.stderr, "hooks.startContainer[0] /record: exit status 4: not today")
}

// TestPoststartHookFails: a failing poststart hook fails start (or run),
// and the container is killed, as runc kills it; delete then runs poststop.
func TestPoststartHookFails(t *testing.T) {
	requireRoot(t)
	specOnly(t, "runc 1.1.5 runs poststart hooks at the end of create (runc#1710), so create fails instead")
	t.Parallel()
	for _, verb := range []string{"start", "run -d"} {
		t.Run(verb, func(t *testing.T) {
			e := newEnv(t)
			t.Parallel()
			h := newHooked(t, e, "sleep", "100")
			h.spec.Hooks = &specs.Hooks{
				Poststart: []specs.Hook{h.host("poststart", "HOOK_EXIT=5", "HOOK_MSG=bad network")},
				Poststop:  []specs.Hook{h.host("poststop")},
			}
			var r result
			if verb == "start" {
				h.mustCreate()
				st, _, _ := h.state()
				r = h.start()
				h.waitStatus("stopped")
				if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err == nil && !isZombie(st.Pid) {
					t.Errorf("init pid %d survived the failing poststart hook", st.Pid)
				}
				h.wantOrder("poststart")
				h.e.mustRuntime("delete", h.id)
			} else {
				r = h.runDetached()
			}
			if r.code == 0 {
				t.Fatalf("%s succeeded despite the failing poststart hook: %v", verb, r)
			}
			mustContain(t, verb+"'s error", r.stderr, "hooks.poststart[0] "+filepath.Join(h.bundle, "record")+": exit status 5: bad network")
			h.wantOrder("poststart", "poststop")
			h.assertGone()
		})
	}
}

// TestPoststopHookFails: a failing poststop hook is only a warning: delete
// succeeds and the remaining poststop hooks still run.
func TestPoststopHookFails(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	h := newHooked(t, e, "true")
	h.spec.Hooks = &specs.Hooks{
		Poststop: []specs.Hook{h.host("poststop", "HOOK_EXIT=6", "HOOK_MSG=cleanup failed"), h.host("poststop2")},
	}
	h.mustCreate()
	r := h.e.runtime("delete", "-f", h.id)
	if r.code != 0 {
		t.Fatalf("delete failed because of a poststop hook: %v", r)
	}
	h.assertGone()
	mustContain(t, "delete's warning", r.stderr, "cleanup failed")
	specOnly(t, "runc 1.1.5 skips the poststop hooks after a failing one")
	h.wantOrder("poststop", "poststop2")
	mustContain(t, "delete's warning", r.stderr, "hooks.poststop[0]")
}

// TestHookConfigErrors: invalid hooks are refused at create with the field
// named, before anything exists.
func TestHookConfigErrors(t *testing.T) {
	e := newEnv(t)
	specOnly(t, "runc 1.1.5 does not validate hooks: it runs a relative path from the bundle and times out at once with timeout 0")
	t.Parallel()
	zero := 0
	for name, tc := range map[string]struct {
		hooks   specs.Hooks
		mention string
	}{
		"relative path": {specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}, {Path: "record"}}}, "hooks.createRuntime[1].path: must be absolute"},
		"zero timeout":  {specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}, "hooks.poststart[0].timeout: must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHooked(t, e, "true")
			h.spec.Hooks = &tc.hooks
			r := h.create()
			if r.code == 0 {
				t.Fatalf("create accepted invalid hooks: %v", r)
			}
			h.assertGone()
			if len(h.order()) != 0 {
				t.Errorf("hooks ran: %v", h.order())
			}
			mustContain(t, "create's error", r.stderr, tc.mention)
		})
	}
}

// TestHooksCallRuntime: a hook may run the runtime on its own container
// (`state`) without deadlocking on the container's lock: create and start
// must not wait for the hook's timeout.
func TestHooksCallRuntime(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	h := newHooked(t, e, "sleep", "100")
	timeout := 20
	call := func(name string) []specs.Hook {
		return []specs.Hook{{Path: filepath.Join(h.bundle, "callstate"), Args: []string{"callstate", name}, Timeout: &timeout,
			Env: []string{"OUT=" + h.out, "RUNTIME=" + runtimeBin, "ROOT=" + e.root, "ID=" + h.id}}}
	}
	h.spec.Hooks = &specs.Hooks{CreateRuntime: call("createRuntime"), Poststart: call("poststart")}
	begin := time.Now()
	h.mustCreate()
	h.mustStart()
	if took := time.Since(begin); took > time.Duration(timeout)*time.Second/2 {
		t.Errorf("create and start took %v: a hook calling state waited for a lock", took)
	}
	// Before Ready there is no state.json: the answer is runc's.
	mustContain(t, "state from a createRuntime hook", h.file("createRuntime.state-output"), "does not exist")
	specOnly(t, "runc 1.1.5 runs poststart hooks at the end of create, when the container is not yet running")
	if out := h.file("poststart.state-output"); !strings.Contains(out, `"status": "running"`) {
		t.Errorf("state from a poststart hook: %s", out)
	}
}
