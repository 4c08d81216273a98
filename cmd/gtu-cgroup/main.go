// Command gtu-cgroup runs the cgroup work that gtu itself does not link,
// for gtu, one verb per run, with a JSON request on stdin (the wire format
// and the verbs are in internal/cghelper):
//
//	gtu-cgroup v2 PATH           attach an eBPF device filter to the cgroup2 directory PATH
//	gtu-cgroup systemd-apply     the library's systemd manager: create the unit with a pid, set limits
//	gtu-cgroup systemd-set       ... set limits
//	gtu-cgroup systemd-add-pid   ... add a process
//	gtu-cgroup systemd-destroy   ... stop the unit, remove its cgroups
//
// Errors go to stderr as one message starting "gtu-cgroup: ", with exit
// status 1; the library's warnings go to stderr, one per line, before it.
//
// It is a program of its own, not a package of gtu, because a gtu process's
// peak RSS is mostly its binary's pages (on this kernel nearly all of them
// get mapped), and what runs here would be mapped at every gtu start
// although few starts need it (measured on gtu's stripped binary):
//   - the cgroups library's devices package links the eBPF loader
//     (github.com/cilium/ebpf, with debug/elf and the compress packages),
//     0.37 MB, for pure cgroup v2 hosts and systemd only; the cgroup v1
//     rules, which every container on a v1 or hybrid host needs, are
//     written by gtu itself (cgroupdelegate/devices.go);
//   - the library's systemd and manager packages, for --systemd-cgroup
//     only (with the helper's other changes, gtu's binary shrank by
//     0.1 MB). The D-Bus client itself stays in gtu: gtu imports godbus
//     through cgroups.Cgroup's SystemdProps field, and its package init
//     registers the transports, which keeps them and NewConn linked; so
//     the rootless user scope's two D-Bus calls stay in gtu too
//     (internal/userscope), where they cost no extra process.
//
// Each run costs one exec (a few milliseconds) where it is needed. A BPF
// program attached with BPF_PROG_ATTACH, and a unit systemd made, outlive
// this process, so nothing needs it to stay.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // sets the device hooks the library's managers call
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/sirupsen/logrus"

	"github.com/gophertainer/gtu/internal/cghelper"
)

func main() {
	// The library warns through logrus; gtu logs each line it gets.
	logrus.SetFormatter(messageOnly{})
	logrus.SetOutput(os.Stderr)
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s%v\n", cghelper.ErrorPrefix, err)
		os.Exit(1)
	}
}

const usage = "usage: gtu-cgroup v2 PATH | systemd-apply | systemd-set | systemd-add-pid | systemd-destroy (request as JSON on stdin)"

func run(args []string, in io.Reader, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	verb := args[0]
	switch verb {
	case cghelper.VerbV2:
		if len(args) != 2 {
			return errors.New(usage)
		}
		return deviceFilter(args[1], in)
	case cghelper.VerbSystemdApply, cghelper.VerbSystemdSet, cghelper.VerbSystemdAddPid, cghelper.VerbSystemdDestroy:
		var req cghelper.Systemd
		if err := decode(verb, in, &req); err != nil {
			return err
		}
		return systemdVerb(verb, &req, out)
	}
	return fmt.Errorf("unknown verb %q; %s", verb, usage)
}

func decode(verb string, in io.Reader, v any) error {
	if err := json.NewDecoder(in).Decode(v); err != nil {
		return fmt.Errorf("%s: request on stdin: %w", verb, err)
	}
	return nil
}

// deviceFilter attaches the eBPF filter for the rules on in to the cgroup2
// directory path, with the library's code.
func deviceFilter(path string, in io.Reader) error {
	var rules []*devconfig.Rule
	if err := json.NewDecoder(in).Decode(&rules); err != nil {
		return fmt.Errorf("device rules on stdin: %w", err)
	}
	if err := cgroups.DevicesSetV2(path, &cgroups.Resources{Devices: rules}); err != nil {
		return fmt.Errorf("device filter for %s: %w", path, err)
	}
	return nil
}

// messageOnly formats a logrus entry as its message alone.
type messageOnly struct{}

func (messageOnly) Format(e *logrus.Entry) ([]byte, error) { return []byte(e.Message + "\n"), nil }
