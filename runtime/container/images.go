package container

import (
	"fmt"
	"os"

	"github.com/gophertainer/gtu/overlay"
)

// Images lists the image store's images (gtu-storage, package overlay).
func Images(g Global) ([]overlay.Image, error) {
	return (overlay.Client{}).Images()
}

// ImportImage imports a rootfs directory, tarball or image archive once per
// content digest, under the given names.
func ImportImage(g Global, path string, names []string) (overlay.Image, error) {
	im, err := (overlay.Client{}).Import(path, names...)
	if err != nil {
		return im, fmt.Errorf("import %s: %w", path, err)
	}
	return im, nil
}

// RemoveImage removes an image by name or id; it fails while a container
// uses it.
func RemoveImage(g Global, ref string) error {
	return (overlay.Client{}).RemoveImage(ref)
}

// Info is what `gtu info` reports: how gtu runs here.
type Info struct {
	Mode    string       `json:"mode"` // root, rootless (a user's gtu, in its session), userns (uid 0 of someone else's user namespace)
	Root    string       `json:"root"` // the state directory
	Session string       `json:"session,omitempty"`
	Storage overlay.Info `json:"storage"`
}

// GetInfo gathers Info; the storage part comes from gtu-storage.
func GetInfo(g Global, m Mode) (Info, error) {
	i := Info{Root: g.Root, Mode: map[Mode]string{ModeRoot: "root", ModeHostUser: "rootless", ModeUserNS: "userns"}[m]}
	if m == ModeUserNS && os.Getenv(envInSession) != "" {
		i.Mode = "rootless" // an unprivileged user's gtu, inside its session
	}
	if s, err := SessionStatus(); err == nil {
		i.Session = s
	}
	st, err := (overlay.Client{}).Info()
	if err != nil {
		return i, err
	}
	i.Storage = st
	return i, nil
}
