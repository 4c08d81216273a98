package spec

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Validate reports every problem in s that can be found without touching
// the host, errors.Join'ed, each naming its config.json field. Build calls it;
// what gtu cannot do yet (as opposed to what is wrong) is Build's to report.
func Validate(s *specs.Spec) error {
	if s == nil {
		return &specError{msg: "config.json: empty spec", kinds: []error{ErrInvalid}}
	}
	var p problems
	validateVersion(&p, s.Version)
	if s.Root == nil || s.Root.Path == "" {
		p.add("root.path", "required")
	}
	validateProcess(&p, s.Process)
	validateMounts(&p, s.Mounts)
	linux := s.Linux
	if linux == nil {
		p.add("linux", "required")
		linux = &specs.Linux{}
	}
	ns := validateNamespaces(&p, linux.Namespaces)
	for _, f := range []struct{ field, value string }{{"hostname", s.Hostname}, {"domainname", s.Domainname}} {
		// runc refuses too: without its own uts namespace the container
		// would rename the host.
		if f.value != "" && !ns[specs.UTSNamespace] {
			p.add(f.field, "requires a uts namespace")
		}
	}
	validateIDMaps(&p, linux, ns)
	validateSysctls(&p, linux.Sysctl, ns, s.Hostname != "")
	validateTimeOffsets(&p, linux.TimeOffsets, ns)
	validateDevices(&p, linux.Devices)
	if _, ok := propagationFlags[linux.RootfsPropagation]; !ok && linux.RootfsPropagation != "" {
		p.add("linux.rootfsPropagation", "unknown propagation %q", linux.RootfsPropagation)
	}
	validatePaths(&p, "linux.maskedPaths", linux.MaskedPaths)
	validatePaths(&p, "linux.readonlyPaths", linux.ReadonlyPaths)
	validateHooks(&p, s.Hooks)
	return errors.Join(p...)
}

// at formats an array element's field path.
func at(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// key formats a map entry's field path.
func key(field, k string) string { return field + "[" + strconv.Quote(k) + "]" }

func validateVersion(p *problems, v string) {
	if v == "" {
		p.add("ociVersion", "required")
		return
	}
	major, rest, _ := strings.Cut(v, ".")
	if major != "1" || rest == "" || rest[0] < '0' || rest[0] > '9' {
		p.add("ociVersion", "unsupported version %q (gtu supports 1.x)", v)
	}
}

func validateProcess(p *problems, proc *specs.Process) {
	if proc == nil {
		p.add("process", "required")
		return
	}
	if len(proc.Args) == 0 {
		p.add("process.args", "must not be empty")
	}
	if !filepath.IsAbs(proc.Cwd) {
		p.add("process.cwd", "must be absolute")
	}
	validateEnv(p, "process.env", proc.Env)
	if c := proc.Capabilities; c != nil {
		for _, set := range capSets(c) {
			for i, name := range set.caps {
				if _, ok := capNumbers()[name]; !ok {
					p.add(at("process.capabilities."+set.name, i), "unknown capability %q", name)
				}
			}
		}
	}
	seen := make(map[string]bool)
	for i, r := range proc.Rlimits {
		field := at("process.rlimits", i)
		switch _, ok := rlimits[r.Type]; {
		case !ok:
			p.add(field+".type", "unknown rlimit %q", r.Type)
		case seen[r.Type]:
			p.add(field+".type", "duplicate rlimit %q", r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			p.add(field, "soft limit %d is above hard limit %d", r.Soft, r.Hard)
		}
	}
	if a := proc.OOMScoreAdj; a != nil && (*a < -1000 || *a > 1000) {
		p.add("process.oomScoreAdj", "%d is outside [-1000, 1000]", *a)
	}
	if m := proc.User.Umask; m != nil && *m > 0o777 {
		p.add("process.user.umask", "%#o is not a permission mask", *m)
	}
}

func validateEnv(p *problems, field string, env []string) {
	for i, e := range env {
		// execve(2) would cut the string at a NUL, and an entry without '='
		// or with an empty name is no variable at all.
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" || strings.ContainsRune(e, 0) {
			p.add(at(field, i), "%q is not of the form KEY=VALUE", e)
		}
	}
}

// validateNamespaces returns the namespace types present, joined or new.
func validateNamespaces(p *problems, nss []specs.LinuxNamespace) map[specs.LinuxNamespaceType]bool {
	have := make(map[specs.LinuxNamespaceType]bool)
	for i, ns := range nss {
		field := at("linux.namespaces", i)
		switch _, ok := namespaceFlags[ns.Type]; {
		case !ok:
			p.add(field+".type", "unknown namespace %q", ns.Type)
		case have[ns.Type]:
			p.add(field+".type", "duplicate namespace %q", ns.Type)
		}
		have[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			p.add(field+".path", "must be absolute")
		}
	}
	// Without a mount namespace the container shares the caller's: its
	// mounts are made there, under the rootfs, and undone by delete (see
	// Plan.SharedMountNS), as runc does.
	return have
}

// newUserNS reports whether the spec creates a user namespace (rather than
// joining one by path, whose mappings already exist).
func newUserNS(nss []specs.LinuxNamespace) bool {
	return slices.ContainsFunc(nss, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.UserNamespace && ns.Path == ""
	})
}

func validateIDMaps(p *problems, linux *specs.Linux, ns map[specs.LinuxNamespaceType]bool) {
	newUser := newUserNS(linux.Namespaces)
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", linux.UIDMappings}, {"linux.gidMappings", linux.GIDMappings}} {
		switch {
		case newUser && len(m.maps) == 0:
			// runc refuses too: an unmapped process has no ids and, after
			// exec, no capabilities.
			p.add(m.field, "required with a new user namespace")
		case !ns[specs.UserNamespace] && len(m.maps) != 0:
			p.add(m.field, "set without a user namespace")
		}
		validateIDMap(p, m.field, m.maps)
	}
}

