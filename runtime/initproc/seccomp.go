package initproc

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
)

// loadSeccomp installs the compiled filter on this thread (which execs the
// user's process, so the process inherits it); SECCOMP_FILTER_FLAG_TSYNC in
// the flags extends it to every thread.
func loadSeccomp(s *spec.Seccomp) error {
	if len(s.BPF) == 0 || len(s.BPF)%8 != 0 {
		return fmt.Errorf("linux.seccomp: compiled filter has %d bytes", len(s.BPF))
	}
	prog := unix.SockFprog{
		Len:    uint16(len(s.BPF) / 8),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&s.BPF[0])),
	}
	const setModeFilter = 1 // SECCOMP_SET_MODE_FILTER
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, setModeFilter, uintptr(s.Flags), uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("linux.seccomp: load the filter: %w", e)
	}
	return nil
}
