// Package seccomp turns linux.seccomp into the BPF program the init stage
// loads. Compiling a profile needs libseccomp, which needs cgo; gtu stays a
// static pure-Go binary and runs the separate gtu-seccomp program
// (cmd/gtu-seccomp, installed next to gtu) only when a profile is new: its
// output is cached by the profile's digest, so the hundredth container with
// podman's default profile pays one file read.
package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/runtime/spec"
)

// ErrNoCompiler is a profile to compile without gtu-seccomp installed.
var ErrNoCompiler = errors.New("gtu-seccomp (the seccomp profile compiler) is not installed next to gtu")

// cacheVersion changes when the compiler's output for a profile may change.
const cacheVersion = "v1"

// Compiler compiles profiles, caching the results.
type Compiler struct {
	Helper   string // path of gtu-seccomp
	CacheDir string // where compiled programs are kept
}

// DefaultHelper is gtu-seccomp next to the running gtu.
func DefaultHelper() string {
	exe, err := os.Executable()
	if err != nil {
		return "gtu-seccomp"
	}
	return filepath.Join(filepath.Dir(exe), "gtu-seccomp")
}

// Compile returns the plan's filter for profile p (nil for none).
func (c Compiler) Compile(p *specs.LinuxSeccomp) (*spec.Seccomp, error) {
	if p == nil {
		return nil, nil
	}
	flags, err := Flags(p.Flags)
	if err != nil {
		return nil, err
	}
	notify := p.DefaultAction == specs.ActNotify
	for _, sc := range p.Syscalls {
		notify = notify || sc.Action == specs.ActNotify
	}
	if notify && p.ListenerPath == "" {
		return nil, errors.New("linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY")
	}
	if notify {
		flags |= newListener
	}
	profile, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(cacheVersion+"\n"), profile...))
	cached := filepath.Join(c.CacheDir, hex.EncodeToString(sum[:])+".bpf")
	result := func(bpf []byte) *spec.Seccomp {
		return &spec.Seccomp{BPF: bpf, Flags: flags, Listener: notify, ListenerPath: p.ListenerPath, Metadata: p.ListenerMetadata}
	}
	if bpf, err := os.ReadFile(cached); err == nil && validBPF(bpf) {
		return result(bpf), nil
	}
	bpf, err := c.run(profile)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(cached, bpf); err != nil {
		return nil, fmt.Errorf("cache the compiled seccomp profile: %w", err)
	}
	return result(bpf), nil
}

func (c Compiler) run(profile []byte) ([]byte, error) {
	if _, err := os.Stat(c.Helper); err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w (%s)", ErrNoCompiler, c.Helper)
	}
	cmd := exec.Command(c.Helper)
	cmd.Stdin = bytes.NewReader(profile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(errb.String(), "gtu-seccomp: "))
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(msg)
	}
	if !validBPF(out.Bytes()) {
		return nil, fmt.Errorf("linux.seccomp: %s wrote %d bytes, not a BPF program", c.Helper, out.Len())
	}
	return out.Bytes(), nil
}

// validBPF: whole 8-byte instructions, at least one, at most BPF_MAXINSNS.
func validBPF(b []byte) bool {
	return len(b) >= 8 && len(b)%8 == 0 && len(b)/8 <= 4096
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bpf-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// newListener is SECCOMP_FILTER_FLAG_NEW_LISTENER, added for notify.
const newListener = 8

// filterFlags are the SECCOMP_FILTER_FLAG_* values config.json may name.
var filterFlags = map[specs.LinuxSeccompFlag]uint{
	"SECCOMP_FILTER_FLAG_TSYNC":              1,
	"SECCOMP_FILTER_FLAG_LOG":                2,
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW":         4,
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}

// Flags converts linux.seccomp.flags.
func Flags(names []specs.LinuxSeccompFlag) (uint, error) {
	var f uint
	for i, n := range names {
		v, ok := filterFlags[n]
		if !ok {
			return 0, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, n)
		}
		f |= v
	}
	return f, nil
}
