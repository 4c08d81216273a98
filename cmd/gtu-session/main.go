// Command gtu-session is the rootless session of one user: gtu starts it
// (package userns) and joins its namespaces; nobody runs it by hand. It is
// a program of its own so that gtu does not link RootlessKit (see package
// userns/sessiond).
package main

import (
	"fmt"
	"os"

	"github.com/gophertainer/gtu/userns/sessiond"
)

func main() {
	if err := sessiond.Main(); err != nil {
		fmt.Fprintf(os.Stderr, "gtu-session: %v\n", err)
		os.Exit(1)
	}
}
