package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// defaultPsArgs is what runc passes to ps when the caller gives nothing.
var defaultPsArgs = []string{"-ef"}

// psCommand is the host's ps, found in $PATH as runc does.
const psCommand = "ps"

// Ps writes the processes of container id (in any status, as runc: a
// stopped container simply has none). With format "json" it writes the
// array of their host pids; with "table" it runs the host's ps with psArgs
// (default -ef) and keeps ps's header and the lines whose PID column names
// one of them. A leading "--" in psArgs is dropped: it only separates gtu's
// flags from ps's.
func Ps(g Global, id, format string, psArgs []string, w io.Writer) error {
	if format != "table" && format != "json" {
		return fmt.Errorf("--format %q: must be table or json", format)
	}
	h, err := open(g, id, false)
	if err != nil {
		return err
	}
	pids, err := h.pids()
	h.close()
	if err != nil {
		return err
	}
	if format == "json" {
		b, err := json.Marshal(pids)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if len(psArgs) > 0 && psArgs[0] == "--" {
		psArgs = psArgs[1:]
	}
	if len(psArgs) == 0 {
		psArgs = defaultPsArgs
	}
	out, err := runPs(psArgs)
	if err != nil {
		return err
	}
	table, err := filterPs(out, pids)
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	_, err = io.WriteString(w, table)
	return err
}

// pids lists the host pids in the container's cgroup, sorted; never nil,
// so that JSON shows [] rather than null.
func (h *handle) pids() ([]int, error) {
	cg, err := h.cgroup()
	if err != nil {
		return nil, err
	}
	pids, err := cg.Pids()
	if err != nil {
		// A stopped container's cgroup may be gone already (removed by
		// someone else): it has no processes.
		if errors.Is(err, fs.ErrNotExist) && !h.alive() {
			return []int{}, nil
		}
		return nil, err
	}
	slices.Sort(pids)
	if pids == nil {
		pids = []int{}
	}
	return pids, nil
}

func runPs(args []string) (string, error) {
	cmd := exec.Command(psCommand, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if msg != "" {
			return "", fmt.Errorf("%s %s: %w: %s", psCommand, strings.Join(args, " "), err, firstLine(msg))
		}
		return "", fmt.Errorf("%s %s: %w", psCommand, strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// filterPs keeps ps's header and the lines whose PID column is in pids, as
// runc does: the column is found by its title in the header, and each line
// is split on blanks. That is exact for the columns before any free-text
// one (CMD, COMMAND, ARGS come last in ps's formats).
func filterPs(out string, pids []int) (string, error) {
	lines := strings.Split(out, "\n")
	header := lines[0]
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return "", fmt.Errorf("no PID column in ps's header %q: the ps options must keep it (e.g. -o pid,...)", header)
	}
	var b strings.Builder
	b.WriteString(header)
	b.WriteByte('\n')
	for i, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line)
		if col >= len(fields) {
			return "", fmt.Errorf("line %d of ps's output has no PID column: %q", i+2, line)
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return "", fmt.Errorf("line %d of ps's output: PID %q is not a number", i+2, fields[col])
		}
		if slices.Contains(pids, pid) {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}
