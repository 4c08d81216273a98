// Package nsenter runs gtu inside an existing container's namespaces
// through c/nsenter.c, a freestanding C program of a few kilobytes that gtu
// carries inside itself and runs from a sealed memfd. Its comment says why
// it exists; this package builds its arguments and starts it.
package nsenter

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/internal/exeseal"
)

// ErrUnsupported is returned on architectures this build has no helper for.
var ErrUnsupported = errors.New("nsenter: no helper for this architecture")

// Join is one namespace to enter: its CLONE_NEW* flag and the descriptor
// number of its /proc/PID/ns file as the helper will see it.
type Join struct {
	Flag uintptr
	FD   int
}

// Open returns a sealed, executable descriptor of the helper.
func Open() (*os.File, error) {
	if len(image) == 0 {
		return nil, ErrUnsupported
	}
	return exeseal.Bytes("gtu-nsenter", image)
}

// Order puts the namespaces in the order the helper must join them: every
// namespace owned by the caller's user namespace first (the helper still
// has the host's capabilities over them), then the user namespace, then
// those the container's user namespace owns. owned reports, for each flag,
// whether the container's user namespace owns that namespace.
func Order(ns []Join, owned func(flag uintptr) bool) []Join {
	var before, user, after []Join
	for _, j := range ns {
		switch {
		case j.Flag == unix.CLONE_NEWUSER:
			user = append(user, j)
		case owned != nil && owned(j.Flag):
			after = append(after, j)
		default:
			before = append(before, j)
		}
	}
	return append(append(before, user...), after...)
}

// Args is the helper's argument vector (see c/nsenter.c for its format).
// cgroup2FD is -1 when there is no cgroup2 directory to clone into.
func Args(errFD, exeFD int, ns []Join, taskFDs []int, cgroup2FD int, argv []string) ([]string, error) {
	if len(argv) == 0 {
		return nil, errors.New("nsenter: empty argv for gtu")
	}
	var b strings.Builder
	for i, j := range ns {
		if j.FD < 0 || j.Flag == 0 {
			return nil, fmt.Errorf("nsenter: bad namespace %d: %+v", i, j)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", j.Flag, j.FD)
	}
	tasks := make([]string, len(taskFDs))
	for i, fd := range taskFDs {
		tasks[i] = strconv.Itoa(fd)
	}
	out := []string{"gtu-nsenter", strconv.Itoa(errFD), strconv.Itoa(exeFD), b.String(),
		strings.Join(tasks, ","), strconv.Itoa(cgroup2FD), "--"}
	return append(out, argv...), nil
}
