package hooks

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable /bin/sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunPassesStateArgsAndEnv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// Set in our environment: the hook must not see it.
	t.Setenv("GTU_HOOK_LEAK", "1")
	p := script(t, dir, "record", `{ echo "argv0=$0 args=$*"; echo "leak=${GTU_HOOK_LEAK:-none} a=$A b=$B"; cat; } > "$OUT"`+"\n")
	state := []byte(`{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}`)
	h := Hook{Path: p, Args: []string{p, "one", "two"}, Env: []string{"OUT=" + out, "A=1", "B=x y"}}
	if err := Run(h, state); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "argv0=" + p + " args=one two\nleak=none a=1 b=x y\n" + string(state)
	if string(got) != want {
		t.Errorf("hook saw:\n%s\nwant:\n%s", got, want)
	}
	var st map[string]any
	if err := json.Unmarshal(got[strings.LastIndex(string(got), "\n")+1:], &st); err != nil || st["status"] != "creating" {
		t.Errorf("state on stdin: %v, %v", st, err)
	}
}

func TestRunNoArgsNoEnv(t *testing.T) {
	dir := t.TempDir()
	// No env at all: the script cannot be told where to write, so it
	// fails with what it sees and we read the message.
	p := script(t, dir, "noenv", `echo "argc=$# path=${PATH:-unset} home=${HOME:-unset}" >&2; exit 1`+"\n")
	err := Run(Hook{Path: p}, nil)
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("want *Error, got %v", err)
	}
	// dash sets a default PATH of its own when none is given; what matters
	// is that gtu's (and the test's) HOME did not leak in.
	if !strings.Contains(he.Stderr, "argc=0") || !strings.Contains(he.Stderr, "home=unset") {
		t.Errorf("stderr %q", he.Stderr)
	}
}

func TestRunFailure(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "fail", "echo first line >&2\necho 'second line' >&2\necho on stdout\nexit 3\n")
	err := Run(Hook{Path: p}, []byte("{}"))
	want := p + ": exit status 3: first line; second line"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("cause %v is not exit status 3", err)
	}
}

func TestRunMissing(t *testing.T) {
	err := Run(Hook{Path: "/nonexistent/hook"}, nil)
	want := "/nonexistent/hook: start: no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v does not match os.ErrNotExist", err)
	}
}

func TestRunTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	// The hook's own child must die with it: the whole group is killed.
	p := script(t, dir, "sleepy", `echo going to sleep >&2; sleep 300 & echo $! > "$PIDFILE"; wait`+"\n")
	start := time.Now()
	err := Run(Hook{Path: p, Env: []string{"PIDFILE=" + pidFile, "PATH=/usr/bin:/bin"}, Timeout: 1}, nil)
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if want := p + ": timed out after 1s (killed): going to sleep"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if took > 10*time.Second {
		t.Errorf("Run took %v for a 1s timeout", took)
	}
	data, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	stat := "/proc/" + strings.TrimSpace(string(data)) + "/stat"
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(stat)
		// Gone, or a zombie waiting for its reaper: either way dead.
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %s survived the timeout: %s", stat, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A hook that starts a daemon which keeps the hook's stderr open must not
// keep Run waiting for the daemon.
func TestRunLeavesDaemon(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon")
	p := script(t, dir, "daemon", `sleep 300 & echo $! > "$PIDFILE"; exit 0`+"\n")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			_ = exec.Command("kill", "-9", strings.TrimSpace(string(b))).Run()
		}
	})
	start := time.Now()
	if err := Run(Hook{Path: p, Env: []string{"PIDFILE=" + pidFile, "PATH=/usr/bin:/bin"}}, nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Run waited %v for the daemon", took)
	}
}

func TestRunAllAndEvery(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	env := []string{"LOG=" + log}
	ok := script(t, dir, "ok", `echo ok >> "$LOG"`+"\n")
	bad := script(t, dir, "bad", `echo bad >> "$LOG"; echo nope >&2; exit 2`+"\n")
	list := []Hook{{Path: ok, Env: env}, {Path: bad, Env: env}, {Path: ok, Env: env}, {Path: bad, Env: env}}

	err := RunAll("createRuntime", list, nil)
	if want := "hooks.createRuntime[1] " + bad + ": exit status 2: nope"; err == nil || err.Error() != want {
		t.Fatalf("RunAll: %v, want %q", err, want)
	}
	if b, _ := os.ReadFile(log); string(b) != "ok\nbad\n" {
		t.Errorf("RunAll did not stop at the failure: ran %q", b)
	}
	if err := RunAll("poststart", list[:1], nil); err != nil {
		t.Errorf("RunAll of a good hook: %v", err)
	}

	_ = os.Remove(log)
	errs := RunEvery("poststop", list, nil)
	if len(errs) != 2 || !strings.HasPrefix(errs[0].Error(), "hooks.poststop[1] ") || !strings.HasPrefix(errs[1].Error(), "hooks.poststop[3] ") {
		t.Errorf("RunEvery errors: %v", errs)
	}
	if b, _ := os.ReadFile(log); string(b) != "ok\nbad\nok\nbad\n" {
		t.Errorf("RunEvery did not run every hook: ran %q", b)
	}
	if errs := RunEvery("poststop", nil, nil); errs != nil {
		t.Errorf("RunEvery(nil) = %v", errs)
	}
}
