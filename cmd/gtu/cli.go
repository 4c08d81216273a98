package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gophertainer/gtu/runtime/container"
	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/userns"
)

// CLI is gtu's command line: runc's global flags, then a verb.
type CLI struct {
	Root          string       `help:"Directory for container state (default /run/gtu as root, $XDG_RUNTIME_DIR/gtu rootless)." env:"GOPHERTAINER_ROOT" placeholder:"DIR"`
	Log           string       `help:"Write logs to this file instead of stderr." placeholder:"FILE"`
	LogFormat     string       `help:"Log format: text or json." enum:"text,json" default:"text"`
	Debug         bool         `help:"Log debug messages." env:"DEBUG"`
	SystemdCgroup bool         `help:"Use systemd to manage cgroups (cgroupsPath is slice:prefix:name)."`
	Rootless      rootlessMode `help:"Rootless mode: --rootless[=true|false|auto] (bare --rootless means true; also spec's flag)." default:"auto"`
	// runc's -v is the version; standalone mode's -v is a volume, so -v
	// alone is rewritten to --version in main.
	Version kong.VersionFlag `help:"Print the version (also -v)."`

	Spec     specCmd     `cmd:"" help:"Write a new config.json into the bundle."`
	Create   createCmd   `cmd:"" help:"Create a container; its process waits for start."`
	Start    startCmd    `cmd:"" help:"Start the process of a created container."`
	Run      runCmd      `cmd:"" help:"Create and start a container."`
	State    stateCmd    `cmd:"" help:"Print the OCI state of a container."`
	List     listCmd     `cmd:"" help:"List containers."`
	Kill     killCmd     `cmd:"" help:"Send a signal to a container's init (or all its processes)."`
	Delete   deleteCmd   `cmd:"" help:"Delete a container and everything it holds."`
	Pause    pauseCmd    `cmd:"" help:"Freeze all processes of a container."`
	Resume   resumeCmd   `cmd:"" help:"Thaw a paused container."`
	Exec     execCmd     `cmd:"" help:"Run a new process inside a running container."`
	Ps       psCmd       `cmd:"" help:"List the processes of a container (runs the host's ps)."`
	Update   updateCmd   `cmd:"" help:"Change the cgroup limits of a container."`
	Events   eventsCmd   `cmd:"" help:"Print a container's stats and OOM events as JSON."`
	Features featuresCmd `cmd:"" help:"Print what gtu supports, as runtime-spec's features.md defines."`
	Session  sessionCmd  `cmd:"" help:"Show or stop your rootless session (the user namespace rootless containers run in)."`

	Standalone standaloneCmd `cmd:"" default:"withargs" hidden:"" help:"Standalone mode: gtu --name NAME --rootfs PATH --cmd \"...\" runs a container from a rootfs directory, tarball or image archive."`

	Images images    `cmd:"" help:"List the images in gtu's store (standalone mode imports into it)."`
	Import importCmd `cmd:"" help:"Import a rootfs directory, tarball (.tar, .tar.gz, .tar.xz, .tar.zst), docker save or OCI archive into the store."`
	Rmi    rmiCmd    `cmd:"" help:"Remove an image from the store (not while a container uses it)."`
	Info   infoCmd   `cmd:"" help:"Print how gtu runs here: mode, state directory, session, storage driver (JSON)."`

	CgroupDelegate cgroupDelegateCmd `cmd:"" name:"cgroup-delegate" help:"As root: give a user cgroups of its own, for limits on its rootless containers (cgroup v1 and hybrid hosts)."`

	global container.Global
	target string // the container a verb works on, for error messages
}

// glob returns the options shared by every verb. As an unprivileged user it
// first re-executes gtu inside the user's rootless session (and returns
// only on failure): every verb that acts on a container runs there.
func (c *CLI) glob() (container.Global, error) {
	g, mode, err := c.globHost()
	if err != nil || mode != container.ModeHostUser {
		return g, err
	}
	return g, container.EnterSession(os.Args[1:], g.Log)
}

