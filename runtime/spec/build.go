package spec

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Options are what Build needs besides config.json.
type Options struct {
	ID, Bundle   string
	NoPivot      bool
	NoNewKeyring bool
	// BoundingCaps are the capability numbers gtu itself may grant: its own
	// bounding set, read by the caller. A capability outside it can never be
	// held by the container (this VM's root lacks CAP_SYS_RESOURCE), so
	// asking for it is an error here rather than an EPERM deep in the init
	// stage. Nil skips the check.
	BoundingCaps []int
	// Outer is set when gtu runs inside the caller's rootless session:
	// config.json's id mappings are then translated (see Outer).
	Outer *Outer
}

// Build validates s and computes the Plan the init stage executes.
func Build(s *specs.Spec, o Options) (*Plan, error) {
	if err := Validate(s); err != nil {
		return nil, err
	}
	if err := errors.Join(checkSupported(s), checkGrantable(s.Process.Capabilities, o.BoundingCaps)); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, &specError{msg: "bundle " + o.Bundle + ": " + err.Error(), kinds: []error{ErrInvalid, err}}
	}
	linux := s.Linux // not nil: Validate demands a mount namespace
	p := &Plan{
		ID:             o.ID,
		Bundle:         bundle,
		Rootfs:         s.Root.Path,
		RootfsReadonly: s.Root.Readonly,
		NoPivot:        o.NoPivot,
		NoNewKeyring:   o.NoNewKeyring,
		UIDMappings:    idMaps(linux.UIDMappings),
		GIDMappings:    idMaps(linux.GIDMappings),
		MaskedPaths:    slices.Clone(linux.MaskedPaths),
		ReadonlyPaths:  slices.Clone(linux.ReadonlyPaths),
		Hostname:       s.Hostname,
		Domainname:     s.Domainname,
		// Validate made sure a uts namespace exists for either.
		SetHostname:   s.Hostname != "",
		SetDomainname: s.Domainname != "",
		Sysctls:       maps.Clone(linux.Sysctl),
		Process:       buildProcess(s.Process),
	}
	if !filepath.IsAbs(p.Rootfs) {
		p.Rootfs = filepath.Join(bundle, p.Rootfs)
	}
	p.Rootfs = filepath.Clean(p.Rootfs)
	// "" stays 0: the executor then uses MS_SLAVE|MS_REC, runc's default,
	// so host mounts propagate in but nothing propagates back out.
	p.RootfsPropagation = propagationFlags[linux.RootfsPropagation]
	for _, ns := range linux.Namespaces {
		if ns.Path != "" {
			p.JoinNamespaces = append(p.JoinNamespaces, JoinNS{Type: string(ns.Type), Flag: namespaceFlags[ns.Type], Path: ns.Path})
			continue
		}
		switch ns.Type {
		case specs.CgroupNamespace:
			p.CgroupNS = true
		case specs.TimeNamespace:
			p.TimeNS = true
		case specs.UserNamespace:
			p.UserNS = true
			fallthrough
		default:
			p.CloneFlags |= namespaceFlags[ns.Type]
		}
	}
	p.SharedMountNS = p.CloneFlags&unix.CLONE_NEWNS == 0 && !slices.ContainsFunc(p.JoinNamespaces, func(j JoinNS) bool {
		return j.Flag == unix.CLONE_NEWNS
	})
	for _, clock := range slices.Sorted(maps.Keys(linux.TimeOffsets)) {
		off := linux.TimeOffsets[clock]
		p.TimeOffsets = append(p.TimeOffsets, TimeOffset{Clock: clock, Secs: off.Secs, Nsecs: off.Nanosecs})
	}
	for _, m := range s.Mounts {
		p.Mounts = append(p.Mounts, convertMount(m, bundle))
	}
	p.Devices = buildDevices(linux.Devices)
	p.Hooks = buildHooks(s.Hooks)
	if err := o.Outer.translate(p); err != nil {
		return nil, err
	}
	return p, nil
}

// joinableFromGo are the namespace types a Go parent can join on one locked
// thread before it clones the init stage: setns(2) changes only the calling
// thread for these, and clone copies that thread's namespaces (for pid: the
// namespace for children).
var joinableFromGo = map[specs.LinuxNamespaceType]bool{
	specs.NetworkNamespace: true,
	specs.IPCNamespace:     true,
	specs.UTSNamespace:     true,
	specs.PIDNamespace:     true,
	specs.CgroupNamespace:  true,
}

// checkSupported reports valid requests gtu cannot carry out yet.
func checkSupported(s *specs.Spec) error {
	var errs []error
	for i, ns := range s.Linux.Namespaces {
		if ns.Path != "" && !joinableFromGo[ns.Type] && newUserNS(s.Linux.Namespaces) {
			// setns(2) into a user, mount or time namespace fails in a
			// multi-threaded process (STYLE.md): the nsenter helper joins
			// them, but it cannot also write the id maps of a new user
			// namespace for the init it starts.
			errs = append(errs, fieldErr(ErrUnsupported, at("linux.namespaces", i)+".path",
				"joining an existing %s namespace together with a new user namespace is not supported yet", ns.Type))
		}
	}
	// No LSM support yet (this project's hosts have neither AppArmor nor
	// SELinux): an explicit request must not be dropped silently.
	if s.Process != nil && s.Process.ApparmorProfile != "" {
		errs = append(errs, fieldErr(ErrUnsupported, "process.apparmorProfile", "AppArmor profiles are not supported yet"))
	}
	if s.Process != nil && s.Process.SelinuxLabel != "" {
		errs = append(errs, fieldErr(ErrUnsupported, "process.selinuxLabel", "SELinux labels are not supported yet"))
	}
	if s.Linux.MountLabel != "" {
		errs = append(errs, fieldErr(ErrUnsupported, "linux.mountLabel", "SELinux labels are not supported yet"))
	}
	for i, m := range s.Mounts {
		field := at("mounts", i)
		if len(m.UIDMappings) != 0 || len(m.GIDMappings) != 0 {
			errs = append(errs, fieldErr(ErrUnsupported, field, "idmapped mounts are not supported yet"))
			continue
		}
		for j, o := range m.Options {
			if slices.Contains(idmapOptions, o) {
				errs = append(errs, fieldErr(ErrUnsupported, at(field+".options", j), "idmapped mounts are not supported yet"))
			}
		}
	}
	return errors.Join(errs...)
}

