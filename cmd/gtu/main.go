// Command gtu is Gophertainer's runc-compatible OCI runtime. This package
// only declares flags and calls one function per verb (STYLE.md rule 1).
//
// gtu is short-lived, so the Go runtime's container-aware GOMAXPROCS is
// switched off: no goroutine should keep re-checking the cgroup
// (updatemaxprocs), and gtu may itself run in a container's cgroup (a hook,
// exec's helper). The containers' init stage is another program,
// cmd/gtu-init, which has the same settings.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	goruntime "runtime"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/gophertainer/gtu/runtime/container"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	enterSessionEarly(os.Args[1:])
	if err := container.ResumeInSession(); err != nil {
		fmt.Fprintf(os.Stderr, "gtu: %v\n", err)
		os.Exit(1)
	}
	var cli CLI
	args := os.Args[1:]
	// Work that does not depend on the parsed flags, or only on a guess
	// at one that is checked later, overlaps with kong's millisecond (see
	// container.PrepareSpec and PrepareStart).
	switch namedVerb(args) {
	case "run", "create":
		container.PrepareSpec(bundleArg(args))
		container.PrepareStart()
	case "exec":
		container.PrepareStart()
	}
	switch {
	case len(args) == 1 && args[0] == "-v":
		args = []string{"--version"} // runc's short form
	case len(args) == 0:
		args = []string{"--help"} // not standalone mode's "missing --name"
	}
	kctx, err := parse(&cli, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gtu: %v\n", err)
		os.Exit(2)
	}
	closeLog, err := cli.setupLogging()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gtu: %v\n", err)
		os.Exit(1)
	}
	err = kctx.Run(&cli)
	code := 0
	var ec exitCode
	if errors.As(err, &ec) {
		code, err = int(ec), nil
	}
	if err != nil {
		msg := fmt.Sprintf("%s: %v", strings.TrimSpace(kctx.Command()+" "+cli.target), err)
		msg = strings.ReplaceAll(msg, " <id>", "")
		// One line on stderr; with --log, or JSON logging, the log has it
		// too, where conmon and containerd's shim look for it.
		if cli.Log != "" || cli.LogFormat == "json" {
			slog.Error(msg)
		}
		if cli.Log != "" || cli.LogFormat != "json" {
			fmt.Fprintf(os.Stderr, "gtu: %s\n", msg)
		}
		code = 1
	}
	closeLog()
	os.Exit(code)
}

// exitCode is a verb's request to exit with a given status and no message
// (run passes the container's status through).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// setupLogging installs the slog handler chosen by --log, --log-format and
// --debug. JSON levels are lower-case, as runc's logrus writes them and as
// conmon and containerd's shim parse them.
func (c *CLI) setupLogging() (func(), error) {
	var out io.Writer = os.Stderr
	closeFn := func() {}
	if c.Log != "" {
		f, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--log %s: %w", c.Log, err)
		}
		out = f
		closeFn = func() { f.Close() }
	}
	level := slog.LevelWarn
	if c.Debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && len(groups) == 0 {
			return slog.String(slog.LevelKey, strings.ToLower(a.Value.String()))
		}
		return a
	}}
	var h slog.Handler
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	logger := slog.New(h)
	slog.SetDefault(logger)
	c.global.Log = logger
	return closeFn, nil
}

// parse parses args into cli. kong builds its model of the command line by
// reflection over every verb's flags, which costs about a millisecond and
// a few hundred KiB of heap on every gtu call, and a container start is one
// (measured with uprobes on kong.New). So the first attempt models only the
// verb that args name: a struct type made at run time (verbModel) with
// CLI's global flags and that one verb's field, tags and all, whose values
// are then copied into cli. (kong.IgnoreFields, used before, still parsed
// the tags of every verb and matched a pattern per field; with the small
// type kong.New allocates 169 KiB instead of 270 in `gtu run`, measured
// with a heap profile, and bench/run.sh had `run` 0.8 ms faster.) Help,
// no recognisable verb, or any error from that attempt, and args are parsed
// again with the whole model, so that users get the same help, messages
// and usage as always: a wrong guess can only fail, never parse otherwise.
func parse(cli *CLI, args []string) (*kong.Context, error) {
	if model, ok := verbModel(args); ok {
		v := reflect.New(model)
		if p, err := kong.New(v.Interface(), kongOptions()...); err == nil {
			if kctx, err := p.Parse(args); err == nil {
				dst := reflect.ValueOf(cli).Elem()
				for i := 0; i < model.NumField(); i++ {
					dst.FieldByName(model.Field(i).Name).Set(v.Elem().Field(i))
				}
				return kctx, nil
			}
		}
	}
	return kong.Must(cli, append(kongOptions(), kong.UsageOnError())...).Parse(args)
}

func kongOptions() []kong.Option {
	return []kong.Option{
		kong.Name("gtu"),
		kong.Description("Gophertainer: a rootless-first, runc-compatible OCI container runtime."),
		kong.Vars{"version": fmt.Sprintf("gtu version %s\nspec: %s\ngo: %s", version, specVersion(), goruntime.Version())},
		kong.Exit(func(code int) { os.Exit(code) }),
	}
}

// verbModel returns a struct type with the exported global flags of CLI
// and the one verb field args name, or false when args ask for help or name
// no verb of CLI. The verb is namedVerb's.
func verbModel(args []string) (reflect.Type, bool) {
	verb := namedVerb(args)
	if verb == "" {
		return nil, false
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" {
			return nil, false
		}
	}
	t := reflect.TypeFor[CLI]()
	var fields []reflect.StructField
	found := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if _, isCmd := f.Tag.Lookup("cmd"); isCmd {
			if kebab(f.Name) != verb {
				continue
			}
			found = true
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
	}
	if !found {
		return nil, false
	}
	return reflect.StructOf(fields), true
}

// bundleArg guesses the value of --bundle/-b in args ("" if absent: the
// default, the current directory). Only a guess: container.PrepareSpec's
// result is used only when the parsed flag agrees.
func bundleArg(args []string) string {
	for i, a := range args {
		switch {
		case a == "--":
			return ""
		case (a == "--bundle" || a == "-b") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--bundle="):
			return strings.TrimPrefix(a, "--bundle=")
		case strings.HasPrefix(a, "-b="):
			return strings.TrimPrefix(a, "-b=")
		}
	}
	return ""
}

// namedVerb is the first argument that is neither a global flag nor the
// value of one (--root DIR: global flags of plain string or int type take
// the next argument as their value); "" if "--" comes first.
func namedVerb(args []string) string {
	t := reflect.TypeFor[CLI]()
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case !strings.HasPrefix(a, "-"):
			return a
		case strings.Contains(a, "="):
		default:
			if f, ok := globalFlag(t, a); ok && (f.Type.Kind() == reflect.String || f.Type.Kind() == reflect.Int) && f.Type.PkgPath() == "" {
				i++
			}
		}
	}
	return ""
}

// globalFlag finds the field of CLI that flag (--name or -s) sets.
func globalFlag(t reflect.Type, flag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, isCmd := f.Tag.Lookup("cmd"); isCmd || !f.IsExported() {
			continue
		}
		if flag == "--"+kebab(f.Name) || (f.Tag.Get("short") != "" && flag == "-"+f.Tag.Get("short")) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// kebab is kong's default name for a field: LogFormat -> log-format.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
