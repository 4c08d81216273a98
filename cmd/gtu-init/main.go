// Command gtu-init is gtu's init stage as a program of its own: gtu runs it
// (sealed, see runtime/internal/exeseal) as the first process of every
// container and of every `gtu exec`, and it becomes the container's process
// with its last execve.
//
// It exists for speed. The init stage used to be gtu re-executed, and a Go
// program pays for its whole binary at every start: page faults over its
// text (the kernel maps nearly all of a 7 MB gtu) and the package init of
// every dependency (kong, the cgroup and D-Bus libraries, ...), none of
// which the init stage uses. This binary links only runtime/initproc and
// its leaves (about 2.8 MB); measured, each start is about 0.9 ms shorter,
// and the init stage is on the critical path of every container start.
// gtu no longer carries the init stage at all (0.25 MB less of gtu to map
// on every call), so gtu-init must be installed next to gtu, like
// gtu-seccomp; gtu says so clearly when it is not.
//
// The init stage runs inside the container's cgroup and must not size its
// Go runtime by the container's CPU limit, nor keep checking it.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/gophertainer/gtu/runtime/initproc"
	"github.com/gophertainer/gtu/runtime/protocol"
)

// init dispatches before anything else runs, as cmd/gtu does: capabilities,
// credentials and no_new_privs are per thread, so the main goroutine is
// locked to its thread from the first moment and never lets go.
func init() {
	if len(os.Args) > 1 && os.Args[1] == protocol.InitArg && os.Getenv(protocol.EnvSyncFD) != "" {
		goruntime.LockOSThread()
		initproc.Run()
	}
}

func main() {
	fmt.Fprintln(os.Stderr, "gtu-init: this is gtu's container init stage; gtu runs it, people do not")
	os.Exit(2)
}
