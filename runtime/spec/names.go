package spec

import (
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// namespaceFlags maps linux.namespaces[].type to the clone flag. Cgroup and
// time namespaces are in the table for validation but are not created at
// clone time (see Plan.CgroupNS and Plan.TimeNS).
var namespaceFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// rlimits maps process.rlimits[].type to the resource number of setrlimit(2).
var rlimits = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// capNumbers maps "CAP_CHOWN" style names to capability numbers. It is built
// on first use rather than in init(): gtu is exec'd several times per
// container start and only the parent needs it.
var capNumbers = sync.OnceValue(func() map[string]int {
	m := make(map[string]int)
	for _, c := range capability.ListKnown() {
		m[capName(c)] = int(c)
	}
	return m
})

// capName spells a capability the way config.json does.
func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// capSets names the five capability sets in config.json order, for
// validation and conversion loops.
func capSets(c *specs.LinuxCapabilities) []struct {
	name string
	caps []string
} {
	return []struct {
		name string
		caps []string
	}{
		{"bounding", c.Bounding},
		{"effective", c.Effective},
		{"inheritable", c.Inheritable},
		{"permitted", c.Permitted},
		{"ambient", c.Ambient},
	}
}

// capList returns every capability the capability package knows, in number
// order, spelled as in config.json.
func capList() []string {
	var names []string
	for _, c := range capability.ListKnown() {
		names = append(names, capName(c))
	}
	return names
}
