package exeseal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a stand-in init stage: it reports
// what its /proc/self/exe is and whether it can open it for writing, the
// CVE-2019-5736 attack run against itself.
const helperEnv = "EXESEAL_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		target, _ := os.Readlink(SelfExe)
		_, err := os.OpenFile(SelfExe, os.O_WRONLY, 0)
		fmt.Printf("%s\n%v\n", target, err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type method struct {
	name string
	open func() (*os.File, error)
	// admin is true when the method needs CAP_SYS_ADMIN and kernel support
	// that a test host may lack.
	admin bool
}

var methods = []method{
	{"overlay", func() (*os.File, error) { return openOverlayWith(SelfExe, modernLayers) }, true},
	{"overlay-legacy", func() (*os.File, error) { return openOverlayWith(SelfExe, legacyLayers) }, true},
	{"memfd", func() (*os.File, error) { return openMemfd(SelfExe) }, false},
}

func openWith(tb testing.TB, m method) *os.File {
	tb.Helper()
	if m.admin && unix.Geteuid() != 0 {
		tb.Skipf("%s needs root (CAP_SYS_ADMIN for fsopen)", m.name)
	}
	f, err := m.open()
	if err != nil {
		if m.admin {
			tb.Skipf("%s unavailable on this host (overlayfs, new mount API or detached layers): %v", m.name, err)
		}
		tb.Fatalf("%s: %v", m.name, err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// runHelper executes exe (nil: /proc/self/exe) the way the init stage is
// started, behind two unrelated extra files so that Apply's descriptor
// numbering is exercised, and returns the helper's two report lines.
func runHelper(tb testing.TB, exe *os.File) (target, writeErr string) {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.Command("exeseal-helper", "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.ExtraFiles = []*os.File{r, w}
	Apply(cmd, exe, SelfExe)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("exec %s: %v", cmd.Path, err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)
	if len(lines) != 2 {
		tb.Fatalf("helper printed %q, want two lines", out)
	}
	return lines[0], lines[1]
}

func TestMethodsExecute(t *testing.T) {
	self, err := os.Readlink(SelfExe)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			f := openWith(t, m)
			target, writeErr := runHelper(t, f)
			t.Logf("init stage exe %s; open for writing: %s", target, writeErr)
			if target == self {
				t.Errorf("init stage runs the host binary %s, want a sealed image", self)
			}
			if m.name == "memfd" && !strings.Contains(target, "memfd:gtu-exe") {
				t.Errorf("init stage runs %s, want the memfd", target)
			}
			if writeErr == "<nil>" {
				t.Errorf("init stage could open its own %s for writing", SelfExe)
			}
		})
	}
}

// TestMethodsRefuseWrites plays the container: it reopens the image by its
// magic link, as it would through /proc/PID/exe, and tries to change it.
func TestMethodsRefuseWrites(t *testing.T) {
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			f := openWith(t, m)
			link := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
			for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND} {
				w, err := os.OpenFile(link, flag, 0)
				t.Logf("open flags %#x: %v", flag, err)
				if err != nil {
					if !refused(err) {
						t.Errorf("open %s flags %#x: %v, want EROFS, ETXTBSY, EPERM or EACCES", link, flag, err)
					}
					continue
				}
				// Opening may succeed (root bypasses the mode bits of a
				// memfd); then the seals must refuse every change.
				_, err = w.Write([]byte("pwned"))
				t.Logf("write: %v", err)
				if !refused(err) {
					t.Errorf("write through %s flags %#x: %v, want a refusal", link, flag, err)
				}
				if err := w.Truncate(0); !refused(err) {
					t.Errorf("truncate through %s: %v, want a refusal", link, err)
				}
				w.Close()
			}
			if got, want := digest(t, link), digest(t, SelfExe); got != want {
				t.Errorf("image differs from %s", SelfExe)
			}
		})
	}
}

func refused(err error) bool {
	for _, e := range []error{unix.EROFS, unix.ETXTBSY, unix.EPERM, unix.EACCES} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func digest(tb testing.TB, path string) [sha256.Size]byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

func TestOpen(t *testing.T) {
	f, err := OpenPath(SelfExe)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		defer f.Close()
	}
	if f != nil {
		t.Logf("Open: %s", f.Name())
	} else {
		t.Log("Open: no protection needed")
	}
	if need := needed(SelfExe); need != (f != nil) {
		t.Fatalf("Open returned %v with needed(SelfExe) = %v", f, need)
	}
	if m, _ := os.ReadFile("/proc/self/uid_map"); unix.Geteuid() == 0 && initialUserNS(m) && f == nil {
		t.Fatal("Open returned no image as real root")
	}
	if _, writeErr := runHelper(t, f); f != nil && writeErr == "<nil>" {
		t.Errorf("init stage could open its own %s for writing", SelfExe)
	}
}

