package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/internal/console"

	"github.com/gophertainer/gtu/runtime/spec"
)

// applySeccomp loads the filter and, for a profile with SCMP_ACT_NOTIFY,
// hands its notify descriptor to the listener, as runtime-spec's
// listenerPath says: one message with the descriptor and a
// ContainerProcessState.
func (s *stage) applySeccomp(sc *spec.Seccomp) error {
	fd, err := loadSeccomp(sc)
	if err != nil || !sc.Listener {
		return err
	}
	notify := os.NewFile(uintptr(fd), "seccomp-notify")
	defer notify.Close()
	if s.seccompSock == nil || sc.State == nil {
		return errors.New("linux.seccomp.listenerPath: no listener connection")
	}
	defer s.seccompSock.Close()
	msg, err := json.Marshal(specs.ContainerProcessState{Version: specs.Version, Fds: []string{specs.SeccompFdName},
		Pid: sc.State.Pid, Metadata: sc.Metadata, State: *sc.State})
	if err != nil {
		return err
	}
	if err := console.SendFdWith(s.seccompSock, notify, msg); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	return nil
}

// loadSeccomp installs the compiled filter on this thread (which execs the
// user's process, so the process inherits it); SECCOMP_FILTER_FLAG_TSYNC in
// the flags extends it to every thread. With
// SECCOMP_FILTER_FLAG_NEW_LISTENER it returns the notify descriptor.
func loadSeccomp(s *spec.Seccomp) (int, error) {
	if len(s.BPF) == 0 || len(s.BPF)%8 != 0 {
		return -1, fmt.Errorf("linux.seccomp: compiled filter has %d bytes", len(s.BPF))
	}
	prog := unix.SockFprog{
		Len:    uint16(len(s.BPF) / 8),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&s.BPF[0])),
	}
	const setModeFilter = 1 // SECCOMP_SET_MODE_FILTER
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, setModeFilter, uintptr(s.Flags), uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return -1, fmt.Errorf("linux.seccomp: load the filter: %w", e)
	}
	return int(r), nil
}
