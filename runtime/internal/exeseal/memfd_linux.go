package exeseal

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// memfdSeals freeze the copy: no writes, no size change, and no removal of
// these seals. F_SEAL_FUTURE_WRITE is not needed on top of F_SEAL_WRITE.
const memfdSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// openMemfd copies the binary at path into a sealed memfd and returns an
// O_PATH descriptor of it.
func openMemfd(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}

	// Since Linux 6.3 a memfd is executable only if asked (MFD_EXEC), and
	// the vm.memfd_noexec sysctl may refuse it; older kernels reject the flag
	// with EINVAL and make every memfd executable.
	mem, err := newMemfd("gtu-exe")
	if err != nil {
		return nil, err
	}
	defer mem.Close()

	n, err := copyFile(mem, src, st.Size())
	if err != nil {
		return nil, fmt.Errorf("copy %s into memfd: %w", path, err)
	}
	if n != st.Size() {
		return nil, fmt.Errorf("copy %s into memfd: copied %d of %d bytes", path, n, st.Size())
	}
	if err := seal(int(mem.Fd())); err != nil {
		return nil, err
	}
	// Exec refuses (ETXTBSY) a file that is open for writing anywhere, so
	// the writable descriptor gives way to a path-only one.
	return reopenPath(mem, "exeseal-memfd:"+path)
}

// copyFile copies size bytes with sendfile, which moves pages from the page
// cache into the memfd without a trip through user space, and falls back to
// read/write where sendfile refuses the pair before copying anything.
// newMemfd creates an executable, sealable memfd.
func newMemfd(name string) (*os.File, error) {
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 know no MFD_EXEC (memfds are executable).
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "memfd:"+name), nil
}

// Bytes returns an O_PATH descriptor of a sealed, executable in-memory
// copy of image: a program gtu carries inside itself (the nsenter helper)
// and runs without ever writing it to disk, where something could change it.
func Bytes(name string, image []byte) (*os.File, error) {
	mem, err := newMemfd(name)
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	if _, err := mem.Write(image); err != nil {
		return nil, fmt.Errorf("write %s into memfd: %w", name, err)
	}
	if err := seal(int(mem.Fd())); err != nil {
		return nil, err
	}
	return reopenPath(mem, "memfd:"+name)
}

func copyFile(dst, src *os.File, size int64) (int64, error) {
	var done int64
	for done < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), nil, int(min(size-done, 1<<30)))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if done == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
				return io.Copy(dst, src)
			}
			return done, fmt.Errorf("sendfile: %w", err)
		}
		if n == 0 {
			break
		}
		done += int64(n)
	}
	return done, nil
}

// seal makes the memfd immutable. The mode loses its write bits first so
// that even the DAC check refuses writers before the seals do.
func seal(fd int) error {
	if err := unix.Fchmod(fd, 0o555); err != nil {
		return fmt.Errorf("chmod memfd: %w", err)
	}
	// F_SEAL_EXEC (Linux 6.3) freezes the mode bits too; older kernels
	// reject it and lose nothing the other seals protect.
	_, _ = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_EXEC)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, memfdSeals); err != nil {
		return fmt.Errorf("seal memfd: %w", err)
	}
	return nil
}