// globHost is glob for verbs that only read state files (state, list): they
// work from the host and never start a session.
func (c *CLI) globHost() (container.Global, container.Mode, error) {
	mode, maps, err := container.Detect()
	if err != nil {
		return container.Global{}, 0, err
	}
	g := c.global
	g.Root = c.Root
	if g.Root == "" {
		if g.Root, err = container.DefaultRoot(mode); err != nil {
			return g, mode, err
		}
	}
	g.SystemdCgroup = c.SystemdCgroup
	g.Rootless = mode != container.ModeRoot
	g.Maps = maps
	return g, mode, nil
}

type specCmd struct {
	Bundle string `short:"b" help:"Bundle directory." default:"." placeholder:"DIR"`
}

func (s *specCmd) Run(c *CLI) error {
	path := filepath.Join(s.Bundle, "config.json")
	cfg := spec.Default(false)
	if c.Rootless == "true" {
		uids, gids, warnings := userns.ForCaller()
		for _, w := range warnings {
			slog.Warn(w)
		}
		cfg = spec.DefaultRootless(uids, gids)
	}
	b, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; remove it first", path)
		}
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

type createFlags struct {
	Bundle        string `short:"b" help:"Bundle directory (holds config.json)." default:"." placeholder:"DIR"`
	ConsoleSocket string `help:"Unix socket that receives the pty master (process.terminal)." placeholder:"PATH"`
	PidFile       string `help:"Write the init's pid to this file." placeholder:"FILE"`
	NoPivot       bool   `help:"Use MS_MOVE and chroot instead of pivot_root (for ramfs roots)."`
	NoNewKeyring  bool   `help:"Keep the caller's session keyring."`
	PreserveFds   int    `help:"Pass this many extra descriptors (from 3) into the container." placeholder:"N"`
	// gtu's own: a user-mode network for a container with its own network
	// namespace (annotations org.gophertainer.* in config.json do the same).
	Network           string   `help:"User-mode network for the container's network namespace: auto, slirp4netns, pasta or none (default: none, loopback only, as in runc)." placeholder:"DRIVER"`
	Publish           []string `short:"p" help:"Forward a host port into the container: [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp] (implies --network auto)." placeholder:"PORTS"`
	AllowHostLoopback bool     `help:"Let the container reach the host's 127.0.0.1 through its gateway address."`
}

func (f *createFlags) options(id string) container.CreateOptions {
	return container.CreateOptions{ID: id, Bundle: f.Bundle, ConsoleSocket: f.ConsoleSocket,
		PidFile: f.PidFile, NoPivot: f.NoPivot, NoNewKeyring: f.NoNewKeyring, PreserveFDs: f.PreserveFds,
		Network: container.NetworkOptions{Driver: f.Network, Publish: f.Publish, AllowHostLoopback: f.AllowHostLoopback}}
}

type createCmd struct {
	createFlags
	ID string `arg:"" help:"Container id."`
}

func (x *createCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Create(g, x.options(x.ID))
}

type runCmd struct {
	createFlags
	Detach      bool   `short:"d" help:"Return once the container runs."`
	Keep        bool   `help:"Keep the container's state after it exits."`
	NoSubreaper bool   `hidden:"" help:"Accepted for runc compatibility; gtu never becomes a subreaper."`
	ID          string `arg:"" help:"Container id."`
}

