package container

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/runtime/internal/exeseal"
	"github.com/gophertainer/gtu/runtime/spec"
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

// preloaded is the config.json PrepareSpec started to read, and from which
// bundle (an absolute path).
var preloaded struct {
	bundle string
	ch     chan loadedSpec
}

type loadedSpec struct {
	s   *specs.Spec
	err error
}

// PrepareSpec starts reading and decoding config.json of bundle (as the
// CLI will pass it, "" for the current directory) in a goroutine, for a
// `gtu run` or `gtu create` whose command line the CLI has not parsed yet.
// The CLI guesses bundle from the arguments; launch uses the result only
// if the parsed --bundle names the same directory, and reads it again
// otherwise. Decoding config.json is about a millisecond of cold
// encoding/json, and so is parsing the command line: this way they
// overlap.
func PrepareSpec(bundle string) {
	abs, err := filepath.Abs(orDot(bundle))
	if err != nil {
		return
	}
	ch := make(chan loadedSpec, 1)
	preloaded.bundle, preloaded.ch = abs, ch
	go func() {
		s, err := spec.Load(abs)
		ch <- loadedSpec{s, err}
	}()
}

// loadSpec is spec.Load(bundle), or what PrepareSpec read from the same
// bundle.
func loadSpec(bundle string) (*specs.Spec, error) {
	if ch := preloaded.ch; ch != nil && preloaded.bundle == bundle {
		preloaded.ch = nil
		r := <-ch
		return r.s, r.err
	}
	return spec.Load(bundle)
}

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
