package container

import (
	"encoding/json"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/runtime/protocol"
	"github.com/gophertainer/gtu/runtime/state"
)

// Warm computes ahead what a container start computes the first time it
// meets each type: encoding/json's field tables and encoders. The first
// decode of a config.json builds them for every type reachable from
// specs.Spec (typeFields builds encoders eagerly), about 0.7 ms here, and
// the first encodes or decodes of the plan, the saved cgroup and the state
// add ~0.5 ms; all on the critical path of create, run, exec and delete.
// The CLI calls Warm on a goroutine of its own as soon as it knows the verb
// is one of those, so the work
// runs on another core while kong parses and the config is read;
// encoding/json's caches are safe for concurrent use and deduplicate
// encoders being built.
func Warm() {
	_, _ = json.Marshal(&specs.Spec{})
	_, _ = json.Marshal(&cgroups.Cgroup{Resources: &cgroups.Resources{}})
	_, _ = json.Marshal(&protocol.Message{})
	_, _ = json.Marshal(&state.State{})
}
