package overlay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"
)

// Config is what an image asks of a container by default (the OCI image
// config's fields of the same names).
type Config struct {
	Env        []string `json:"env"`
	Cmd        []string `json:"cmd"`
	Entrypoint []string `json:"entrypoint"`
	WorkingDir string   `json:"workingDir"`
	User       string   `json:"user"`
}

// Info describes the store gtu-storage opened.
type Info struct {
	Driver     string      `json:"driver"` // overlay, fuse-overlayfs or vfs
	Root       string      `json:"root"`
	RunRoot    string      `json:"runroot"`
	Rootless   bool        `json:"rootless"`
	HostUID    int         `json:"hostUID"` // the host uid the caller's uid 0 is, or its own uid
	Images     int         `json:"images"`
	Containers int         `json:"containers"`
	Status     [][2]string `json:"status,omitempty"` // the driver's own report
}

// Image is an imported image.
type Image struct {
	ID      string    `json:"id"`
	Names   []string  `json:"names"`
	Size    int64     `json:"size,omitempty"`
	Created time.Time `json:"created"`
	Source  string    `json:"source,omitempty"` // rootfs-dir, rootfs-tar, docker-archive, oci-archive
	Reused  bool      `json:"reused,omitempty"` // import found it already there
	Config  *Config   `json:"config,omitempty"`
}

// Mount is a container's root filesystem, mounted.
type Mount struct {
	Container string `json:"container"`
	Rootfs    string `json:"rootfs"` // the merged directory
	Layer     string `json:"layer"`  // the container's writable layer id
	Image     string `json:"image"`
	Config    Config `json:"config"`
}

// ContainerResult answers unmount and remove.
type ContainerResult struct {
	Container string `json:"container"`
	Unmounted bool   `json:"unmounted,omitempty"`
	Removed   bool   `json:"removed,omitempty"`
}

// Client runs gtu-storage. Empty fields mean gtu-storage's defaults.
type Client struct {
	Helper  string // path of gtu-storage
	Root    string
	RunRoot string
	Driver  string // auto, overlay, fuse-overlayfs, vfs
	Debug   bool
}

// DefaultHelper is gtu-storage next to the running executable.
func DefaultHelper() string {
	exe, err := os.Executable()
	if err != nil {
		return "gtu-storage"
	}
	return filepath.Join(filepath.Dir(exe), "gtu-storage")
}

// Info reports the store and its driver.
func (c Client) Info() (Info, error) {
	var i Info
	return i, c.run(&i, "info")
}

// Import imports a rootfs directory, a rootfs tarball or an image archive
// at path, once per content digest.
func (c Client) Import(path string, names ...string) (Image, error) {
	args := []string{"import", path}
	for _, n := range names {
		args = append(args, "--name", n)
	}
	var im Image
	return im, c.run(&im, args...)
}

// Images lists the imported images.
func (c Client) Images() ([]Image, error) {
	var ims []Image
	return ims, c.run(&ims, "images")
}

// RemoveImage deletes an image by name or id; it fails while a container
// uses it.
func (c Client) RemoveImage(ref string) error {
	return c.run(nil, "rmi", ref)
}

// Mount gives container its own writable layer on image (a path to import,
// or a name or id) and mounts it. It is idempotent per container name.
func (c Client) Mount(image, container string) (Mount, error) {
	var m Mount
	return m, c.run(&m, "mount", "--image", image, "--container", container)
}

// Unmount unmounts container's root filesystem, keeping its layer.
func (c Client) Unmount(container string) (ContainerResult, error) {
	var r ContainerResult
	return r, c.run(&r, "unmount", "--container", container)
}

// Remove unmounts container's root filesystem and deletes its layer; a
// container that does not exist is not an error (Removed is false).
func (c Client) Remove(container string) (ContainerResult, error) {
	var r ContainerResult
	return r, c.run(&r, "remove", "--container", container)
}

func (c Client) command(args ...string) *exec.Cmd {
	helper := c.Helper
	if helper == "" {
		helper = DefaultHelper()
	}
	var global []string
	if c.Root != "" {
		global = append(global, "--root", c.Root)
	}
	if c.RunRoot != "" {
		global = append(global, "--runroot", c.RunRoot)
	}
	if c.Driver != "" {
		global = append(global, "--driver", c.Driver)
	}
	if c.Debug {
		global = append(global, "--debug")
	}
	return exec.Command(helper, append(global, args...)...)
}

func (c Client) run(out any, args ...string) error {
	cmd := c.command(args...)
	if _, err := os.Stat(cmd.Path); err != nil {
		return fmt.Errorf("%s: %w (%s)", args[0], ErrNoHelper, cmd.Path)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	// stderr carries the progress bar to the user's terminal; without one,
	// it is kept for the error message.
	cmd.Stderr = &stderr
	if term.IsTerminal(int(os.Stderr.Fd())) {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Run(); err != nil {
		msg := lastLine(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(strings.TrimPrefix(msg, "gtu-storage: "))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("gtu-storage %s: reply %q: %w", args[0], stdout.String(), err)
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
