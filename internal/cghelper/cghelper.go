// Package cghelper is the wire format between gtu (cgroupdelegate) and its
// helper program gtu-cgroup (cmd/gtu-cgroup), which runs the cgroup code
// that gtu does not link: the cgroup v2 eBPF device filter, the library's
// systemd managers and every D-Bus conversation with a systemd manager.
//
// gtu runs `gtu-cgroup VERB [ARG]` with a JSON request on stdin. On success
// the helper writes its JSON answer (if the verb has one) on stdout, the
// library's warnings on stderr, one per line, and exits 0. On failure it
// writes the warnings, then ErrorPrefix and the error (which may span
// lines) on stderr, and exits 1.
//
// This package holds only types: importing it links no D-Bus code.
package cghelper

import "github.com/opencontainers/cgroups"

// Name is the helper's file name; gtu looks for it next to itself.
const Name = "gtu-cgroup"

// ErrorPrefix starts the helper's error message on stderr.
const ErrorPrefix = Name + ": "

// The verbs.
const (
	// VerbV2 PATH attaches the eBPF filter for the device rules on stdin
	// (a JSON array of devices/config.Rule) to the cgroup2 directory PATH.
	VerbV2 = "v2"

	// The library's systemd manager (system instance), on a Systemd
	// request. Apply creates the unit with Pid in it and sets Resources,
	// and answers with the cgroup paths (a Paths); if either step fails
	// the unit is destroyed again.
	VerbSystemdApply   = "systemd-apply"
	VerbSystemdSet     = "systemd-set"
	VerbSystemdAddPid  = "systemd-add-pid"
	VerbSystemdDestroy = "systemd-destroy"
)

// Systemd is the request of the systemd-* verbs: what gtu passed to the
// library's manager.NewWithPaths, and the arguments of the call.
type Systemd struct {
	Config *cgroups.Cgroup    `json:"config"`
	Paths  map[string]string  `json:"paths,omitempty"`
	Pid    int                `json:"pid,omitempty"`
	Sub    string             `json:"sub,omitempty"`       // add-pid: the sub-cgroup
	Set    *cgroups.Resources `json:"resources,omitempty"` // set: what to write
	// SkipDevices travels apart because cgroups.Resources does not
	// marshal it (json:"-"); it applies to Config's resources at apply
	// and to Set's.
	SkipDevices bool `json:"skipDevices,omitempty"`
}

// Paths is systemd-apply's answer: controller -> absolute cgroup
// directory, as the manager's GetPaths returns it.
type Paths struct {
	Paths map[string]string `json:"paths"`
}
