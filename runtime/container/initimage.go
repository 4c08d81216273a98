package container

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gophertainer/gtu/runtime/internal/exeseal"
)

// initImageName is the init stage's own program (cmd/gtu-init), installed
// next to gtu like gtu-seccomp.
const initImageName = "gtu-init"

// initImage is the executable gtu runs as the init stage of a container or
// of an exec: gtu-init, next to the running gtu (see cmd/gtu-init).
func initImage() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoInitStage, err)
	}
	p := filepath.Join(filepath.Dir(exe), initImageName)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w (%s)", ErrNoInitStage, p)
	}
	return p, nil
}

// sealedImage is the init stage's image, sealed by exeseal.OpenPath: file
// is nil when no sealing is needed (then path itself is executed).
type sealedImage struct {
	path string
	file *os.File
	err  error
}

// prepared is what PrepareStart started; nil if it was not called or has
// been taken.
var prepared <-chan sealedImage

// PrepareStart starts the work of a container start that depends neither
// on flags nor on config.json (sealInitImage), for a gtu call about to
// create a container or exec a process. The CLI calls it before it parses
// the command line, which takes about a millisecond: measured with
// timestamps in `gtu run`, the sealing was not yet done when create needed
// it (0.5 ms waited) when it started only once parsing was over.
func PrepareStart() { prepared = sealInitImage() }

// takeSealed returns what PrepareStart started, or starts it now.
func takeSealed() <-chan sealedImage {
	if ch := prepared; ch != nil {
		prepared = nil
		return ch
	}
	return sealInitImage()
}

// sealInitImage seals the init stage's image in a goroutine, so that it
// overlaps with reading and planning config.json, which it does not depend
// on. The goroutine first makes the os package run its one-time check of
// pidfd support (a pidfd_open, a waitid, and a cloned child that exits at
// once: about 0.45 ms measured with perf), which otherwise happens inside
// the first process start, on the critical path. The caller receives from
// the channel exactly once when it starts the process; after a launch that
// fails before that, the O_PATH descriptor is left to the process's exit.
func sealInitImage() <-chan sealedImage {
	ch := make(chan sealedImage, 1)
	go func() {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Release()
		}
		img, err := initImage()
		var f *os.File
		if err == nil {
			if f, err = exeseal.OpenPath(img); err != nil {
				err = fmt.Errorf("seal the init stage's binary: %w", err)
			}
		}
		ch <- sealedImage{path: img, file: f, err: err}
	}()
	return ch
}
