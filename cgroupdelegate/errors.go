package cgroupdelegate

import (
	"errors"
	"io/fs"
)

var (
	// ErrInvalidConfig is wrapped by every error that rejects a value
	// taken from config.json; the error text names the field, e.g.
	// "linux.resources.cpu.quota: 500: must be -1 (no limit) or at least 1000".
	ErrInvalidConfig = errors.New("invalid cgroup configuration")

	// ErrSystemdNotRunning is returned by New for --systemd-cgroup when no
	// systemd manager answers: the systemd driver has nobody to ask for a scope.
	ErrSystemdNotRunning = errors.New("systemd is not running as the init system")

	// ErrUnifiedNeedsV2 rejects linux.resources.unified on a host whose
	// controllers live in v1 hierarchies (v1-only or hybrid), as runc does:
	// the keys name cgroup v2 interface files that have no v1 equivalent.
	ErrUnifiedNeedsV2 = errors.New("cgroup v2 unified mode is required")

	// ErrBadState rejects what Load was given: not something Save wrote, or
	// paths that cannot be a container's cgroup.
	ErrBadState = errors.New("invalid saved cgroup state")

	// ErrHierarchyRoot refuses to use or remove the root of a cgroup
	// hierarchy: removing it recursively would walk into every other cgroup
	// on the host, including the ones PID 1 owns.
	ErrHierarchyRoot = errors.New("refusing to use the root of a cgroup hierarchy")
	// ErrSystemdPlacement is Create or EnterThread on a systemd-managed
	// cgroup: systemd creates the scope with the process in it (Apply).
	ErrSystemdPlacement = errors.New("systemd places processes itself; use Apply")
	// ErrNoMemoryController is WatchOOM on a cgroup without a memory
	// controller: neither a v1 memory hierarchy nor a v2 unified cgroup.
	ErrNoMemoryController = errors.New("no memory controller for this cgroup")

	// ErrNeedsDelegation rejects cgroup limits in rootless mode when no
	// cgroup is delegated to the user (see Delegate) that could hold them.
	ErrNeedsDelegation = errors.New("cgroup limits need a delegated cgroup")
	// ErrNoUserManager is --systemd-cgroup in rootless mode when no
	// systemd --user manager answers for the user.
	ErrNoUserManager = errors.New("no systemd --user manager answers")
	// ErrNoCgroup is pause, resume, kill --all or stats of a rootless
	// container that runs without a cgroup (nothing was delegated and it
	// asked for no limits).
	ErrNoCgroup = errors.New("the container has no cgroup (rootless, nothing delegated)")
	// ErrNotDelegated is Undelegate of a directory that is not a
	// delegation Delegate made.
	ErrNotDelegated = errors.New("not a delegated cgroup")

	// ErrNoCgroupHelper is device rules for a cgroup v2 directory, a
	// systemd-managed cgroup or a systemd --user scope without gtu-cgroup
	// installed next to gtu (the eBPF filter and every D-Bus conversation
	// are made there, see helper.go).
	ErrNoCgroupHelper = errors.New("gtu-cgroup (the helper for cgroup v2 device rules and systemd) is not installed next to gtu")
)

var (
	// errDeviceHole is a device rule that takes away access a wildcard
	// rule grants: cgroup v1 silently ignores it, so it is refused.
	errDeviceHole = errors.New("cannot remove access granted by a wildcard rule (cgroup v1 would silently keep it)")
	// errDevicesMismatch: devices.list does not show what the rules mean.
	errDevicesMismatch = errors.New("the devices cgroup does not match the rules written")
)

// errNoCgroupGone is ErrNoCgroup that also matches fs.ErrNotExist, which
// callers treat as "the cgroup is gone, signal the init alone" (delete
// --force must still work); kill --all can still tell it apart.
var errNoCgroupGone error = noCgroupGone{}

type noCgroupGone struct{}

func (noCgroupGone) Error() string   { return ErrNoCgroup.Error() }
func (noCgroupGone) Unwrap() []error { return []error{ErrNoCgroup, fs.ErrNotExist} }

// fieldError names the config.json field a bad value came from. It matches
// ErrInvalidConfig (and, through err, anything more specific).
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }

func (e *fieldError) Unwrap() []error { return []error{ErrInvalidConfig, e.err} }

func badField(field string, err error) error { return &fieldError{field: field, err: err} }