// checkGrantable rejects capabilities outside gtu's own bounding set: the
// kernel never lets a process gain a capability its bounding set lacks, so
// the container could not start anyway (runc fails the same spec with an
// opaque EPERM).
func checkGrantable(c *specs.LinuxCapabilities, bounding []int) error {
	if c == nil || bounding == nil {
		return nil
	}
	var errs []error
	for _, set := range capSets(c) {
		for _, name := range set.caps {
			if !slices.Contains(bounding, capNumbers()[name]) {
				errs = append(errs, fieldErr(ErrCapNotGrantable, "process.capabilities."+set.name,
					"%s is not in gtu's bounding set (the host cannot grant it)", name))
			}
		}
	}
	return errors.Join(errs...)
}

func idMaps(in []specs.LinuxIDMapping) []IDMap {
	var out []IDMap
	for _, m := range in {
		out = append(out, IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out
}

func buildProcess(proc *specs.Process) Process {
	out := Process{
		Args:     slices.Clone(proc.Args),
		Env:      slices.Clone(proc.Env),
		Cwd:      proc.Cwd,
		Terminal: proc.Terminal,
		User: User{
			UID:            proc.User.UID,
			GID:            proc.User.GID,
			AdditionalGids: slices.Clone(proc.User.AdditionalGids),
			Umask:          proc.User.Umask,
			Username:       proc.User.Username,
		},
		NoNewPrivs:  proc.NoNewPrivileges,
		OOMScoreAdj: proc.OOMScoreAdj,
	}
	if b := proc.ConsoleSize; b != nil {
		out.ConsoleWidth, out.ConsoleHeight = b.Width, b.Height
	}
	if c := proc.Capabilities; c != nil {
		nums := func(names []string) []int {
			var out []int
			for _, n := range names {
				out = append(out, capNumbers()[n])
			}
			return out
		}
		out.Caps = &Caps{
			Bounding:    nums(c.Bounding),
			Effective:   nums(c.Effective),
			Permitted:   nums(c.Permitted),
			Inheritable: nums(c.Inheritable),
			Ambient:     raisableAmbient(nums(c.Ambient), nums(c.Permitted), nums(c.Inheritable)),
		}
	}
	for _, r := range proc.Rlimits {
		out.Rlimits = append(out.Rlimits, Rlimit{Name: r.Type, Resource: rlimits[r.Type], Soft: r.Soft, Hard: r.Hard})
	}
	return out
}

// defaultDevices are the nodes every container gets, as in runc's specconv,
// unless config.json lists the same path itself. /dev/ptmx is not here: it
// is a symlink to pts/ptmx made by the rootfs setup.
var defaultDevices = []Device{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: 0o666},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: 0o666},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: 0o666},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: 0o666},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: 0o666},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: 0o666},
}

// DefaultDevices returns a copy of the nodes every plan starts with.
func DefaultDevices() []Device { return slices.Clone(defaultDevices) }

func buildDevices(devs []specs.LinuxDevice) []Device {
	var out []Device
	listed := make(map[string]bool)
	for _, d := range devs {
		dev := Device{Path: filepath.Clean(d.Path), Type: d.Type, Major: d.Major, Minor: d.Minor, FileMode: 0o666}
		if d.FileMode != nil {
			dev.FileMode = uint32(d.FileMode.Perm())
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		listed[dev.Path] = true
		out = append(out, dev)
	}
	for _, d := range defaultDevices {
		if !listed[d.Path] {
			out = append(out, d)
		}
	}
	return out
}

// raisableAmbient keeps the ambient capabilities the kernel will raise:
// PR_CAP_AMBIENT_RAISE needs the capability in both the permitted and the
// inheritable set. `runc spec` writes ambient capabilities without
// inheritable ones and runc ignores the refusal; gtu drops them here, up
// front, with the same result.
func raisableAmbient(ambient, permitted, inheritable []int) []int {
	var out []int
	for _, c := range ambient {
		if slices.Contains(permitted, c) && slices.Contains(inheritable, c) {
			out = append(out, c)
		}
	}
	return out
}

// buildHooks copies config.json's hooks, or returns nil when every list is
// empty.
func buildHooks(in *specs.Hooks) *Hooks {
	if in == nil {
		return nil
	}
	out := &Hooks{}
	dst := []*[]Hook{&out.Prestart, &out.CreateRuntime, &out.CreateContainer,
		&out.StartContainer, &out.Poststart, &out.Poststop}
	n := 0
	for i, l := range hookLists(in) {
		for _, h := range l.list {
			hook := Hook{Path: h.Path, Args: slices.Clone(h.Args), Env: slices.Clone(h.Env)}
			if h.Timeout != nil {
				hook.Timeout = *h.Timeout
			}
			*dst[i] = append(*dst[i], hook)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return out
}
