package subid

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Range is one subordinate range: Count ids from Start.
type Range struct {
	Start uint32
	Count uint32
}

// Entry is one line of /etc/subuid or /etc/subgid.
type Entry struct {
	Owner string // user name or decimal uid
	Range
	Line int
}

var (
	// ErrMalformed is a line that is not owner:start:count.
	ErrMalformed = errors.New("malformed subordinate id line")
	// ErrNoRange is a user without any range.
	ErrNoRange = errors.New("no subordinate id range")
)

// Parse reads the entries of a subuid/subgid file. Blank lines and
// comments (#) are skipped; anything else that is not owner:start:count,
// with a count above zero and a range that fits in 32 bits, is an error
// naming file and line.
func Parse(r io.Reader, file string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || f[0] == "" {
			return nil, fmt.Errorf("%s:%d: %w: %q (want name:start:count)", file, n, ErrMalformed, line)
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count-1 > 0xffffffff {
			return nil, fmt.Errorf("%s:%d: %w: %q (start and count must be numbers, count above 0, within 32 bits)", file, n, ErrMalformed, line)
		}
		out = append(out, Entry{Owner: f[0], Range: Range{Start: uint32(start), Count: uint32(count)}, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// Select returns the ranges of the user, named either way.
func Select(entries []Entry, name string, uid uint32) []Range {
	id := strconv.FormatUint(uint64(uid), 10)
	var out []Range
	for _, e := range entries {
		if (name != "" && e.Owner == name) || e.Owner == id {
			out = append(out, e.Range)
		}
	}
	return out
}

// Lookup reads file (/etc/subuid or /etc/subgid) and returns the user's
// ranges, or an error that says which line to add.
func Lookup(file, name string, uid uint32) ([]Range, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := Parse(f, file)
	if err != nil {
		return nil, err
	}
	if r := Select(entries, name, uid); len(r) > 0 {
		return r, nil
	}
	return nil, noRange(file, name, uid)
}

func noRange(file, name string, uid uint32) error {
	owner := name
	if owner == "" {
		owner = strconv.FormatUint(uint64(uid), 10)
	}
	return fmt.Errorf("%w for user %s (uid %d) in %s: ask root to add a line like %q there (65536 ids from an unused start)",
		ErrNoRange, owner, uid, file, owner+":100000:65536")
}

// ParseGetsubids reads getsubids(1) output: "N: owner start count" lines.
func ParseGetsubids(out []byte) ([]Range, error) {
	var ranges []Range
	for n, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 || !strings.HasSuffix(f[0], ":") {
			return nil, fmt.Errorf("getsubids line %d: %w: %q", n+1, ErrMalformed, line)
		}
		start, err1 := strconv.ParseUint(f[2], 10, 32)
		count, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			return nil, fmt.Errorf("getsubids line %d: %w: %q", n+1, ErrMalformed, line)
		}
		ranges = append(ranges, Range{Start: uint32(start), Count: uint32(count)})
	}
	return ranges, nil
}

// ForUser returns the user's subordinate uid and gid ranges: from
// getsubids(1) when the host has it, else from /etc/subuid and
// /etc/subgid.
func ForUser(name string, uid uint32) (uids, gids []Range, err error) {
	if _, lerr := exec.LookPath("getsubids"); lerr == nil && name != "" {
		uids, uerr := getsubids(name, false)
		gids, gerr := getsubids(name, true)
		if uerr == nil && gerr == nil && len(uids) > 0 && len(gids) > 0 {
			return uids, gids, nil
		}
	}
	if uids, err = Lookup("/etc/subuid", name, uid); err != nil {
		return nil, nil, err
	}
	if gids, err = Lookup("/etc/subgid", name, uid); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}

func getsubids(name string, group bool) ([]Range, error) {
	args := []string{name}
	if group {
		args = []string{"-g", name}
	}
	out, err := exec.Command("getsubids", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("getsubids %s: %w", strings.Join(args, " "), err)
	}
	return ParseGetsubids(out)
}
