// Command gtu-cgroup-devices turns a container's device rules into what
// the two cgroup back ends that cannot take them as plain text need:
//
//	gtu-cgroup-devices v2 PATH               attach an eBPF device filter to the cgroup2 directory PATH
//	gtu-cgroup-devices systemd-props VERSION print systemd's DeviceAllow=/DevicePolicy= unit properties
//
// Both read the rules on stdin as a JSON array of the cgroups library's
// devices/config.Rule, and are the library's own code
// (github.com/opencontainers/cgroups/devices), reached through the hooks
// that package registers. systemd-props writes a JSON array of
// {"name","signature","value"} on stdout: the D-Bus signature travels with
// each value so that gtu can rebuild the exact variant (godbus cannot parse
// a struct array like a(ss) back from its text form). Errors go to stderr
// as one line starting "gtu-cgroup-devices: ", with exit status 1; the
// library's warnings go to stderr, one per line, with exit status 0.
//
// It is a program of its own, not a package of gtu, because the devices
// package links the eBPF loader (github.com/cilium/ebpf, and with it
// debug/elf and the compress packages): 0.37 MB of gtu's 7.4 MB binary,
// which a gtu process maps at every start (a gtu's peak RSS is mostly its
// binary) although only pure cgroup v2 hosts and --systemd-cgroup need it.
// The cgroup v1 rules, which every container on a v1 or hybrid host needs,
// are written by gtu itself (cgroupdelegate/devices.go). A BPF program
// attached with BPF_PROG_ATTACH stays attached to the cgroup after this
// process exits, so running it once per container is enough.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // sets the hooks used below
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/systemd"
	"github.com/sirupsen/logrus"
)

// prop is one systemd unit property on the wire.
type prop struct {
	Name      string `json:"name"`
	Signature string `json:"signature"`
	Value     any    `json:"value"`
}

func main() {
	// The library warns through logrus; gtu logs each line it gets.
	logrus.SetFormatter(messageOnly{})
	logrus.SetOutput(os.Stderr)
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "gtu-cgroup-devices: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, in io.Reader, out io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: gtu-cgroup-devices v2 PATH | systemd-props VERSION (rules as JSON on stdin)")
	}
	var rules []*devconfig.Rule
	if err := json.NewDecoder(in).Decode(&rules); err != nil {
		return fmt.Errorf("device rules on stdin: %w", err)
	}
	r := &cgroups.Resources{Devices: rules}
	switch args[0] {
	case "v2":
		if err := cgroups.DevicesSetV2(args[1], r); err != nil {
			return fmt.Errorf("device filter for %s: %w", args[1], err)
		}
		return nil
	case "systemd-props":
		ver, err := strconv.Atoi(args[1])
		if err != nil {
			return fmt.Errorf("systemd version %q: %w", args[1], err)
		}
		props, err := systemd.GenerateDeviceProps(r, ver)
		if err != nil {
			return fmt.Errorf("systemd device properties: %w", err)
		}
		wire := make([]prop, 0, len(props))
		for _, p := range props {
			wire = append(wire, prop{Name: p.Name, Signature: p.Value.Signature().String(), Value: p.Value.Value()})
		}
		return json.NewEncoder(out).Encode(wire)
	}
	return fmt.Errorf("unknown verb %q (want v2 or systemd-props)", args[0])
}

// messageOnly formats a logrus entry as its message alone.
type messageOnly struct{}

func (messageOnly) Format(e *logrus.Entry) ([]byte, error) { return []byte(e.Message + "\n"), nil }
