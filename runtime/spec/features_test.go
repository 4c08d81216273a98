package spec

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFeatures(t *testing.T) {
	f := Features()
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version {
		t.Errorf("versions %q..%q", f.OCIVersionMin, f.OCIVersionMax)
	}
	wantHooks := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	if !slices.Equal(f.Hooks, wantHooks) {
		t.Errorf("Hooks = %#v, want %v", f.Hooks, wantHooks)
	}
	if !slices.IsSorted(f.MountOptions) || !slices.Contains(f.MountOptions, "rro") || !slices.Contains(f.MountOptions, "rbind") {
		t.Errorf("MountOptions = %v", f.MountOptions)
	}
	// Every namespace Features announces must be one Build accepts.
	for _, ns := range f.Linux.Namespaces {
		if _, ok := namespaceFlags[specs.LinuxNamespaceType(ns)]; !ok {
			t.Errorf("namespace %q announced but unknown", ns)
		}
	}
	if len(f.Linux.Namespaces) != len(namespaceFlags) {
		t.Errorf("Namespaces = %v, want all %d", f.Linux.Namespaces, len(namespaceFlags))
	}
	if len(f.Linux.Capabilities) != len(capNumbers()) || f.Linux.Capabilities[0] != "CAP_CHOWN" ||
		!slices.Contains(f.Linux.Capabilities, "CAP_CHECKPOINT_RESTORE") {
		t.Errorf("Capabilities = %v", f.Linux.Capabilities)
	}
	c := f.Linux.Cgroup
	if !*c.V1 || !*c.V2 || *c.Systemd || *c.SystemdUser {
		t.Errorf("Cgroup = %+v", c)
	}
	if !*f.Linux.Seccomp.Enabled || len(f.Linux.Seccomp.Actions) == 0 {
		t.Error("seccomp is implemented (through gtu-seccomp) but not announced")
	}
	if *f.Linux.Apparmor.Enabled || *f.Linux.Selinux.Enabled ||
		*f.Linux.IntelRdt.Enabled || *f.Linux.MountExtensions.IDMap.Enabled {
		t.Error("an unimplemented feature is announced")
	}
	if v := f.Annotations[versionAnnotation]; v == "" {
		t.Error("no version annotation")
	}
	data, err := json.Marshal(f)
	if err != nil || !strings.Contains(string(data), `"ociVersionMin":"1.0.0"`) {
		t.Errorf("json: %s, %v", data, err)
	}
}
