package container

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/runtime/state"
)

func TestMarshalState(t *testing.T) {
	base := specs.State{Version: "1.3.0", ID: "c1", Pid: 42, Bundle: "/b", Annotations: map[string]string{"a": "1"}}
	tests := []struct {
		status specs.ContainerState
		want   string
	}{
		{specs.StateCreating, `{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":42,"bundle":"/b","annotations":{"a":"1"}}`},
		{specs.StateCreated, `{"ociVersion":"1.3.0","id":"c1","status":"created","pid":42,"bundle":"/b","annotations":{"a":"1"}}`},
		{specs.StateRunning, `{"ociVersion":"1.3.0","id":"c1","status":"running","pid":42,"bundle":"/b","annotations":{"a":"1"}}`},
		// A stopped container has no process.
		{specs.StateStopped, `{"ociVersion":"1.3.0","id":"c1","status":"stopped","bundle":"/b","annotations":{"a":"1"}}`},
	}
	for _, tt := range tests {
		b, err := marshalState(base, tt.status)
		if err != nil || string(b) != tt.want {
			t.Errorf("%s: %s, %v; want %s", tt.status, b, err, tt.want)
		}
	}
	if base.Status != "" || base.Pid != 42 {
		t.Error("marshalState changed its argument")
	}
}

func TestLaterHooksRoundTrip(t *testing.T) {
	for _, h := range []*spec.Hooks{nil, {}, {CreateRuntime: []spec.Hook{{Path: "/x"}}}} {
		if raw, err := laterHooks(h); raw != nil || err != nil {
			t.Errorf("laterHooks(%+v) = %s, %v; want nothing saved", h, raw, err)
		}
	}
	in := &spec.Hooks{
		CreateRuntime: []spec.Hook{{Path: "/cr"}},
		Poststart:     []spec.Hook{{Path: "/ps", Args: []string{"ps", "-x"}, Timeout: 2}},
		Poststop:      []spec.Hook{{Path: "/pt", Env: []string{"A=1"}}},
	}
	raw, err := laterHooks(in)
	if err != nil {
		t.Fatal(err)
	}
	h := &handle{st: &state.State{ID: "c1", Hooks: raw}}
	got, err := h.savedHooks()
	if err != nil {
		t.Fatal(err)
	}
	if got.CreateRuntime != nil || len(got.Poststart) != 1 || got.Poststart[0].Timeout != 2 ||
		got.Poststart[0].Args[1] != "-x" || got.Poststop[0].Env[0] != "A=1" {
		t.Errorf("saved hooks %+v", got)
	}
	h.st.Hooks = json.RawMessage(`{"poststart": 7}`)
	if _, err := h.savedHooks(); err == nil || !strings.Contains(err.Error(), `container "c1": saved hooks`) {
		t.Errorf("corrupt hooks: %v", err)
	}
}

// fakeContainer saves a created container whose "init" is the shell
// command init, which gets the fifo path as $1. It returns reap, which
// waits for the init once however often it is called (a subreaper's part).
func fakeContainer(t *testing.T, init string, hooks *spec.Hooks) (Global, func()) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	store := state.Store{Root: t.TempDir()}
	dir, err := store.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(dir.FifoPath(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", init, "sh", dir.FifoPath())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reap := sync.OnceFunc(func() { _ = cmd.Wait() })
	t.Cleanup(func() { _ = cmd.Process.Kill(); reap() })
	start, err := state.StartTime("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := laterHooks(hooks)
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{OCIVersion: "1.3.0", ID: "c1", Pid: cmd.Process.Pid, PidStart: start, Bundle: "/b",
		OwnPidNS: true, Hooks: raw}
	if err := dir.Save(st); err != nil {
		t.Fatal(err)
	}
	return Global{Root: store.Root}, reap
}

// An init that fails after start opened exec.fifo (a startContainer hook,
// say) makes start fail with the init's message, and no poststart runs.
func TestStartReportsInitFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "poststart-ran")
	g, reap := fakeContainer(t, `printf '!hooks.startContainer[0] /hook: exit status 4: no' > "$1"; exit 1`,
		&spec.Hooks{Poststart: []spec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + out}}}})
	go reap() // as a subreaper would
	err := Start(g, "c1")
	var ce *protocol.ChildError
	if !errors.As(err, &ce) || ce.Msg != "hooks.startContainer[0] /hook: exit status 4: no" {
		t.Fatalf("Start = %v, want the init's message", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("poststart ran after a failed start")
	}
}

// A failing poststart hook fails start and kills the container; a
// poststop hook sees the stopped state, and its failure is only logged.
func TestPoststartFailureKills(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	hooks := &spec.Hooks{
		Poststart: []spec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0.poststart"; echo nope >&2; exit 5`, seen}}},
		Poststop: []spec.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", `exit 6`}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0.poststop"`, seen}},
		},
	}
	g, reap := fakeContainer(t, `printf 0 > "$1"; exec sleep 100`, hooks)
	exited := make(chan struct{})
	go func() { reap(); close(exited) }()
	err := Start(g, "c1")
	if err == nil || !strings.HasPrefix(err.Error(), "hooks.poststart[0] /bin/sh: exit status 5: nope") {
		t.Fatalf("Start = %v, want the poststart hook's failure", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the container survived its failing poststart hook")
	}
	if b, _ := os.ReadFile(seen + ".poststart"); !strings.Contains(string(b), `"status":"running"`) {
		t.Errorf("poststart saw %s", b)
	}

	h, err := open(g, "c1", true)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	var logged strings.Builder
	h.poststop(slog.New(slog.NewTextHandler(&logged, nil)))
	if b, _ := os.ReadFile(seen + ".poststop"); !strings.Contains(string(b), `"status":"stopped"`) || strings.Contains(string(b), `"pid"`) {
		t.Errorf("poststop saw %s", b)
	}
	if !strings.Contains(logged.String(), "hooks.poststop[0] /bin/sh: exit status 6") {
		t.Errorf("poststop failure not logged: %s", logged.String())
	}
}
