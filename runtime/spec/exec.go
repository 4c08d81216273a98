package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are gtu exec's flags. A nil or empty field leaves the
// container's own process value (from config.json) in place, as runc does.
type ExecOptions struct {
	Args           []string
	Env            []string // appended; a later KEY replaces an earlier one
	Cwd            string
	User           string // "uid[:gid]"
	AdditionalGids []string
	Caps           []string // added to every capability set
	NoNewPrivs     bool
	Tty            *bool
	BoundingCaps   []int // what gtu may grant (see Options.BoundingCaps)
}

// ExecProcess plans the process of gtu exec. With proc from --process it is
// taken as it is (only validated); otherwise base (the container's
// config.json process) is copied and the flags applied to it.
func ExecProcess(base, proc *specs.Process, o ExecOptions) (*Plan, error) {
	if proc == nil {
		if base == nil {
			return nil, fmt.Errorf("%w: config.json has no process to start from", ErrInvalid)
		}
		p, err := applyExecFlags(*base, o)
		if err != nil {
			return nil, err
		}
		proc = &p
	}
	var probs problems
	validateProcess(&probs, proc)
	if err := errors.Join(probs...); err != nil {
		return nil, err
	}
	if err := checkGrantable(proc.Capabilities, o.BoundingCaps); err != nil {
		return nil, err
	}
	return &Plan{Exec: true, Process: buildProcess(proc)}, nil
}

func applyExecFlags(p specs.Process, o ExecOptions) (specs.Process, error) {
	if len(o.Args) > 0 {
		p.Args = o.Args
	}
	if len(o.Args) == 0 && p.Args == nil {
		return p, fmt.Errorf("%w: exec: no command given", ErrInvalid)
	}
	p.Env = mergeEnv(p.Env, o.Env)
	if o.Cwd != "" {
		p.Cwd = o.Cwd
	}
	if o.Tty != nil {
		p.Terminal = *o.Tty
	}
	if o.NoNewPrivs {
		p.NoNewPrivileges = true
	}
	if o.User != "" {
		uid, gid, err := parseUser(o.User)
		if err != nil {
			return p, err
		}
		p.User.UID, p.User.Username = uid, ""
		if gid != nil {
			p.User.GID = *gid
		}
	}
	for _, g := range o.AdditionalGids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return p, fmt.Errorf("%w: --additional-gids %q: not a number", ErrInvalid, g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if len(o.Caps) > 0 {
		c := specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			c = *p.Capabilities
		}
		for _, name := range o.Caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = appendNew(c.Bounding, name)
			c.Effective = appendNew(c.Effective, name)
			c.Permitted = appendNew(c.Permitted, name)
			c.Inheritable = appendNew(c.Inheritable, name)
			c.Ambient = appendNew(c.Ambient, name)
		}
		p.Capabilities = &c
	}
	return p, nil
}

// parseUser reads --user uid[:gid] (numbers, as runc takes them).
func parseUser(s string) (uint32, *uint32, error) {
	u, g, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: --user %q: want uid[:gid] as numbers", ErrInvalid, s)
	}
	if !hasGid {
		return uint32(uid), nil, nil
	}
	gid, err := strconv.ParseUint(g, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: --user %q: want uid[:gid] as numbers", ErrInvalid, s)
	}
	g32 := uint32(gid)
	return uint32(uid), &g32, nil
}

// mergeEnv appends extra to env; an extra KEY=... replaces env's KEY.
func mergeEnv(env, extra []string) []string {
	out := append([]string(nil), env...)
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = e, true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
