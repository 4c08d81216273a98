package main

import (
	"github.com/gophertainer/gtu/runtime/container"
	"github.com/gophertainer/gtu/runtime/spec"
)

type execCmd struct {
	ConsoleSocket  string   `help:"Unix socket that receives the pty master (with --tty)." placeholder:"PATH"`
	Cwd            string   `help:"Working directory of the process." placeholder:"DIR"`
	Env            []string `short:"e" help:"Set an environment variable (KEY=VALUE); may repeat." placeholder:"KEY=VALUE"`
	Tty            bool     `short:"t" help:"Give the process a terminal."`
	User           string   `short:"u" help:"uid[:gid] to run as." placeholder:"UID[:GID]"`
	AdditionalGids []string `short:"g" help:"Additional group id; may repeat." placeholder:"GID"`
	Process        string   `short:"p" help:"A JSON process (runtime-spec) to run instead of config.json's with the flags." placeholder:"FILE"`
	Detach         bool     `short:"d" help:"Return once the process runs."`
	PidFile        string   `help:"Write the process's pid to this file." placeholder:"FILE"`
	ProcessLabel   string   `help:"SELinux label for the process."`
	Apparmor       string   `help:"AppArmor profile for the process."`
	NoNewPrivs     bool     `help:"Set no_new_privs for the process."`
	Cap            []string `short:"c" help:"Add a capability to every set; may repeat." placeholder:"CAP"`
	PreserveFds    int      `help:"Pass this many extra descriptors (from 3) into the process." placeholder:"N"`
	Cgroup         []string `help:"Run in an existing sub-cgroup: [CONTROLLERS:]PATH; may repeat." placeholder:"[CTRL:]PATH"`
	IgnorePaused   bool     `help:"Exec even if the container is paused."`
	// As in runc, gtu's own flags end at the container id: the rest is the
	// command, flags included (`exec ID ls -l`).
	Args []string `arg:"" name:"id" passthrough:"partial" help:"Container id, then the command and its arguments."`
}

func (x *execCmd) Run(c *CLI) error {
	c.target = x.Args[0]
	g, err := c.glob()
	if err != nil {
		return err
	}
	o := container.ExecOptions{
		ID: x.Args[0], ProcessFile: x.Process, ConsoleSocket: x.ConsoleSocket, PidFile: x.PidFile,
		Detach: x.Detach, PreserveFDs: x.PreserveFds, IgnorePaused: x.IgnorePaused,
		ProcessLabel: x.ProcessLabel, AppArmor: x.Apparmor, Cgroup: x.Cgroup,
		Process: spec.ExecOptions{
			Args: x.Args[1:], Env: x.Env, Cwd: x.Cwd, User: x.User, AdditionalGids: x.AdditionalGids,
			Caps: x.Cap, NoNewPrivs: x.NoNewPrivs,
		},
	}
	if len(o.Process.Args) > 0 && o.Process.Args[0] == "--" {
		o.Process.Args = o.Process.Args[1:]
	}
	if x.Tty {
		tty := true
		o.Process.Tty = &tty
	}
	code, err := container.Exec(g, o)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}
