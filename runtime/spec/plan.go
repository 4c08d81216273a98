package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Plan is everything the init stage needs, computed from config.json by pure
// functions in the parent before any syscall (STYLE.md rule 6). It crosses the
// process boundary as JSON inside protocol.Bootstrap, so every field is plain
// data: mount flags are already numbers, capability and rlimit names already
// resolved. The executor in runtime/initproc only follows it.
type Plan struct {
	// Exec marks the plan of a process joining a running container (gtu
	// exec): only Process is set; namespaces, cgroup and root come from
	// the container.
	Exec   bool   `json:"exec,omitempty"`
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	// Rootfs is the absolute host path of the container's root filesystem.
	Rootfs            string  `json:"rootfs"`
	RootfsReadonly    bool    `json:"rootfsReadonly,omitempty"`
	RootfsPropagation uintptr `json:"rootfsPropagation,omitempty"`
	NoPivot           bool    `json:"noPivot,omitempty"`
	// SharedMountNS: config.json asks for no mount namespace, so the init
	// stays in the caller's. Its mounts are made there on a private bind of
	// the rootfs, the root switch is a chroot, and delete detaches the
	// whole tree (state.State.HostMounts).
	SharedMountNS bool `json:"sharedMountNS,omitempty"`
	NoNewKeyring  bool `json:"noNewKeyring,omitempty"`

	// CloneFlags are the namespaces created when the init stage is cloned.
	CloneFlags uintptr `json:"cloneFlags"`
	// CgroupNS asks the init stage to unshare(CLONE_NEWCGROUP) itself, after
	// the parent has placed it in its cgroup: a cgroup namespace created at
	// clone time would be rooted at the parent's cgroup instead.
	CgroupNS bool `json:"cgroupNS,omitempty"`
	// TimeNS asks the init stage to unshare(CLONE_NEWTIME) and write the
	// offsets; the user process enters the namespace at execve. Offsets can
	// only be written before a process is in the namespace, so it cannot be a
	// clone flag.
	TimeNS      bool         `json:"timeNS,omitempty"`
	TimeOffsets []TimeOffset `json:"timeOffsets,omitempty"`
	UserNS      bool         `json:"userNS,omitempty"`
	// JoinNamespaces are linux.namespaces entries with a path. The parent
	// joins them on the thread that clones the init stage (net, ipc, uts,
	// pid, cgroup); Build refuses the others.
	JoinNamespaces []JoinNS `json:"joinNamespaces,omitempty"`
	UIDMappings    []IDMap  `json:"uidMappings,omitempty"`
	GIDMappings    []IDMap  `json:"gidMappings,omitempty"`

	Mounts        []Mount           `json:"mounts,omitempty"`
	Devices       []Device          `json:"devices,omitempty"`
	MaskedPaths   []string          `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string          `json:"readonlyPaths,omitempty"`
	Hostname      string            `json:"hostname,omitempty"`
	Domainname    string            `json:"domainname,omitempty"`
	SetHostname   bool              `json:"setHostname,omitempty"`
	SetDomainname bool              `json:"setDomainname,omitempty"`
	Sysctls       map[string]string `json:"sysctls,omitempty"`

	// CgroupMountPaths maps each cgroup v1 hierarchy's mount name (e.g.
	// "memory", "cpu,cpuacct", "systemd", "unified") to the container's
	// cgroup path inside it, for bind-mounting when there is no cgroup
	// namespace. Filled by the parent from the cgroup manager.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`

	// Seccomp is linux.seccomp compiled to BPF (runtime/seccomp); nil
	// without a profile.
	Seccomp *Seccomp `json:"seccomp,omitempty"`

	Process Process `json:"process"`

	// Hooks are config.json's hooks; nil when it has none, so a container
	// without hooks pays nothing for them (no protocol round-trip, no
	// state written).
	Hooks *Hooks `json:"hooks,omitempty"`
}

// Hooks are config.json's hooks, one list per point of the lifecycle
// (runtime-spec config.md, "POSIX-platform Hooks"), in the order they run.
type Hooks struct {
	// Prestart is deprecated; it runs where runc runs it, just before
	// CreateRuntime and like it in the runtime namespace.
	Prestart        []Hook `json:"prestart,omitempty"`
	CreateRuntime   []Hook `json:"createRuntime,omitempty"`
	CreateContainer []Hook `json:"createContainer,omitempty"`
	StartContainer  []Hook `json:"startContainer,omitempty"`
	Poststart       []Hook `json:"poststart,omitempty"`
	Poststop        []Hook `json:"poststop,omitempty"`
}

// Hook is one hook: a program run with exactly these args and env.
type Hook struct {
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
	// Timeout is in seconds; 0 means none.
	Timeout int `json:"timeout,omitempty"`
}

// RuntimeStop reports whether create must stop the init stage before its
// root switch to run prestart and createRuntime hooks in the runtime
// namespace. It is false for a nil *Hooks.
func (h *Hooks) RuntimeStop() bool {
	return h != nil && len(h.Prestart)+len(h.CreateRuntime) > 0
}

