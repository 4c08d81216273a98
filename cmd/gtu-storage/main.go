// Command gtu-storage keeps gtu's images and container layers in a
// go.podman.io/storage store: it imports root filesystems and image
// archives, and mounts each container's writable layer. It answers each
// verb with one JSON value on stdout; the protocol, the store's place and
// the drivers are described in package overlay, its client.
//
// It is a program of its own, not a package of gtu, because storage's
// package initialisation alone costs about 7 ms and several MiB at every
// process start (MACHINE.md); gtu runs it only when it needs storage.
package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/alecthomas/kong"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/reexec"

	"github.com/gophertainer/gtu/overlay"
)

type cli struct {
	Root    string `help:"Store directory (default: by user, see package overlay)." placeholder:"DIR"`
	RunRoot string `name:"runroot" help:"Directory for the store's run-time state." placeholder:"DIR"`
	Driver  string `help:"Storage driver." enum:"auto,overlay,fuse-overlayfs,vfs" default:"auto"`
	Debug   bool   `help:"Log the store's debug messages on stderr."`

	Info    struct{}  `cmd:"" help:"Report the store and the driver in use."`
	Import  importCmd `cmd:"" help:"Import a rootfs directory or tarball, a docker-save or an OCI archive."`
	Images  struct{}  `cmd:"" help:"List the images."`
	Rmi     rmiCmd    `cmd:"" help:"Remove an image no container uses."`
	Mount   mountCmd  `cmd:"" help:"Create (once) and mount a container's writable layer."`
	Unmount ctrCmd    `cmd:"" help:"Unmount a container's root filesystem."`
	Remove  ctrCmd    `cmd:"" help:"Unmount and delete a container's layer."`
}

type importCmd struct {
	Path string   `arg:"" help:"Directory, tarball (.tar, .tar.gz, .tar.xz, .tar.zst) or image archive."`
	Name []string `help:"Name to give the image (repeatable)."`
}

type rmiCmd struct {
	Image string `arg:"" help:"Image name or id."`
}

type mountCmd struct {
	Image     string `required:"" help:"Path to import, or image name or id."`
	Container string `required:"" help:"Container name."`
}

type ctrCmd struct {
	Container string `required:"" help:"Container name."`
}

// app is one run of gtu-storage on an open store.
type app struct {
	store storage.Store
	root  string
	who   identity
	log   *slog.Logger
}

func main() {
	// storage unpacks layers in a re-executed, chrooted copy of this
	// program; that copy stops here.
	if reexec.Init() {
		return
	}
	var c cli
	ctx := kong.Parse(&c, kong.Name("gtu-storage"), kong.Description("gtu's image and container layer store."))
	out, err := run(&c, ctx.Command())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gtu-storage: %v\n", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "gtu-storage: write reply: %v\n", err)
		os.Exit(1)
	}
}

func run(c *cli, command string) (any, error) {
	level := slog.LevelWarn
	logrus.SetLevel(logrus.WarnLevel)
	if c.Debug {
		level = slog.LevelDebug
		logrus.SetLevel(logrus.DebugLevel)
	}
	logrus.SetOutput(os.Stderr)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	who, err := whoami("/proc/self/uid_map", os.Geteuid())
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("uid %d: gtu-storage runs as root, or as uid 0 of a user namespace with the user's subordinate ids mapped (gtu's, or rootlesskit's)", os.Geteuid())
	}
	root, runRoot, err := locate(who, os.Getenv)
	if err != nil {
		return nil, err
	}
	if c.Root != "" {
		root = c.Root
	}
	if c.RunRoot != "" {
		runRoot = c.RunRoot
	}
	driver, err := chooseDriver(c.Driver, root, runRoot)
	if err != nil {
		return nil, err
	}
	s, err := openStore(root, runRoot, driver)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Not forced: layers mounted for containers stay mounted.
		if _, err := s.Shutdown(false); err != nil {
			log.Debug("store shutdown", "err", err)
		}
	}()
	a := &app{store: s, root: root, who: who, log: log}
	switch command {
	case "info":
		return a.info(driver)
	case "import <path>":
		return a.importPath(c.Import.Path, c.Import.Name)
	case "images":
		return a.images()
	case "rmi <image>":
		return a.rmi(c.Rmi.Image)
	case "mount":
		return a.mount(c.Mount.Image, c.Mount.Container)
	case "unmount":
		return a.unmount(c.Unmount.Container)
	case "remove":
		return a.remove(c.Remove.Container)
	}
	return nil, fmt.Errorf("unknown command %q", command)
}

func (a *app) info(driver string) (overlay.Info, error) {
	status, _ := a.store.Status()
	ims, err := a.store.Images()
	if err != nil {
		return overlay.Info{}, err
	}
	cs, err := a.store.Containers()
	if err != nil {
		return overlay.Info{}, err
	}
	return overlay.Info{
		Driver: driver, Root: a.root, RunRoot: a.store.RunRoot(),
		Rootless: a.who.rootless, HostUID: a.who.hostUID,
		Images: len(ims), Containers: len(cs), Status: status,
	}, nil
}
