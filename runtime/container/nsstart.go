package container

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/cgroupdelegate"
	"github.com/gophertainer/gtu/runtime/internal/nsenter"
	"github.com/gophertainer/gtu/runtime/spec"
)

// needsHelper reports whether the init stage must be started through the
// nsenter helper: it joins a user, mount or time namespace by path, which a
// multi-threaded Go process cannot.
func needsHelper(join []spec.JoinNS) bool {
	for _, ns := range join {
		switch ns.Flag {
		case unix.CLONE_NEWUSER, unix.CLONE_NEWNS, unix.CLONE_NEWTIME:
			return true
		}
	}
	return false
}

// startViaHelper starts cmd (the prepared init stage: its Path is the
// sealed gtu image, passed last in ExtraFiles by exeseal.Apply) through the
// nsenter helper, which joins the namespaces, enters the cgroup and creates
// the namespaces of cmd's Cloneflags for it. The init becomes our own child
// (CLONE_PARENT), and cmd.Process is set to it.
func startViaHelper(cmd *exec.Cmd, join []spec.JoinNS, cg *cgroupdelegate.Cgroup, log *slog.Logger) error {
	if len(cmd.SysProcAttr.UidMappings) > 0 || cmd.SysProcAttr.Cloneflags&unix.CLONE_NEWUSER != 0 {
		return fmt.Errorf("%w: linux.namespaces: joining a user, mount or time namespace by path together with a new user namespace", ErrUnsupported)
	}
	files := append([]*os.File(nil), cmd.ExtraFiles...)
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	add := func(f *os.File) int {
		files = append(files, f)
		opened = append(opened, f)
		return 2 + len(files)
	}
	exeFD := 2 + len(files) // exeseal.Apply put the image last
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer errR.Close()
	errFD := add(errW)
	var joins []nsenter.Join
	for _, ns := range join {
		f, err := os.Open(ns.Path)
		if err != nil {
			return fmt.Errorf("linux.namespaces: %s namespace %s: %w", ns.Type, ns.Path, err)
		}
		joins = append(joins, nsenter.Join{Flag: ns.Flag, FD: add(f)})
	}
	tasks, cg2 := cgroupFiles(cg.Paths(), log)
	var taskFDs []int
	for _, f := range tasks {
		taskFDs = append(taskFDs, add(f))
	}
	cg2FD := -1
	if cg2 != nil {
		cg2FD = add(cg2)
	}
	helper, err := nsenter.Open()
	if err != nil {
		return err
	}
	helperFD := add(helper)
	args, err := nsenter.Args(errFD, exeFD, nsenter.Order(joins), taskFDs, cg2FD, cmd.SysProcAttr.Cloneflags, cmd.Args)
	if err != nil {
		return err
	}
	h := &exec.Cmd{Path: "/proc/self/fd/" + strconv.Itoa(helperFD), Args: args, Env: cmd.Env,
		Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr, ExtraFiles: files}
	runErr := h.Run()
	errW.Close()
	line, _ := bufio.NewReader(errR).ReadString('\n')
	pid, perr := nsenter.ParsePID(line)
	if runErr != nil || perr != nil {
		return fmt.Errorf("start the init stage: %w", errors.Join(perr, runErr))
	}
	cmd.Process, err = os.FindProcess(pid)
	return err
}

// cgroupFiles opens what the nsenter helper needs to put a process into a
// cgroup: the v1 "tasks" files (written by its single thread: no global
// lock) and the cgroup2 directory (for clone3's CLONE_INTO_CGROUP). A
// directory that cannot be opened is skipped with a warning: the process
// then stays in the caller's cgroup there.
func cgroupFiles(paths map[string]string, log *slog.Logger) (tasks []*os.File, cg2 *os.File) {
	for key, dir := range paths {
		if key == "" {
			f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				log.Warn("the process does not join this cgroup", "dir", dir, "err", err)
				continue
			}
			cg2 = f
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, "tasks"), os.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			log.Warn("the process does not join this cgroup", "dir", dir, "err", err)
			continue
		}
		tasks = append(tasks, f)
	}
	return tasks, cg2
}