// InContainer reports whether the init stage runs hooks itself
// (createContainer, startContainer) and so needs the container's state.
func (h *Hooks) InContainer() bool {
	return h != nil && len(h.CreateContainer)+len(h.StartContainer) > 0
}

// Later returns the hooks that verbs after create run (poststart by start or
// run, poststop by delete), or nil when there are none: create saves them
// with the container's state.
func (h *Hooks) Later() *Hooks {
	if h == nil || len(h.Poststart)+len(h.Poststop) == 0 {
		return nil
	}
	return &Hooks{Poststart: h.Poststart, Poststop: h.Poststop}
}

// JoinNS is an existing namespace to enter.
type JoinNS struct {
	Type string  `json:"type"`
	Flag uintptr `json:"flag"` // CLONE_NEW* for setns(2)
	Path string  `json:"path"`
}

// Seccomp is a compiled seccomp filter, loaded by the init stage with
// seccomp(SECCOMP_SET_MODE_FILTER, Flags, BPF).
type Seccomp struct {
	BPF   []byte `json:"bpf"`   // struct sock_filter[], 8 bytes each
	Flags uint   `json:"flags"` // SECCOMP_FILTER_FLAG_*
	// Listener: the profile has SCMP_ACT_NOTIFY, so the filter is loaded
	// with SECCOMP_FILTER_FLAG_NEW_LISTENER and its notify descriptor goes
	// to linux.seccomp.listenerPath (connected by the parent) with a
	// specs.ContainerProcessState made of Metadata and State.
	Listener     bool         `json:"listener,omitempty"`
	ListenerPath string       `json:"listenerPath,omitempty"`
	Metadata     string       `json:"metadata,omitempty"`
	State        *specs.State `json:"state,omitempty"` // filled by the parent once the pid is known
}

// TimeOffset is one line of /proc/PID/timens_offsets.
type TimeOffset struct {
	Clock string `json:"clock"` // "monotonic" or "boottime"
	Secs  int64  `json:"secs"`
	Nsecs uint32 `json:"nsecs"`
}

// IDMap is one line of a uid_map or gid_map.
type IDMap struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// Mount is one entry of config.json's mounts, with options already turned
// into mount(2) flags.
type Mount struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Type        string `json:"type"`
	// Flags are the mount(2) flags of the mount itself (MS_BIND, MS_RDONLY,
	// MS_NOSUID, MS_REC, ...), without propagation flags.
	Flags uintptr `json:"flags"`
	// Propagation flags (MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE,
	// each possibly with MS_REC), applied one by one after the mount.
	Propagation []uintptr `json:"propagation,omitempty"`
	// Data is the comma-separated filesystem-specific options.
	Data string `json:"data,omitempty"`
	// AttrSet and AttrClr are MOUNT_ATTR_* bits applied recursively with
	// mount_setattr(AT_RECURSIVE) after the mount ("rro", "rnosuid", ...).
	AttrSet uint64 `json:"attrSet,omitempty"`
	AttrClr uint64 `json:"attrClr,omitempty"`
}

// IsBind reports whether the mount is a bind mount.
func (m Mount) IsBind() bool { return m.Flags&msBind != 0 }

// Device is a device node to create in the container's /dev.
type Device struct {
	Path  string `json:"path"`
	Type  string `json:"type"` // "c", "b", "u" or "p"
	Major int64  `json:"major"`
	Minor int64  `json:"minor"`
	// FileMode is the permission bits (0666 when config.json leaves it out).
	FileMode uint32 `json:"fileMode"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
}

// Process is config.json's process, resolved.
type Process struct {
	Args     []string `json:"args"`
	Env      []string `json:"env,omitempty"`
	Cwd      string   `json:"cwd"`
	Terminal bool     `json:"terminal,omitempty"`
	// ConsoleWidth and ConsoleHeight are process.consoleSize, 0 when unset.
	ConsoleWidth  uint     `json:"consoleWidth,omitempty"`
	ConsoleHeight uint     `json:"consoleHeight,omitempty"`
	User          User     `json:"user"`
	Caps          *Caps    `json:"caps,omitempty"`
	Rlimits       []Rlimit `json:"rlimits,omitempty"`
	NoNewPrivs    bool     `json:"noNewPrivs,omitempty"`
	OOMScoreAdj   *int     `json:"oomScoreAdj,omitempty"`
}

// User is process.user. Username, when set, is resolved inside the rootfs by
// the init stage (the container's /etc/passwd is only readable there).
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
	Umask          *uint32  `json:"umask,omitempty"`
	Username       string   `json:"username,omitempty"`
}

// Caps holds the five capability sets as capability numbers. A nil *Caps in
// Process means config.json had no capabilities object: every set is empty.
type Caps struct {
	Bounding    []int `json:"bounding,omitempty"`
	Effective   []int `json:"effective,omitempty"`
	Permitted   []int `json:"permitted,omitempty"`
	Inheritable []int `json:"inheritable,omitempty"`
	Ambient     []int `json:"ambient,omitempty"`
}

// Rlimit is one process.rlimits entry with its resource number resolved.
type Rlimit struct {
	Name     string `json:"name"`
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

const msBind = 0x1000 // unix.MS_BIND; spelled out to keep this file free of imports
