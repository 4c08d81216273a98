// Command gtu-seccomp compiles an OCI seccomp profile (linux.seccomp of
// config.json, as JSON on stdin) into a classic BPF program (on stdout)
// with libseccomp, through libseccomp-golang.
//
// It is a separate program, not a package of gtu, because libseccomp needs
// cgo: linked into gtu, libc would be mapped and initialised at every one of
// the two or more gtu starts per container (measured here: +0.5 ms and
// +2 MiB RSS each), for work that is needed once per distinct profile. gtu
// runs this only on a cache miss and loads the cached program itself with
// seccomp(2) (runtime/seccomp).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	var p specs.LinuxSeccomp
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&p); err != nil {
		fmt.Fprintf(os.Stderr, "gtu-seccomp: linux.seccomp: %v\n", err)
		os.Exit(1)
	}
	if err := compile(&p, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "gtu-seccomp: %v\n", err)
		os.Exit(1)
	}
}