func (x *runCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	code, err := container.Run(g, container.RunOptions{CreateOptions: x.options(x.ID), Detach: x.Detach, Keep: x.Keep})
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

type idArg struct {
	ID string `arg:"" help:"Container id."`
}

type startCmd struct{ idArg }

func (x *startCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Start(g, x.ID)
}

type stateCmd struct{ idArg }

func (x *stateCmd) Run(c *CLI) error {
	c.target = x.ID
	g, _, err := c.globHost()
	if err != nil {
		return err
	}
	return container.State(g, x.ID, os.Stdout)
}

type listCmd struct {
	Format string `short:"f" help:"table or json." enum:"table,json" default:"table"`
	Quiet  bool   `short:"q" help:"Print only the ids."`
}

func (x *listCmd) Run(c *CLI) error {
	g, _, err := c.globHost()
	if err != nil {
		return err
	}
	return container.List(g, x.Format, x.Quiet, os.Stdout)
}

type killCmd struct {
	All    bool   `short:"a" help:"Signal every process of the container."`
	ID     string `arg:"" help:"Container id."`
	Signal string `arg:"" optional:"" default:"TERM" help:"Signal name or number (default TERM)."`
}

func (x *killCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	sig, err := container.ParseSignal(x.Signal)
	if err != nil {
		return err
	}
	return container.Kill(g, x.ID, sig, x.All)
}

type deleteCmd struct {
	Force bool `short:"f" help:"Kill a running container first."`
	idArg
}

func (x *deleteCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Delete(g, x.ID, x.Force)
}

type pauseCmd struct{ idArg }

func (x *pauseCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Pause(g, x.ID)
}

type resumeCmd struct{ idArg }

func (x *resumeCmd) Run(c *CLI) error {
	c.target = x.ID
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.Resume(g, x.ID)
}

type featuresCmd struct{}

func (featuresCmd) Run(c *CLI) error {
	b, err := json.MarshalIndent(spec.Features(), "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", b)
	return err
}

func specVersion() string { return specs.Version }

// rootlessMode is the global --rootless flag. runc has it twice: a global
// string flag and `spec --rootless`, a bool. kong cannot declare one name at
// two levels, so this one flag serves both: bare it means "true", with
// "=VALUE" it takes true, false or auto.
type rootlessMode string

func (r *rootlessMode) Decode(ctx *kong.DecodeContext) error {
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		*r = "true"
		return nil
	}
	var v string
	if err := ctx.Scan.PopValueInto("rootless", &v); err != nil {
		return err
	}
	switch v {
	case "true", "false", "auto":
		*r = rootlessMode(v)
		return nil
	}
	return fmt.Errorf("--rootless=%s: want true, false or auto", v)
}

// IsBool lets the flag stand alone.
func (rootlessMode) IsBool() bool { return true }

type sessionCmd struct {
	Status sessionStatusCmd `cmd:"" default:"1" help:"Say whether your session runs."`
	Stop   sessionStopCmd   `cmd:"" help:"End your session (running containers keep its namespaces until they exit)."`
}

type sessionStatusCmd struct{}

func (sessionStatusCmd) Run() error {
	s, err := container.SessionStatus()
	if err != nil {
		return err
	}
	fmt.Println(s)
	return nil
}

type sessionStopCmd struct {
	Force bool `help:"Stop it even while containers run in it."`
}

func (x *sessionStopCmd) Run(c *CLI) error {
	g, _, err := c.globHost()
	if err != nil {
		return err
	}
	return container.StopSession(g, x.Force)
}

type cgroupDelegateCmd struct {
	User   string `required:"" help:"The user (name or uid) to delegate to." placeholder:"USER"`
	Remove bool   `help:"Take the delegation back (only empty cgroups are removed)."`
}

func (x *cgroupDelegateCmd) Run() error {
	dirs, err := container.DelegateCgroups(x.User, x.Remove)
	for _, d := range dirs {
		fmt.Println(d)
	}
	return err
}

