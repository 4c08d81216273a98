// Package osthread runs a function on an OS thread of its own that is
// thrown away afterwards, for work that changes per-thread kernel state
// (setns, a cgroup entered through a v1 tasks file) just before a clone.
package osthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Disposable runs fn on a locked OS thread that is never unlocked, so the Go
// runtime terminates it when fn returns and no goroutine ever runs in the
// state fn left behind. The main thread is never used: Go cannot terminate
// it and would keep it, with that state, for the life of the process (it
// would, for example, stay in a container's cgroup).
func Disposable(fn func() error) error {
	errc := make(chan error, 1)
	go attempt(fn, errc)
	return <-errc
}

func attempt(fn func() error, errc chan<- error) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// Hold the main thread while another goroutine starts, so that it
		// is scheduled on some other thread, then give the main thread
		// back untouched.
		inner := make(chan error, 1)
		go attempt(fn, inner)
		err := <-inner
		runtime.UnlockOSThread()
		errc <- err
		return
	}
	errc <- fn()
}
