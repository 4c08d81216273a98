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
	"strings"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/cgroups"

	"github.com/gophertainer/gtu/internal/cghelper"
)

// gtu-cgroup (cmd/gtu-cgroup) runs what gtu does not link: the cgroup v2
// eBPF device filter (devices.go says why), the library's systemd managers
// (systemd.go) and the D-Bus conversations with a user's systemd --user
// (userscope.go). A gtu process's peak RSS is mostly its binary's pages,
// and the eBPF loader and the D-Bus client would add to every gtu start
// what only some starts need; those pay one exec of the helper instead.

// helperPath overrides the helper's place (tests).
var helperPath string

// cgroupHelper is gtu-cgroup next to the running gtu.
func cgroupHelper() string {
	if helperPath != "" {
		return helperPath
	}
	exe, err := os.Executable()
	if err != nil {
		return cghelper.Name
	}
	return filepath.Join(filepath.Dir(exe), cghelper.Name)
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
	err := callHelper("device rules", r.Devices, nil, cghelper.VerbV2, path)
	if he := (*helperError)(nil); errors.As(err, &he) {
		return fmt.Errorf("%s %s: %w", cgroupHelper(), cghelper.VerbV2, err)
	}
	return err
}

// helperError is an error the helper reported, its message as it is.
type helperError struct{ msg string }

func (e *helperError) Error() string { return e.msg }

// callHelper runs `gtu-cgroup verb args...` with req as JSON on its stdin
// and decodes its stdout into resp (unless nil). purpose names what the
// run is for in the errors and warnings gtu reports: the helper's own
// error message comes back as it is (it names the path, the unit or the
// bus); the library's warnings (its stderr before the error, or all of it
// on success) are logged.
func callHelper(purpose string, req, resp any, verb string, args ...string) error {
	helper := cgroupHelper()
	if _, err := os.Stat(helper); err != nil {
		return fmt.Errorf("%s: %w (%s)", purpose, ErrNoCgroupHelper, helper)
	}
	in, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: %w", purpose, err)
	}
	cmd := exec.Command(helper, append([]string{verb}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	warnings, msg := splitHelperStderr(errb.String())
	for _, w := range warnings {
		slog.Warn(purpose + ": " + w)
	}
	if runErr != nil {
		if msg == "" {
			// Not an error the helper reported (killed, not executable...).
			return fmt.Errorf("%s: %s %s: %w", purpose, helper, verb, runErr)
		}
		return &helperError{msg}
	}
	if resp != nil {
		if err := json.Unmarshal(out.Bytes(), resp); err != nil {
			return fmt.Errorf("%s: %s %s: its answer: %w", purpose, helper, verb, err)
		}
	}
	return nil
}

// splitHelperStderr separates the library's warnings (one per line) from
// the error message, which starts at the first line with
// cghelper.ErrorPrefix and runs to the end (a joined error spans lines).
func splitHelperStderr(s string) (warnings []string, msg string) {
	for s != "" {
		if rest, ok := strings.CutPrefix(s, cghelper.ErrorPrefix); ok {
			return warnings, strings.TrimSpace(rest)
		}
		line, next, _ := strings.Cut(s, "\n")
		if line = strings.TrimSpace(line); line != "" {
			warnings = append(warnings, line)
		}
		s = next
	}
	return warnings, ""
}
