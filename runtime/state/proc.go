package state

import (
	"fmt"
	"io/fs"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/internal/procfs"
)

// statBufSize bounds /proc/PID/stat: 52 numeric fields of at most 20 digits
// and a comm of at most 64 bytes fit well within it.
const statBufSize = 4096

// StartTime returns the start time of pid, field 22 of <procRoot>/<pid>/stat,
// in clock ticks since boot. Paired with the pid it names a process for good:
// a recycled pid gets a different start time.
func StartTime(procRoot string, pid int) (uint64, error) {
	_, start, err := readStat(procRoot, pid)
	return start, err
}

// Alive reports whether pid exists, is not a zombie (state Z, or X while it
// is being reaped) and started at start, i.e. is still the process that was
// recorded and not a later one that reused its pid.
func Alive(procRoot string, pid int, start uint64) bool {
	state, st, err := readStat(procRoot, pid)
	return err == nil && st == start && state != 'Z' && state != 'X' && state != 'x'
}

func readStat(procRoot string, pid int) (state byte, start uint64, err error) {
	if pid <= 0 {
		return 0, 0, fmt.Errorf("read stat of pid %d: invalid pid", pid)
	}
	p := procRoot + "/" + strconv.Itoa(pid) + "/stat"
	b, err := readSmall(p)
	if err != nil {
		return 0, 0, err
	}
	return parseStat(p, b)
}

// readSmall reads a file of at most statBufSize bytes with bare syscalls:
// os.ReadFile would add an fstat and a failed epoll registration per call,
// and `gtu list` calls this once per container.
func readSmall(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, statBufSize)
	for n := 0; n < len(buf); {
		m, err := unix.Read(fd, buf[n:])
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: p, Err: err}
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
	return nil, fmt.Errorf("read %s: longer than %d bytes", p, statBufSize)
}

// parseStat: see procfs.ParseStat.
func parseStat(p string, b []byte) (state byte, start uint64, err error) {
	return procfs.ParseStat(p, b)
}