// maxIDMapLines is the kernel's limit on uid_map/gid_map lines (Linux 4.15).
const maxIDMapLines = 340

// validateIDMap checks what the kernel would reject when the map is written:
// empty or overflowing ranges, overlaps on either side, too many lines.
func validateIDMap(p *problems, field string, maps []specs.LinuxIDMapping) {
	if len(maps) > maxIDMapLines {
		p.add(field, "%d ranges exceed the kernel's limit of %d", len(maps), maxIDMapLines)
	}
	end := func(start, size uint32) uint64 { return uint64(start) + uint64(size) }
	// Only well-formed ranges take part in the overlap check, so one bad
	// line is reported once.
	var good []int
	for i, m := range maps {
		f := at(field, i)
		if m.Size == 0 {
			p.add(f+".size", "must not be zero")
			continue
		}
		if end(m.ContainerID, m.Size) > 1<<32 || end(m.HostID, m.Size) > 1<<32 {
			p.add(f, "range does not fit in 32-bit ids")
			continue
		}
		for _, j := range good {
			o := maps[j]
			if uint64(m.ContainerID) < end(o.ContainerID, o.Size) && uint64(o.ContainerID) < end(m.ContainerID, m.Size) {
				p.add(f, "container ids %d+%d overlap %s", m.ContainerID, m.Size, at(field, j))
			}
			if uint64(m.HostID) < end(o.HostID, o.Size) && uint64(o.HostID) < end(m.HostID, m.Size) {
				p.add(f, "host ids %d+%d overlap %s", m.HostID, m.Size, at(field, j))
			}
		}
		good = append(good, i)
	}
}

// ipcSysctls are the kernel.* sysctls that belong to the ipc namespace
// (besides fs.mqueue.*), the same list runc accepts.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// validateSysctls lets through only sysctls that are namespaced and whose
// namespace the container has: any other write to /proc/sys from inside the
// container would change the host (runc's rule).
func validateSysctls(p *problems, sysctls map[string]string, ns map[specs.LinuxNamespaceType]bool, hostname bool) {
	for _, k := range slices.Sorted(maps.Keys(sysctls)) {
		field := key("linux.sysctl", k)
		if slices.Contains(strings.Split(k, "."), "") || strings.ContainsAny(k, "\x00 ") {
			p.add(field, "not a sysctl name")
			continue
		}
		var need specs.LinuxNamespaceType
		var name string
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			need, name = specs.IPCNamespace, "an ipc"
		case strings.HasPrefix(k, "net."):
			need, name = specs.NetworkNamespace, "a network"
		case k == "kernel.hostname" || k == "kernel.domainname":
			need, name = specs.UTSNamespace, "a uts"
		default:
			p.add(field, "not namespaced: setting it would change the host")
			continue
		}
		if !ns[need] {
			p.add(field, "requires %s namespace", name)
		} else if k == "kernel.hostname" && hostname {
			p.add(field, "conflicts with hostname")
		}
	}
}

// timeClocks are the clocks a time namespace can offset (time_namespaces(7)).
var timeClocks = []string{"boottime", "monotonic"}

func validateTimeOffsets(p *problems, offs map[string]specs.LinuxTimeOffset, ns map[specs.LinuxNamespaceType]bool) {
	if len(offs) != 0 && !ns[specs.TimeNamespace] {
		p.add("linux.timeOffsets", "requires a time namespace")
	}
	for _, k := range slices.Sorted(maps.Keys(offs)) {
		if !slices.Contains(timeClocks, k) {
			p.add(key("linux.timeOffsets", k), "unknown clock (want boottime or monotonic)")
		}
		if offs[k].Nanosecs >= 1e9 {
			p.add(key("linux.timeOffsets", k)+".nanosecs", "must be below 1000000000")
		}
	}
}

func validateDevices(p *problems, devs []specs.LinuxDevice) {
	seen := make(map[string]bool)
	for i, d := range devs {
		field := at("linux.devices", i)
		if !filepath.IsAbs(d.Path) {
			p.add(field+".path", "must be absolute")
		} else if path := filepath.Clean(d.Path); seen[path] {
			p.add(field+".path", "duplicate device %q", d.Path)
		} else {
			seen[path] = true
		}
		if !slices.Contains([]string{"c", "b", "u", "p"}, d.Type) {
			p.add(field+".type", "unknown device type %q (want c, b, u or p)", d.Type)
		}
	}
}

func validatePaths(p *problems, field string, paths []string) {
	for i, path := range paths {
		if !filepath.IsAbs(path) {
			p.add(at(field, i), "must be absolute")
		}
	}
}

// hookList is one of config.json's hook lists with its field name.
type hookList struct {
	name string // e.g. "createRuntime"
	list []specs.Hook
}

// hookLists returns config.json's hook lists in the order they run.
func hookLists(h *specs.Hooks) []hookList {
	return []hookList{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated, still run (runtime-spec)
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	}
}

// validateHooks checks each hook: an absolute path (it is executed as is,
// never looked up in $PATH), a positive timeout, KEY=VALUE environment.
func validateHooks(p *problems, h *specs.Hooks) {
	if h == nil {
		return
	}
	for _, l := range hookLists(h) {
		for i, hook := range l.list {
			field := at("hooks."+l.name, i)
			if !filepath.IsAbs(hook.Path) {
				p.add(field+".path", "must be absolute")
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				p.add(field+".timeout", "must be positive")
			}
			validateEnv(p, field+".env", hook.Env)
		}
	}
}
