// Package sessiond is the rootless session's side of package userns: the
// processes of gtu-session (cmd/gtu-session). It is the only part of gtu
// that links RootlessKit, so gtu itself does not pay for it at every start.
//
//	gtu-session            rootlesskit parent: holds <dir>/lock, api.sock;
//	                       writes the maps with newuidmap/newgidmap
//	 └ gtu-session         rootlesskit child, in the new user and mount
//	   (re-exec'd)         namespaces: mount propagation rslave
//	    └ gtu-session      the pause process: keeps the namespaces alive,
//	      pause            the one gtu joins (child_pid)
//
// A single-mapping session (no subordinate ids, or no newuidmap) is one
// process: Ensure clones it into its namespaces itself.
package sessiond

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/userns"
)

const (
	envPipe          = "_GTU_SESSION_PIPEFD"
	envActivation    = "_GTU_SESSION_ACTIVATION"
	envRunActivation = "_GTU_SESSION_RUN_ACTIVATION"
	pauseArg         = "pause"
)

// Main runs this process's part of the session and returns its error.
func Main() error {
	dir := os.Getenv(userns.EnvStateDir)
	switch {
	case os.Getenv(envPipe) != "":
		return child.Child(child.Opt{
			PipeFDEnvKey:              envPipe,
			RunActivationHelperEnvKey: envRunActivation,
			ChildUseActivationEnvKey:  envActivation,
			StateDirEnvKey:            userns.EnvStateDir,
			TargetCmd:                 []string{"/proc/self/exe", pauseArg},
			// Host mounts (a new disk, an NFS mount) keep appearing in
			// the session; the session's own mounts stay in it.
			Propagation: "rslave",
		})
	case len(os.Args) > 1 && os.Args[1] == pauseArg:
		waitForStop()
		return nil
	case os.Getenv(userns.EnvSingle) != "":
		return single(dir)
	case dir == "":
		return fmt.Errorf("started by hand: gtu starts its session itself (%s is unset)", userns.EnvStateDir)
	default:
		return parent.Parent(parent.Opt{
			PipeFDEnvKey:             envPipe,
			ChildUseActivationEnvKey: envActivation,
			StateDir:                 dir,
			StateDirEnvKey:           userns.EnvStateDir,
			Propagation:              "rslave",
			SubidSource:              parent.SubidSourceAuto,
		})
	}
}

// waitForStop returns on SIGTERM, SIGINT or SIGHUP. RootlessKit's child
// starts the pause with PR_SET_PDEATHSIG, so it never outlives the session.
func waitForStop() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	<-c
}

// single is the whole of a single-mapping session: already in its new
// namespaces, it takes the lock, says where to join, and waits.
func single(dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, userns.FileLock), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	// The same propagation as RootlessKit's child.
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("mount propagation of /: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, userns.FileChildPID), []byte(strconv.Itoa(os.Getpid())), 0o444); err != nil {
		return err
	}
	waitForStop()
	return os.RemoveAll(dir)
}
