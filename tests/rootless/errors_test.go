package rootless

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capSysResource is CAP_SYS_RESOURCE's bit: the CI machine's root lacks it
// (not in the bounding set; MACHINE.md).
const capSysResource = 24

// TestInvalidConfig feeds broken bundles to create and run: each must fail
// with a non-zero status, say which field or path is wrong, and leave
// nothing behind (no state, no cgroup, no mount, no process).
func TestInvalidConfig(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	cases := []struct {
		name string
		// edit changes the config before it is written; file, if set,
		// then mangles the written config.json.
		edit func(s *specs.Spec)
		file func(path string) error
		// mention is what the error must name: a regular expression,
		// matched case-insensitively, so that either the value or the
		// config.json field path may be named.
		mention string
		// runcSucceeds: runc 1.1.5 accepts this config (gtu must not).
		runcSucceeds string
		// runcVague: runc fails but does not name the field.
		runcVague string
		// createOnly: the case only applies to create.
		createOnly bool
		// needsNoSysResource: the failure exists only where root lacks
		// CAP_SYS_RESOURCE.
		needsNoSysResource bool
	}{
		{
			name:    "missing config.json",
			file:    os.Remove,
			mention: `config\.json`,
		},
		{
			name:      "bad JSON",
			file:      func(p string) error { return os.WriteFile(p, []byte(`{"ociVersion": "1.0.2", bad`), 0o644) },
			mention:   `config\.json`,
			runcVague: `runc prints only the JSON decoder's message ("invalid character 'b' ...")`,
		},
		{
			name: "unknown namespace type",
			edit: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogusns"})
			},
			mention: "bogusns",
		},
		{
			name: "relative mount destination",
			edit: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "relative/dir", Type: "tmpfs", Source: "tmpfs"})
			},
			mention:      `relative/dir|mounts\[\d+\]\.destination`,
			runcSucceeds: "runc 1.1.5 only warns that the destination is not absolute",
		},
		{
			name: "capability the host cannot grant",
			edit: func(s *specs.Spec) {
				c := s.Process.Capabilities
				c.Bounding = append(c.Bounding, "CAP_SYS_RESOURCE")
				c.Effective = append(c.Effective, "CAP_SYS_RESOURCE")
				c.Permitted = append(c.Permitted, "CAP_SYS_RESOURCE")
			},
			mention:            "CAP_SYS_RESOURCE",
			runcVague:          `runc says "unable to apply caps: operation not permitted"`,
			needsNoSysResource: true,
		},
		{
			name: "rlimit above the hard limit",
			edit: func(s *specs.Spec) {
				var cur unix.Rlimit
				_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: cur.Max + 1000, Hard: cur.Max + 1000}}
			},
			mention:            "RLIMIT_NOFILE",
			runcVague:          `runc says "error setting rlimit type 7"`,
			needsNoSysResource: true,
		},
		{
			name:    "empty args",
			edit:    func(s *specs.Spec) { s.Process.Args = nil },
			mention: "args",
		},
		{
			name:    "relative cwd",
			edit:    func(s *specs.Spec) { s.Process.Cwd = "tmp" },
			mention: "cwd",
		},
		{
			name:    "missing executable",
			edit:    func(s *specs.Spec) { s.Process.Args = []string{"/no/such/binary"} },
			mention: `/no/such/binary`,
		},
		{
			// Nobody could ever read the pty of a detached container.
			name:       "terminal without console socket",
			edit:       func(s *specs.Spec) { s.Process.Terminal = true },
			mention:    "console",
			createOnly: true,
		},
	}
	for _, tc := range cases {
		for _, verb := range []string{"create", "run"} {
			if verb == "run" && tc.createOnly {
				continue
			}
			t.Run(tc.name+"/"+verb, func(t *testing.T) {
				if tc.runcSucceeds != "" {
					specOnly(t, tc.runcSucceeds)
				}
				if tc.needsNoSysResource && hasCapability(capSysResource) {
					t.Skip("this process has CAP_SYS_RESOURCE, so the host can grant the request")
				}
				t.Parallel()
				e := newEnv(t)
				c := e.newContainer(t, "true")
				if tc.edit != nil {
					tc.edit(c.spec)
				}
				c.write()
				if tc.file != nil {
					if err := tc.file(filepath.Join(c.bundle, "config.json")); err != nil {
						t.Fatal(err)
					}
				}
				r := c.detached(verb, "-b", c.bundle)
				if r.code == 0 {
					t.Fatalf("%s of an invalid config succeeded: %v", verb, r)
				}
				c.assertGone()
				t.Run("names the field", func(t *testing.T) {
					if tc.runcVague != "" {
						specOnly(t, tc.runcVague)
					}
					if !regexp.MustCompile("(?i)" + tc.mention).MatchString(r.stderr) {
						t.Errorf("%s's error does not name %s:\n%s", verb, tc.mention, r.stderr)
					}
				})
			})
		}
	}
}
