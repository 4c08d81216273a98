package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/gophertainer/gtu/runtime/container"
)

// enterSessionEarly is the rootless fast path: an unprivileged user's gtu
// that acts on a container re-executes itself inside the user's session
// before kong builds its command-line model or logging is set up, since
// the gtu inside does both again (about a millisecond saved per call).
// Anything it cannot classify is left to main, whose glob() enters the
// session the same way after parsing.
func enterSessionEarly(args []string) {
	if os.Geteuid() == 0 || os.Getenv("_GTU_IN_SESSION") != "" || !needsSession(args) {
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := container.EnterSession(args, log)
	fmt.Fprintf(os.Stderr, "gtu: %v\n", err)
	os.Exit(1)
}

// hostVerbs work from the host without a session (they only read state
// files, or need none).
var hostVerbs = map[string]bool{"spec": true, "list": true, "state": true, "features": true,
	"session": true, "cgroup-delegate": true, "help": true}

// valueFlags are the global flags that take the next argument as value.
var valueFlags = map[string]bool{"--root": true, "--log": true, "--log-format": true}

// needsSession reports whether args name a verb that acts on a container
// (or standalone mode), and ask for no help or version.
func needsSession(args []string) bool {
	verb, standalone := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "--help" || a == "-v" || a == "--version" {
			return false
		}
		if a == "--" {
			break
		}
		if a == "--name" || strings.HasPrefix(a, "--name=") || a == "--rootfs" || strings.HasPrefix(a, "--rootfs=") {
			standalone = true
		}
		if !strings.HasPrefix(a, "-") {
			if verb == "" {
				verb = a
			}
			continue
		}
		if verb == "" && valueFlags[a] {
			i++ // the flag's value
		}
	}
	// Standalone mode names no verb (its flags' values look like one).
	if standalone {
		return true
	}
	return verb != "" && !hostVerbs[verb] && knownVerb(verb)
}

func knownVerb(v string) bool {
	switch v {
	case "create", "start", "run", "kill", "delete", "pause", "resume", "exec", "ps", "update",
		"events", "images", "import", "rmi", "info":
		return true
	}
	return false
}