func TestApply(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name  string
		extra int
		exe   *os.File
		want  string
	}{
		{"no seal", 2, nil, SelfExe},
		{"first extra file", 0, f, "/proc/self/fd/3"},
		{"after two extra files", 2, f, "/proc/self/fd/5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("x")
			for range tt.extra {
				cmd.ExtraFiles = append(cmd.ExtraFiles, f)
			}
			Apply(cmd, tt.exe, SelfExe)
			if cmd.Path != tt.want {
				t.Errorf("Path = %q, want %q", cmd.Path, tt.want)
			}
		})
	}
}

func TestSealOverlayRefusesReplacedBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gtu")
	other := filepath.Join(dir, "other")
	for _, p := range []string{bin, other} {
		if err := os.WriteFile(p, []byte(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var running unix.Stat_t
	if err := unix.Stat(other, &running); err != nil {
		t.Fatal(err)
	}

	if _, err := sealOverlay(bin+" (deleted)", &running, modernLayers); !errors.Is(err, errReplaced) {
		t.Errorf("deleted binary: err = %v, want errReplaced", err)
	}
	if unix.Geteuid() != 0 {
		t.Skip("mounting overlayfs needs root (CAP_SYS_ADMIN)")
	}
	if _, err := sealOverlay(bin, &running, modernLayers); !errors.Is(err, errReplaced) {
		t.Errorf("replaced binary: err = %v, want errReplaced", err)
	}
	var same unix.Stat_t
	if err := unix.Stat(bin, &same); err != nil {
		t.Fatal(err)
	}
	f, err := sealOverlay(bin, &same, modernLayers)
	if err != nil {
		t.Skipf("overlayfs with detached layers unavailable: %v", err)
	}
	f.Close()
}

func TestSameFile(t *testing.T) {
	base := unix.Stat_t{Dev: 1, Ino: 42, Size: 100, Mtim: unix.Timespec{Sec: 5}, Ctim: unix.Timespec{Sec: 6}}
	mod := func(f func(*unix.Stat_t)) *unix.Stat_t { s := base; f(&s); return &s }
	tests := []struct {
		name string
		b    *unix.Stat_t
		want bool
	}{
		{"identical", mod(func(*unix.Stat_t) {}), true},
		{"overlay device", mod(func(s *unix.Stat_t) { s.Dev = 51 }), true},
		{"other inode", mod(func(s *unix.Stat_t) { s.Ino = 43 }), false},
		{"other size", mod(func(s *unix.Stat_t) { s.Size = 101 }), false},
		{"rewritten in place", mod(func(s *unix.Stat_t) { s.Mtim.Nsec = 1 }), false},
		{"metadata changed", mod(func(s *unix.Stat_t) { s.Ctim.Sec = 7 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameFile(&base, tt.b); got != tt.want {
				t.Errorf("sameFile = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEscapeLowerDir(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/", "/usr/bin/"},
		{"/opt/a:b/", `/opt/a\:b/`},
		{`/opt/a\b/`, `/opt/a\\b/`},
		{`/x\:y/`, `/x\\\:y/`},
	}
	for _, tt := range tests {
		if got := escapeLowerDir(tt.in); got != tt.want {
			t.Errorf("escapeLowerDir(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkNeeded(b *testing.B) {
	for b.Loop() {
		needed(SelfExe)
	}
}

// BenchmarkSeal measures each method alone; the memfd cost grows with the
// binary (this test binary's size is reported as bytes/op throughput).
func BenchmarkSeal(b *testing.B) {
	st, err := os.Stat(SelfExe)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range methods {
		b.Run(m.name, func(b *testing.B) {
			openWith(b, m).Close()
			b.SetBytes(st.Size())
			for b.Loop() {
				f, err := m.open()
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

// BenchmarkStart measures seal + fork/exec + exit of a helper that only
// reads its exe link, against executing /proc/self/exe unprotected.
func BenchmarkStart(b *testing.B) {
	all := append([]method{{"direct", func() (*os.File, error) { return nil, nil }, false}}, methods...)
	for _, m := range all {
		b.Run(m.name, func(b *testing.B) {
			if f := openWith(b, m); f != nil {
				f.Close()
			}
			for b.Loop() {
				f, err := m.open()
				if err != nil {
					b.Fatal(err)
				}
				runHelper(b, f)
				if f != nil {
					f.Close()
				}
			}
		})
	}
}
