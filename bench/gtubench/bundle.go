package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/subid"
	"github.com/gophertainer/gtu/userns"
)

// kit is the one bundle every runtime runs: one busybox-static rootfs shared
// by all containers, and one config.json made by `runc spec` and patched. The
// only fields that differ between containers are linux.cgroupsPath (a fresh
// absolute /gtu-bench/<id> per container, so no runtime ever finds a cgroup
// left by another) and process.args. Because the 100-container scenario needs
// 100 configs at once, each container gets its own small bundle directory
// whose config.json points root.path at the shared rootfs.
type kit struct {
	dir      string
	rootfs   string
	spec     []byte // root config.json, as patched
	rootless []byte // rootless config.json, as patched (nil: none)
}

const cgroupParent = "gtu-bench"

func newKit(dir, busybox, runc, rootlessName string, rootlessUID, rootlessGID int) (*kit, error) {
	k := &kit{dir: dir, rootfs: filepath.Join(dir, "rootfs")}
	if err := buildRootfs(k.rootfs, busybox); err != nil {
		return nil, err
	}
	var err error
	if k.spec, err = makeSpec(runc, dir, k.rootfs, false, "", 0, 0); err != nil {
		return nil, err
	}
	if rootlessUID >= 0 {
		if k.rootless, err = makeSpec(runc, dir, k.rootfs, true, rootlessName, rootlessUID, rootlessGID); err != nil {
			return nil, err
		}
	}
	return k, os.MkdirAll(filepath.Join(dir, "bundles"), 0o755)
}

func buildRootfs(rootfs, busybox string) error {
	if err := checkStatic(busybox); err != nil {
		return err
	}
	// Mount points exist up front: the runtimes would otherwise race to
	// create them in the shared rootfs during the concurrent scenario.
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc", "root", "run"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(rootfs, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busybox, err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			return err
		}
	}
	for name, text := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	} {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkStatic refuses a dynamically linked busybox: the rootfs has no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("busybox %s: %w (apt-get install busybox-static)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox %s is dynamically linked (apt-get install busybox-static)", path)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// makeSpec runs `runc spec [--rootless]` and patches what the benchmark needs.
func makeSpec(runc, dir, rootfs string, rootless bool, name string, uid, gid int) ([]byte, error) {
	tmp, err := os.MkdirTemp(dir, "spec-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{"spec", "--bundle", tmp}
	if rootless {
		args = append(args, "--rootless")
	}
	if out, err := exec.Command(runc, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", runc, strings.Join(args, " "), err, oneLine(string(out)))
	}
	raw, err := os.ReadFile(filepath.Join(tmp, "config.json"))
	if err != nil {
		return nil, err
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("runc spec output: %w", err)
	}
	process := obj(spec, "process")
	process["terminal"] = false
	process["args"] = []string{"true"}
	obj(spec, "root")["path"] = rootfs
	linux := obj(spec, "linux")
	if rootless {
		// `runc spec --rootless` maps container root to the caller's ids,
		// which are root's here; the benchmark runs as an unprivileged
		// user: its full map, its own id then its subordinate ranges, the
		// map rootless users of both runtimes want (and gtu's session
		// has). A user without ranges gets its one id.
		subU, subG, _ := subid.ForUser(name, uint32(uid))
		uids, _ := userns.Build(uint32(uid), subU, "uid")
		gids, _ := userns.Build(uint32(gid), subG, "gid")
		linux["uidMappings"], linux["gidMappings"] = uids, gids
	}
	return json.Marshal(spec)
}

func obj(m map[string]any, key string) map[string]any {
	v, ok := m[key].(map[string]any)
	if !ok {
		v = map[string]any{}
		m[key] = v
	}
	return v
}

// bundle writes the bundle of one container and returns its directory.
func (k *kit) bundle(id string, args []string, rootless bool) (string, error) {
	return k.bundleWith(id, args, rootless, false)
}

// bundleWith is bundle, optionally with Docker's default seccomp profile
// (moby/profiles, resolved for the config's capabilities): what podman and
// Docker send for every container.
func (k *kit) bundleWith(id string, args []string, rootless, withSeccomp bool) (string, error) {
	base := k.spec
	if rootless {
		base = k.rootless
	}
	var spec map[string]any
	if err := json.Unmarshal(base, &spec); err != nil {
		return "", err
	}
	obj(spec, "process")["args"] = args
	if withSeccomp {
		var full specs.Spec
		if err := json.Unmarshal(base, &full); err != nil {
			return "", err
		}
		profile, err := seccomp.GetDefaultProfile(&full)
		if err != nil {
			return "", fmt.Errorf("docker's default seccomp profile: %w", err)
		}
		obj(spec, "linux")["seccomp"] = profile
	}
	if !rootless {
		obj(spec, "linux")["cgroupsPath"] = "/" + cgroupParent + "/" + id
	}
	// A rootless bundle names no cgroup: on this hybrid host an unprivileged
	// user has no delegated v1 cgroups, and runc 1.1 skips cgroups (EPERM
	// ignored) only when cgroupsPath is unset; with a path it fails on mkdir.
	// That is what a rootless user gets here without a systemd delegation.
	raw, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(k.dir, "bundles", id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
}

func (k *kit) dropBundle(id string) { _ = os.RemoveAll(filepath.Join(k.dir, "bundles", id)) }