type standaloneCmd struct {
	Name              string   `required:"" help:"The container's name (its id)." placeholder:"NAME"`
	Rootfs            string   `required:"" help:"A rootfs directory, tarball (.tar, .tar.gz, .tar.xz, .tar.zst), docker save or OCI archive." placeholder:"PATH"`
	Cmd               string   `help:"The command, split like a shell splits words (default: the image's)." placeholder:"CMD"`
	Interactive       bool     `short:"i" help:"Keep stdin attached."`
	Tty               bool     `short:"t" help:"Give the container a terminal."`
	Detach            bool     `help:"Return once the container runs; its output goes to a log in its bundle."`
	Mem               int64    `help:"Memory limit in MiB." placeholder:"MB"`
	CPU               float64  `name:"cpu" help:"CPU limit in CPUs (e.g. 0.5)." placeholder:"N"`
	Pids              int64    `help:"Maximum number of processes." placeholder:"N"`
	NoNewPrivs        bool     `help:"Set no_new_privs."`
	Seccomp           string   `help:"A seccomp profile (JSON, linux.seccomp); default: Docker's." placeholder:"FILE"`
	Env               []string `short:"e" help:"Set an environment variable." placeholder:"KEY=VAL"`
	Publish           []string `short:"p" help:"Forward a host port: [HOSTIP:]HOSTPORT:CONTAINERPORT[/udp]." placeholder:"PORTS"`
	Volume            []string `short:"v" help:"Bind-mount a host path: SRC:DST[:ro]." placeholder:"SRC:DST"`
	Network           string   `help:"User-mode network driver: auto, slirp4netns, pasta (default: none unless ports are published)." placeholder:"DRIVER"`
	AllowHostLoopback bool     `help:"Let the container reach the host's 127.0.0.1 through its gateway."`
	StorageDriver     string   `help:"Storage driver: auto, overlay, fuse-overlayfs, vfs." default:"auto" placeholder:"DRIVER"`
}

func (x *standaloneCmd) Run(c *CLI) error {
	c.target = x.Name
	g, err := c.glob()
	if err != nil {
		return err
	}
	code, err := container.Standalone(g, container.StandaloneOptions{
		Name: x.Name, Rootfs: x.Rootfs, Cmd: x.Cmd, Interactive: x.Interactive, TTY: x.Tty, Detach: x.Detach,
		MemMB: x.Mem, CPU: x.CPU, Pids: x.Pids, NoNewPrivs: x.NoNewPrivs, Seccomp: x.Seccomp,
		Env: x.Env, Volumes: x.Volume, StorageDriver: x.StorageDriver,
		Network: container.NetworkOptions{Driver: x.Network, Publish: x.Publish, AllowHostLoopback: x.AllowHostLoopback},
	})
	if err == nil && code != 0 {
		return exitCode(code)
	}
	return err
}

type images struct {
	Format string `short:"f" help:"Output format: table or json." enum:"table,json" default:"table"`
}

func (x *images) Run(c *CLI) error {
	g, err := c.glob()
	if err != nil {
		return err
	}
	ims, err := container.Images(g)
	if err != nil {
		return err
	}
	if x.Format == "json" {
		return printJSON(ims)
	}
	w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
	fmt.Fprint(w, "ID\tNAMES\tSOURCE\tSIZE\tCREATED\n")
	for _, im := range ims {
		fmt.Fprintf(w, "%.12s\t%s\t%s\t%d\t%s\n", im.ID, strings.Join(im.Names, ","), im.Source, im.Size, im.Created.Format(time.RFC3339))
	}
	return w.Flush()
}

type importCmd struct {
	Name []string `help:"Name the image (repeatable)." placeholder:"NAME"`
	Path string   `arg:"" help:"The rootfs directory, tarball or archive." placeholder:"PATH"`
}

func (x *importCmd) Run(c *CLI) error {
	g, err := c.glob()
	if err != nil {
		return err
	}
	im, err := container.ImportImage(g, x.Path, x.Name)
	if err != nil {
		return err
	}
	fmt.Println(im.ID)
	return nil
}

type rmiCmd struct {
	Ref string `arg:"" help:"Image name or id." placeholder:"IMAGE"`
}

func (x *rmiCmd) Run(c *CLI) error {
	g, err := c.glob()
	if err != nil {
		return err
	}
	return container.RemoveImage(g, x.Ref)
}

type infoCmd struct{}

func (infoCmd) Run(c *CLI) error {
	g, err := c.glob() // rootless: gtu-storage must run in the session
	if err != nil {
		return err
	}
	mode, _, err := container.Detect()
	if err != nil {
		return err
	}
	i, err := container.GetInfo(g, mode)
	if err != nil {
		return err
	}
	return printJSON(i)
}

func printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}
