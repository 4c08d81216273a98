package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mattn/go-shellwords"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/overlay"
	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/runtime/state"
)

// Standalone mode: `gtu --name web --rootfs alpine.tar.gz --cmd "..."`
// imports the rootfs into the store (gtu-storage, package overlay) once,
// gives the container a writable layer of its own, writes an ordinary OCI
// bundle for it and runs it. The result is an ordinary container: list,
// state, exec, kill and delete work on it by name, and delete also removes
// its layer and bundle (the annotation below says which layer).
const (
	annStorage = "org.gophertainer.storage" // the container's name in the store
	bundlesDir = ".gtu-bundles"             // under --root: one bundle per standalone container
)

// StandaloneOptions are standalone mode's flags.
type StandaloneOptions struct {
	Name, Rootfs, Cmd string
	Interactive, TTY  bool
	Detach            bool
	MemMB             int64
	CPU               float64
	Pids              int64
	NoNewPrivs        bool
	Seccomp           string // a JSON file with a linux.seccomp object; "" = Docker's default profile
	Env, Volumes      []string
	Network           NetworkOptions
	StorageDriver     string // gtu-storage's --driver: auto, overlay, fuse-overlayfs, vfs
}

// Standalone runs a container from a rootfs directory, tarball or image
// archive. In the foreground it returns the container's exit code and
// removes the container afterwards; detached it leaves it running, its
// output in <bundle>/output.log.
func Standalone(g Global, o StandaloneOptions) (int, error) {
	if err := state.ValidateID(o.Name); err != nil {
		return 0, fmt.Errorf("--name: %w", err)
	}
	if o.TTY && o.Detach {
		return 0, errors.New("-t with --detach: a detached container has no terminal to attach (drop -t, or run in the foreground)")
	}
	if _, err := g.store().Open(o.Name); err == nil {
		return 0, fmt.Errorf("--name %s: a container of that name %w", o.Name, state.ErrExists)
	}
	s, err := standaloneSpec(g, o)
	if err != nil {
		return 0, err
	}
	store := overlay.Client{Driver: o.StorageDriver, Debug: g.logger().Enabled(context.Background(), slog.LevelDebug)}
	m, err := store.Mount(o.Rootfs, o.Name)
	if err != nil {
		return 0, fmt.Errorf("--rootfs %s: %w", o.Rootfs, err)
	}
	bundle := filepath.Join(g.Root, bundlesDir, o.Name)
	undo := func() {
		_ = os.RemoveAll(bundle)
		if _, err := store.Remove(o.Name); err != nil {
			g.logger().Warn("standalone: container layer not removed", "name", o.Name, "err", err)
		}
	}
	if err := fillFromImage(s, o, m); err != nil {
		undo()
		return 0, err
	}
	if err := writeBundle(bundle, s); err != nil {
		undo()
		return 0, err
	}
	ro := RunOptions{CreateOptions: CreateOptions{ID: o.Name, Bundle: bundle, Network: o.Network}, Detach: o.Detach}
	if o.Detach || !o.Interactive {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			undo()
			return 0, err
		}
		defer devnull.Close()
		os.Stdin = devnull
	}
	if o.Detach {
		out, err := os.OpenFile(filepath.Join(bundle, "output.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			undo()
			return 0, err
		}
		defer out.Close()
		os.Stdout, os.Stderr = out, out
	}
	code, err := Run(g, ro)
	if err != nil {
		// Run removed the container, if it got that far; the layer and
		// bundle are ours to remove.
		undo()
		return code, err
	}
	if !o.Detach {
		undo()
	}
	return code, nil
}

// standaloneSpec is `gtu spec`'s template (rootless when gtu is) with the
// flags applied; the image's defaults come later, in fillFromImage.
func standaloneSpec(g Global, o StandaloneOptions) (*specs.Spec, error) {
	s := spec.Default(false)
	if g.Rootless {
		// gtu already runs in the user's session (or podman's namespace):
		// the container shares that user namespace, as a config whose
		// maps are the session's own would (spec.Outer).
		s = spec.Default(true)
		s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	}
	s.Root.Readonly = false
	s.Process.Terminal = o.TTY
	s.Process.NoNewPrivileges = o.NoNewPrivs
	s.Hostname = o.Name
	s.Annotations = map[string]string{annStorage: o.Name}
	if !g.Rootless {
		// Absolute: under the hierarchy roots, not the caller's own cgroup.
		s.Linux.CgroupsPath = "/gtu/" + o.Name
	}
	if err := applyLimits(s, o); err != nil {
		return nil, err
	}
	if o.Seccomp != "" {
		b, err := os.ReadFile(o.Seccomp)
		if err != nil {
			return nil, fmt.Errorf("--seccomp: %w", err)
		}
		var p specs.LinuxSeccomp
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("--seccomp %s: %w", o.Seccomp, err)
		}
		s.Linux.Seccomp = &p
	}
	for i, v := range o.Volumes {
		mnt, err := parseVolume(v)
		if err != nil {
			return nil, fmt.Errorf("-v[%d] %q: %w", i, v, err)
		}
		s.Mounts = append(s.Mounts, mnt)
	}
	if len(o.Network.Publish) > 0 || (o.Network.Driver != "" && o.Network.Driver != "none") {
		if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		}
	}
	return s, nil
}

