package container

import (
	"os"
	"path/filepath"

	"github.com/gophertainer/gtu/runtime/internal/exeseal"
)

// initImageName is the init stage's own program (cmd/gtu-init), installed
// next to gtu like gtu-seccomp.
const initImageName = "gtu-init"

// initImage is the executable gtu runs as the init stage of a container or
// of an exec: gtu-init next to the running gtu, which starts about 0.9 ms
// faster than gtu itself (see cmd/gtu-init), or gtu re-executed when
// gtu-init is not there (gtu carries the same init stage).
func initImage() string {
	exe, err := os.Executable()
	if err != nil {
		return exeseal.SelfExe
	}
	p := filepath.Join(filepath.Dir(exe), initImageName)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return exeseal.SelfExe
	}
	return p
}
