package spec

import (
	"runtime/debug"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// versionAnnotation is the Features annotation holding gtu's version.
const versionAnnotation = "io.github.gophertainer.gtu.version"

// Features describes what gtu supports, for `gtu features`. It lists what
// Build accepts, so the two must change together.
func Features() *features.Features {
	yes, no := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         hookNames(),
		MountOptions:  mountOptionNames(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: capList(),
			Cgroup: &features.Cgroup{
				V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no,
			},
			Seccomp:         &features.Seccomp{Enabled: &no},
			Apparmor:        &features.Apparmor{Enabled: &no},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
			NetDevices:      &features.NetDevices{Enabled: &no},
		},
		Annotations: map[string]string{versionAnnotation: version()},
	}
}

// hookNames are the hook lists Build accepts and gtu runs, in lifecycle
// order, as config.json spells them.
func hookNames() []string {
	var out []string
	for _, l := range hookLists(&specs.Hooks{}) {
		out = append(out, l.name)
	}
	return out
}

// version is the gtu module's version as stamped by the Go toolchain.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == "github.com/gophertainer/gtu" && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