func applyLimits(s *specs.Spec, o StandaloneOptions) error {
	r := s.Linux.Resources
	if r == nil {
		r = &specs.LinuxResources{}
	}
	switch {
	case o.MemMB < 0:
		return fmt.Errorf("--mem %d: must not be negative", o.MemMB)
	case o.MemMB > 0:
		limit := o.MemMB << 20
		r.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	switch {
	case o.CPU < 0:
		return fmt.Errorf("--cpu %g: must not be negative", o.CPU)
	case o.CPU > 0:
		period := uint64(100000)
		quota := int64(o.CPU * float64(period))
		if quota < 1000 {
			return fmt.Errorf("--cpu %g: at least 0.01 CPU", o.CPU)
		}
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	switch {
	case o.Pids < 0:
		return fmt.Errorf("--pids %d: must not be negative", o.Pids)
	case o.Pids > 0:
		r.Pids = &specs.LinuxPids{Limit: &o.Pids}
	}
	if r.Memory != nil || r.CPU != nil || r.Pids != nil || len(r.Devices) > 0 {
		s.Linux.Resources = r
	}
	return nil
}

// parseVolume is -v SRC:DST[:ro|rw], a bind mount.
func parseVolume(v string) (specs.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return specs.Mount{}, errors.New("want SRC:DST[:ro]")
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return specs.Mount{}, err
	}
	if _, err := os.Stat(src); err != nil {
		return specs.Mount{}, fmt.Errorf("source: %w", err)
	}
	if !filepath.IsAbs(parts[1]) {
		return specs.Mount{}, fmt.Errorf("destination %s: not an absolute path", parts[1])
	}
	opts := []string{"rbind", "rprivate"}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			opts = append(opts, "ro")
		case "rw":
		default:
			return specs.Mount{}, fmt.Errorf("option %q: want ro or rw", parts[2])
		}
	}
	return specs.Mount{Destination: parts[1], Type: "bind", Source: src, Options: opts}, nil
}

// fillFromImage sets the root, the command, the environment, the working
// directory and the user from the image's config and the flags.
func fillFromImage(s *specs.Spec, o StandaloneOptions, m overlay.Mount) error {
	s.Root.Path = m.Rootfs
	args := slices.Clone(m.Config.Entrypoint)
	if o.Cmd != "" {
		words, err := shellwords.Parse(o.Cmd)
		if err != nil {
			return fmt.Errorf("--cmd %q: %w", o.Cmd, err)
		}
		args = append(args, words...)
	} else {
		args = append(args, m.Config.Cmd...)
	}
	if len(args) == 0 {
		return fmt.Errorf("--cmd: none given and the image %s names no command", o.Rootfs)
	}
	s.Process.Args = args
	s.Process.Env = mergeEnv(s.Process.Env, m.Config.Env, o.Env)
	if m.Config.WorkingDir != "" {
		s.Process.Cwd = m.Config.WorkingDir
	}
	if m.Config.User != "" {
		u, err := user.GetExecUserPath(m.Config.User, nil, filepath.Join(m.Rootfs, "etc/passwd"), filepath.Join(m.Rootfs, "etc/group"))
		if err != nil {
			return fmt.Errorf("image user %q: %w", m.Config.User, err)
		}
		s.Process.User = specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid)}
	}
	return nil
}

// mergeEnv applies each later list over the earlier ones, by variable name.
func mergeEnv(lists ...[]string) []string {
	var out []string
	index := map[string]int{}
	for _, l := range lists {
		for _, kv := range l {
			name, _, _ := strings.Cut(kv, "=")
			if i, ok := index[name]; ok {
				out[i] = kv
				continue
			}
			index[name] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func writeBundle(dir string, s *specs.Spec) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	return nil
}

// removeStandalone removes what standalone mode made for a container
// besides the container itself: its layer and its bundle.
func removeStandalone(st *state.State) error {
	name, ok := st.Annotations[annStorage]
	if !ok {
		return nil
	}
	if _, err := (overlay.Client{}).Remove(name); err != nil {
		return fmt.Errorf("remove the container's layer: %w", err)
	}
	if filepath.Base(filepath.Dir(st.Bundle)) == bundlesDir && filepath.Base(st.Bundle) == name {
		return os.RemoveAll(st.Bundle)
	}
	return nil
}
