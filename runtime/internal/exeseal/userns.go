package exeseal

import (
	"bufio"
	"bytes"
)

// initialUserNS reports whether uidMap, the contents of /proc/self/uid_map,
// is the identity map of all 2^32-1 ids that only the initial user namespace
// has. A child namespace given the same full map by real root is reported as
// initial too; its root can override permissions on every host file, so
// treating it as real root keeps the protection on, which is the safe side.
func initialUserNS(uidMap []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(uidMap))
	lines := 0
	full := false
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		lines++
		full = len(f) == 3 && string(f[0]) == "0" && string(f[1]) == "0" && string(f[2]) == "4294967295"
	}
	return lines == 1 && full
}
