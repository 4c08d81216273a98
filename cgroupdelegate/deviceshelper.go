package cgroupdelegate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	systemdDbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/moby/sys/userns"
	"github.com/opencontainers/cgroups"
)

// devicesHelperName is the program (cmd/gtu-cgroup-devices) that makes the
// cgroup v2 eBPF device filter and systemd's device properties with the
// library's own code; see devices.go for why it is not linked into gtu.
const devicesHelperName = "gtu-cgroup-devices"

// devicesHelperPath overrides the helper's place (tests).
var devicesHelperPath string

// devicesHelper is gtu-cgroup-devices next to the running gtu.
func devicesHelper() string {
	if devicesHelperPath != "" {
		return devicesHelperPath
	}
	exe, err := os.Executable()
	if err != nil {
		return devicesHelperName
	}
	return filepath.Join(filepath.Dir(exe), devicesHelperName)
}

// setDevicesV2 attaches the eBPF device filter for r.Devices to the cgroup2
// directory path. The program stays attached after the helper exits.
func setDevicesV2(path string, r *cgroups.Resources) error {
	// In a user namespace loading a cgroup device program always fails
	// (it needs CAP_SYS_ADMIN or CAP_BPF in the initial namespace) and the
	// library then ignores the error; so skip the helper's exec.
	if r.SkipDevices || userns.RunningInUserNS() {
		return nil
	}
	_, err := runDevicesHelper(r, "v2", path)
	return err
}

// systemdDeviceProps returns systemd's DeviceAllow= and DevicePolicy=
// properties for r.Devices; sdVersion is the manager's version.
func systemdDeviceProps(r *cgroups.Resources, sdVersion int) ([]systemdDbus.Property, error) {
	if r.SkipDevices {
		return nil, nil
	}
	out, err := runDevicesHelper(r, "systemd-props", strconv.Itoa(sdVersion))
	if err != nil {
		return nil, err
	}
	return decodeDeviceProps(out)
}

// wireProp is a unit property as gtu-cgroup-devices writes it: the D-Bus
// signature travels with the value, which is rebuilt here with that exact
// type (dbus.ParseVariant cannot: it turns a(ss) into aav).
type wireProp struct {
	Name      string          `json:"name"`
	Signature string          `json:"signature"`
	Value     json.RawMessage `json:"value"`
}

// deviceAllow is one DeviceAllow= entry, D-Bus type (ss): path, access.
type deviceAllow struct {
	Path  string
	Perms string
}

func decodeDeviceProps(out []byte) ([]systemdDbus.Property, error) {
	var wire []wireProp
	if err := json.Unmarshal(out, &wire); err != nil {
		return nil, fmt.Errorf("%s systemd-props: output: %w", devicesHelperName, err)
	}
	props := make([]systemdDbus.Property, 0, len(wire))
	for _, w := range wire {
		var v any
		switch w.Signature {
		case "s":
			var s string
			v = &s
		case "a(ss)":
			var entries []deviceAllow
			v = &entries
		default:
			return nil, fmt.Errorf("%s systemd-props: property %s: unexpected D-Bus signature %q", devicesHelperName, w.Name, w.Signature)
		}
		if err := json.Unmarshal(w.Value, v); err != nil {
			return nil, fmt.Errorf("%s systemd-props: property %s: %w", devicesHelperName, w.Name, err)
		}
		switch v := v.(type) {
		case *string:
			props = append(props, systemdDbus.Property{Name: w.Name, Value: dbus.MakeVariant(*v)})
		case *[]deviceAllow:
			if *v == nil {
				*v = []deviceAllow{}
			}
			props = append(props, systemdDbus.Property{Name: w.Name, Value: dbus.MakeVariant(*v)})
		}
	}
	return props, nil
}

// runDevicesHelper runs gtu-cgroup-devices with args and r.Devices on its
// stdin, and returns its stdout. The library's warnings (its stderr on
// success) are logged.
func runDevicesHelper(r *cgroups.Resources, args ...string) ([]byte, error) {
	helper := devicesHelper()
	if _, err := os.Stat(helper); err != nil {
		return nil, fmt.Errorf("device rules: %w (%s)", ErrNoDevicesHelper, helper)
	}
	in, err := json.Marshal(r.Devices)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(helper, args...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(errb.String(), devicesHelperName+": "))
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s %s: %w", helper, args[0], errors.New(msg))
	}
	for line := range strings.Lines(errb.String()) {
		if line = strings.TrimSpace(line); line != "" {
			slog.Warn("device rules: " + line)
		}
	}
	return out.Bytes(), nil
}
