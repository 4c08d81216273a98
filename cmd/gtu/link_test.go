package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotLinked builds gtu with its symbol table and checks that the code
// moved out to helper programs (to keep gtu's binary, and so the peak RSS
// of every gtu process, small) has not come back through an import: the
// cgroups library's devices package and eBPF loader, its systemd and
// manager packages (all in gtu-cgroup).
// A symbol check, not `go list -deps`: gtu must import go-systemd/dbus and
// godbus (cgroups.Cgroup has a SystemdProps field), so what matters is
// which of their code the linker keeps. godbus's own connection code stays,
// unavoidably: its package init registers the transports (net dialing,
// NewConn), and an imported package's init always runs; the rootless user
// scope's D-Bus calls (internal/userscope) use it in-process.
func TestNotLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gtu")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "gtu")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(gobin, "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	forbidden := []string{
		"github.com/opencontainers/cgroups/systemd.",
		"github.com/opencontainers/cgroups/manager.",
		"github.com/opencontainers/cgroups/devices.",
		"github.com/cilium/ebpf",
	}
	found := map[string]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		sym := f[len(f)-1]
		for _, p := range forbidden {
			if strings.HasPrefix(sym, p) && found[p] == "" {
				found[p] = sym
			}
		}
	}
	for _, p := range forbidden {
		if sym := found[p]; sym != "" {
			t.Errorf("gtu links %s (e.g. %s): that code belongs in a helper program", p, sym)
		}
	}
}
