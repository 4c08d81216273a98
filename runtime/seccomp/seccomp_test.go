package seccomp

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFlags(t *testing.T) {
	f, err := Flags([]specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"})
	if err != nil || f != 7 {
		t.Fatalf("Flags = %d, %v", f, err)
	}
	if _, err := Flags([]specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"}); err == nil || !strings.Contains(err.Error(), "linux.seccomp.flags[0]") {
		t.Fatalf("unknown flag: %v", err)
	}
}

func TestValidBPF(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want bool
	}{{0, false}, {7, false}, {8, true}, {16, true}, {17, false}, {8 * 4097, false}} {
		if got := validBPF(make([]byte, tt.n)); got != tt.want {
			t.Errorf("validBPF(%d bytes) = %v", tt.n, got)
		}
	}
}

// helper builds cmd/gtu-seccomp (it needs cgo and libseccomp-dev).
func helper(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "gtu-seccomp")
	cmd := exec.Command("go", "build", "-o", out, "github.com/gophertainer/gtu/cmd/gtu-seccomp")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build gtu-seccomp (needs cgo and libseccomp-dev): %v: %s", err, b)
	}
	return out
}

func TestCompile(t *testing.T) {
	c := Compiler{Helper: helper(t), CacheDir: t.TempDir()}
	errno := uint(13)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "no_such_syscall"}, Action: specs.ActErrno},
			{Names: []string{"chmod"}, Action: specs.ActErrno, ErrnoRet: &errno,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0o777, Op: specs.OpEqualTo}, {Index: 1, Value: 0o700, Op: specs.OpEqualTo}}},
			{Names: []string{"getpid"}, Action: specs.ActAllow}, // same as the default: skipped
		},
	}
	got, err := c.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !validBPF(got.BPF) || got.Flags != 2 {
		t.Fatalf("Compile: %d bytes, flags %d", len(got.BPF), got.Flags)
	}
	// A second compile is served from the cache, even without the helper.
	c.Helper = filepath.Join(t.TempDir(), "missing")
	again, err := c.Compile(p)
	if err != nil || string(again.BPF) != string(got.BPF) {
		t.Fatalf("cached compile: %v", err)
	}
	// Another profile needs the helper, which is gone.
	p.DefaultAction = specs.ActErrno
	if _, err := c.Compile(p); !errors.Is(err, ErrNoCompiler) {
		t.Fatalf("without the helper: %v", err)
	}
	if got, err := c.Compile(nil); got != nil || err != nil {
		t.Fatalf("Compile(nil) = %v, %v", got, err)
	}
}

func TestCompileErrors(t *testing.T) {
	c := Compiler{Helper: helper(t), CacheDir: t.TempDir()}
	for _, tt := range []struct {
		p    specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}, "linux.seccomp.listenerPath"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_NOPE"}}}}}, "linux.seccomp.syscalls[0].args[0].op"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_NOPE"}}, "linux.seccomp.architectures[0]"},
	} {
		_, err := c.Compile(&tt.p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("want an error naming %s, got %v", tt.want, err)
		}
	}
	if entries, _ := os.ReadDir(c.CacheDir); len(entries) != 0 {
		t.Errorf("failed compiles left %d cache entries", len(entries))
	}
}

func TestCompileNotify(t *testing.T) {
	c := Compiler{Helper: helper(t), CacheDir: t.TempDir()}
	got, err := c.Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/l.sock", ListenerMetadata: "m",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Listener || got.Flags&newListener == 0 || got.Metadata != "m" {
		t.Fatalf("notify: %+v", got)
	}
}
