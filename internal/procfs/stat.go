// Package procfs parses /proc files that several of gtu's packages read.
package procfs

import (
	"bytes"
	"fmt"
	"strconv"
)

// ParseStat returns fields 3 (state) and 22 (starttime) of a /proc/PID/stat
// line read from path. Field 2, the comm in parentheses, is chosen by the
// process and may hold spaces and ')', so the fields are counted from the
// last ')'.
func ParseStat(path string, b []byte) (state byte, start uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse %s: no ')' closing the comm field", path)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("parse %s: %d fields after the comm, want at least 20", path, len(f))
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse %s: field 22 (starttime): %w", path, err)
	}
	return f[0][0], start, nil
}
