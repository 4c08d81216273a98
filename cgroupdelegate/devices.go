package cgroupdelegate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
)

// The cgroups library writes device rules only through hooks that its
// devices package sets when imported. gtu does not import that package: it
// also holds the cgroup v2 eBPF device filter and so links
// github.com/cilium/ebpf (with debug/elf and the compress packages):
// 0.37 MB of the 7.4 MB binary (measured), which every gtu start maps,
// although only pure v2 hosts need it. gtu sets the hooks itself: the v1 writer below, which
// every container on a v1 or hybrid host needs, runs in-process; the eBPF
// filter runs the library's own code in gtu-cgroup (helper.go), and so do
// systemd's device properties, with the library's whole systemd manager
// (systemd.go).
func init() {
	cgroups.DevicesSetV1 = setDevicesV1
	cgroups.DevicesSetV2 = setDevicesV2
}

// setDevicesV1 writes r.Devices to the v1 devices cgroup at path: deny
// everything, then each rule in order. The library's writer computes a
// minimal transition from the cgroup's current list instead, which matters
// only when rules change on a live cgroup; gtu never does that (update
// skips devices, as runc's does; see (*Cgroup).set), and a new cgroup
// inherits its parent's list, usually "a *:* rwm", from which the library
// too starts with the same deny-all. The end state is the same set of
// exceptions: the kernel applies the rules in order exactly as the
// library's emulator does, and rules the kernel would silently ignore are
// refused first, as the library refuses them. Only the order of
// devices.list differs: it is the spec's order here (the library writes
// sorted), which the OCI spec asks for ("MUST apply entries in the listed
// order") and runtime-tools' linux_cgroups_devices checks.
func setDevicesV1(path string, r *cgroups.Resources) error {
	// As the library: a user namespace cannot write devices.allow (the
	// kernel wants CAP_SYS_ADMIN in the initial namespace).
	if r.SkipDevices || userns.RunningInUserNS() {
		return nil
	}
	want, err := emulateDevices(r.Devices)
	if err != nil {
		return fmt.Errorf("device rules for %s: %w", path, err)
	}
	if err := cgroups.WriteFile(path, "devices.deny", "a"); err != nil {
		return err
	}
	for _, rule := range r.Devices {
		file := "devices.deny"
		if rule.Allow {
			file = "devices.allow"
		}
		if err := cgroups.WriteFile(path, file, rule.CgroupString()); err != nil {
			return err
		}
	}
	// The library's last check, kept: devices.list must show what the
	// rules mean. Only a whitelist can be compared entry by entry; in
	// blacklist mode the kernel lists "a *:* rwm" whatever is denied.
	list, err := cgroups.ReadFile(path, "devices.list")
	if err != nil {
		return err
	}
	got, err := parseDevicesList(list)
	if err != nil {
		return fmt.Errorf("%s/devices.list: %w", path, err)
	}
	if !got.matches(want) {
		return fmt.Errorf("%s/devices.list: %w", path, errDevicesMismatch)
	}
	return nil
}

// deviceKey is what a v1 device exception matches: type, major, minor
// (devconfig.Wildcard for "*").
type deviceKey struct {
	typ          devconfig.Type
	major, minor int64
}

// deviceState is a v1 devices cgroup as the kernel keeps it: a default
// (allow all: blacklist; deny all: whitelist) and exceptions to it.
type deviceState struct {
	allowAll   bool
	exceptions map[deviceKey]devconfig.Permissions
}

// emulateDevices applies rules to a deny-all cgroup the way the kernel
// does (security/device_cgroup.c: a rule of the default's own kind removes
// an exception, the other kind adds one, "a" resets), and refuses what the
// library's emulator refuses.
func emulateDevices(rules []*devconfig.Rule) (*deviceState, error) {
	st := &deviceState{exceptions: map[deviceKey]devconfig.Permissions{}}
	for _, rule := range rules {
		k := deviceKey{rule.Type, rule.Major, rule.Minor}
		switch {
		case !rule.Type.CanCgroup():
			return nil, fmt.Errorf("rule %q: type %q is not a cgroup device type", rule.CgroupString(), rule.Type)
		case rule.Type == devconfig.WildcardDevice:
			*st = deviceState{allowAll: rule.Allow, exceptions: map[deviceKey]devconfig.Permissions{}}
		case rule.Allow != st.allowAll:
			st.exceptions[k] = st.exceptions[k].Union(rule.Permissions)
		default:
			if err := st.remove(k, rule); err != nil {
				return nil, err
			}
		}
	}
	return st, nil
}

// remove takes rule's permissions out of exception k. The kernel removes
// only the exception with exactly the same numbers, so removing access that
// a wildcard exception grants (allow "c 1:* rwm", then deny "c 1:3 w") is a
// silent no-op there: refused here, as the library refuses it ("cannot
// punch hole in existing wildcard rule").
func (st *deviceState) remove(k deviceKey, rule *devconfig.Rule) error {
	for _, w := range []deviceKey{
		{k.typ, devconfig.Wildcard, k.minor},
		{k.typ, k.major, devconfig.Wildcard},
		{k.typ, devconfig.Wildcard, devconfig.Wildcard},
	} {
		if w != k && !st.exceptions[w].Intersection(rule.Permissions).IsEmpty() {
			return fmt.Errorf("rule %q: %w (%q)", rule.CgroupString(), errDeviceHole, (&devconfig.Rule{Type: w.typ, Major: w.major, Minor: w.minor, Permissions: st.exceptions[w]}).CgroupString())
		}
	}
	if p := st.exceptions[k].Difference(rule.Permissions); p.IsEmpty() {
		delete(st.exceptions, k)
	} else {
		st.exceptions[k] = p
	}
	return nil
}

// matches compares a state read from devices.list with the wanted one.
func (st *deviceState) matches(want *deviceState) bool {
	if st.allowAll || want.allowAll {
		return st.allowAll == want.allowAll
	}
	if len(st.exceptions) != len(want.exceptions) {
		return false
	}
	for k, p := range want.exceptions {
		if st.exceptions[k] != p {
			return false
		}
	}
	return true
}

// parseDevicesList reads devices.list: "a *:* rwm" alone in blacklist
// mode, else the whitelist's exceptions, one "c 1:3 rwm" per line.
func parseDevicesList(list string) (*deviceState, error) {
	st := &deviceState{exceptions: map[deviceKey]devconfig.Permissions{}}
	for line := range strings.Lines(list) {
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == ':' || r == '\n' })
		if len(f) != 4 || len(f[0]) != 1 {
			return nil, fmt.Errorf("line %q: want \"TYPE MAJOR:MINOR ACCESS\"", strings.TrimSpace(line))
		}
		if f[0] == "a" {
			st.allowAll = true
			continue
		}
		major, err1 := parseDeviceNumber(f[1])
		minor, err2 := parseDeviceNumber(f[2])
		perms := devconfig.Permissions(f[3])
		if err1 != nil || err2 != nil || (f[0] != "b" && f[0] != "c") || !perms.IsValid() || perms.IsEmpty() {
			return nil, fmt.Errorf("line %q: not a device exception", strings.TrimSpace(line))
		}
		k := deviceKey{devconfig.Type(f[0][0]), major, minor}
		st.exceptions[k] = st.exceptions[k].Union(perms)
	}
	if st.allowAll {
		st.exceptions = map[deviceKey]devconfig.Permissions{}
	}
	return st, nil
}

func parseDeviceNumber(s string) (int64, error) {
	if s == "*" {
		return devconfig.Wildcard, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return int64(n), err
}
