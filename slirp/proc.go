package slirp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/internal/procfs"
)

// namespaces holds the target's namespaces open for the helper, which gets
// them as inherited descriptors.
type namespaces struct {
	net  *os.File
	user *os.File // nil when the target shares the caller's user namespace
}

func (n *namespaces) close() {
	n.net.Close()
	if n.user != nil {
		n.user.Close()
	}
}

// openNamespaces opens the network namespace of pid, and its user namespace
// when that is not the caller's (joining one's own user namespace is
// EINVAL). The pid's start time is checked around the opens, so both belong
// to the same process even if the pid is recycled meanwhile.
func openNamespaces(pid int) (*namespaces, error) {
	start, _, err := procStat(pid)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("target pid %d: no such process", pid)
		}
		return nil, fmt.Errorf("target pid %d: %w", pid, err)
	}
	dir := fmt.Sprintf("/proc/%d/ns/", pid)
	ns := &namespaces{}
	if ns.net, err = os.Open(dir + "net"); err != nil {
		return nil, fmt.Errorf("target pid %d: open network namespace: %w", pid, err)
	}
	var self, target unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &self); err != nil {
		ns.close()
		return nil, fmt.Errorf("stat own user namespace: %w", err)
	}
	if err := unix.Stat(dir+"user", &target); err != nil {
		ns.close()
		return nil, fmt.Errorf("target pid %d: stat user namespace: %w", pid, err)
	}
	if self.Dev != target.Dev || self.Ino != target.Ino {
		if ns.user, err = os.Open(dir + "user"); err != nil {
			ns.close()
			return nil, fmt.Errorf("target pid %d: open user namespace: %w", pid, err)
		}
	}
	if again, _, err := procStat(pid); err != nil || again != start {
		ns.close()
		return nil, fmt.Errorf("target pid %d: exited while its namespaces were opened", pid)
	}
	return ns, nil
}

// procStat returns fields 22 (starttime) and 3 (state) of /proc/PID/stat.
func procStat(pid int) (start uint64, state byte, err error) {
	p := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, 0, err
	}
	return parseStat(p, b)
}

// parseStat: see procfs.ParseStat.
func parseStat(p string, b []byte) (start uint64, state byte, err error) {
	state, start, err = procfs.ParseStat(p, b)
	return start, state, err
}

// defaultRoute reads the IPv4 default route of pid's network namespace.
func defaultRoute(pid int) (string, netip.Addr, error) {
	p := fmt.Sprintf("/proc/%d/net/route", pid)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("read default route: %w", err)
	}
	iface, gw, ok := parseDefaultRoute(b)
	if !ok {
		return "", netip.Addr{}, fmt.Errorf("%s: no default route after the driver reported ready", p)
	}
	return iface, gw, nil
}

// parseDefaultRoute finds the IPv4 default route in /proc/net/route, whose
// addresses are hex in host (little-endian here) byte order.
func parseDefaultRoute(b []byte) (iface string, gw netip.Addr, ok bool) {
	const rtfGateway = 0x2
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		g, err1 := strconv.ParseUint(f[2], 16, 32)
		flags, err2 := strconv.ParseUint(f[3], 16, 32)
		if err1 != nil || err2 != nil || flags&rtfGateway == 0 {
			continue
		}
		var a [4]byte
		binary.LittleEndian.PutUint32(a[:], uint32(g))
		return f[0], netip.AddrFrom4(a), true
	}
	return "", netip.Addr{}, false
}

// stopGrace is how long Stop waits after SIGTERM before SIGKILL, and after
// SIGKILL before giving up.
const stopGrace = 2 * time.Second

// Stop ends the helper and removes its socket and pid file. It is
// idempotent: a helper that is gone, or whose pid now names another process
// (a different start time), is not an error and is not signalled.
func (h *Handle) Stop() error {
	if h == nil || h.Pid <= 0 {
		return nil
	}
	err := h.kill()
	for _, p := range []string{h.APISocket, h.PidFile} {
		if p != "" {
			if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
				err = fmt.Errorf("%s: %w", h.Driver, rerr)
			}
		}
	}
	return err
}

func (h *Handle) kill() error {
	// A pidfd pins the process: once the start time is checked through it,
	// the signal cannot reach a later process that reused the pid.
	pidfd, err := unix.PidfdOpen(h.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: pid %d: pidfd_open: %w", h.Driver, h.Pid, err)
	}
	defer unix.Close(pidfd)
	start, state, err := procStat(h.Pid)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && (start != h.PidStart || state == 'Z' || state == 'X')) {
		return nil // gone, recycled, or dead and waiting to be reaped
	}
	if err != nil {
		return fmt.Errorf("%s: pid %d: %w", h.Driver, h.Pid, err)
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
		if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			return fmt.Errorf("%s: pid %d: send %v: %w", h.Driver, h.Pid, sig, err)
		}
		if exited, err := waitPidfd(pidfd, stopGrace); err != nil {
			return fmt.Errorf("%s: pid %d: wait for exit: %w", h.Driver, h.Pid, err)
		} else if exited {
			return nil
		}
	}
	return fmt.Errorf("%s: pid %d: still running %v after SIGKILL", h.Driver, h.Pid, stopGrace)
}

// waitPidfd waits until the process exits (a pidfd polls readable then,
// whether or not it has been reaped yet).
func waitPidfd(pidfd int, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		return n > 0, nil
	}
}
