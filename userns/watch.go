package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// watcher waits for a file to be written in a directory, or for a process
// to die first, without polling: inotify for the file, a pidfd for the
// process, one poll(2) on both.
type watcher struct{ fd int }

func watch(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify %s: %w", dir, err)
	}
	return &watcher{fd: fd}, nil
}

func (w *watcher) close() { unix.Close(w.fd) }

// wait returns once path exists (written and closed) or fails when pid
// exits first.
func (w *watcher) wait(pid int, path string) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	buf := make([]byte, 4096)
	for {
		// Checked after every wake-up and before the first wait: the
		// file may have been written before the watch saw it.
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("poll: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			_, _ = unix.Read(w.fd, buf) // drain; the Stat above decides
			continue
		}
		if fds[1].Revents != 0 {
			if _, err := os.Stat(path); err == nil {
				return nil
			}
			return fmt.Errorf("%w (waiting for %s)", errDied, filepath.Base(path))
		}
	}
}

func lookupName(uid int) (string, error) {
	u, err := user.LookupUid(uid)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}
