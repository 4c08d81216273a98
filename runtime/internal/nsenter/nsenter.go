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

// Order puts the user namespace last, where the helper needs it: the other
// namespaces are joined with the caller's capabilities, the user namespace
// only by the child it forks (see c/nsenter.c).
func Order(ns []Join) []Join {
	var out, user []Join
	for _, j := range ns {
		if j.Flag == unix.CLONE_NEWUSER {
			user = append(user, j)
			continue
		}
		out = append(out, j)
	}
	return append(out, user...)
}

// ParsePID reads the helper's report from ERRFD: the pid of the process it
// started, or the error it failed with.
func ParsePID(line string) (int, error) {
	line = strings.TrimSpace(line)
	if pid, err := strconv.Atoi(line); err == nil && pid > 0 {
		return pid, nil
	}
	if line == "" {
		return 0, errors.New("nsenter: exited without a word")
	}
	return 0, errors.New(line)
}

// Args is the helper's argument vector (see c/nsenter.c for its format).
// cgroup2FD is -1 when there is no cgroup2 directory to clone into;
// newNS are the CLONE_NEW* flags of namespaces to create for the child.
func Args(errFD, exeFD int, ns []Join, taskFDs []int, cgroup2FD int, newNS uintptr, argv []string) ([]string, error) {
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
		strings.Join(tasks, ","), strconv.Itoa(cgroup2FD), strconv.FormatUint(uint64(newNS), 10), "--"}
	return append(out, argv...), nil
}

// InPlaceArgs is the helper's argument vector for joining a rootless
// session: it joins the user namespace first (the caller has no capability
// outside it), then the others, and execs gtu in place of itself, so the
// caller's pid stays gtu's. Errors go to stderr.
func InPlaceArgs(exeFD int, user Join, others []Join, argv []string) ([]string, error) {
	if user.Flag != unix.CLONE_NEWUSER {
		return nil, fmt.Errorf("nsenter: in-place join needs a user namespace first, got flag %#x", user.Flag)
	}
	args, err := Args(2, exeFD, append([]Join{user}, others...), nil, -1, 0, argv)
	if err != nil {
		return nil, err
	}
	args[6] = "-1" // CLONEFLAGS: no fork
	return args, nil
}
