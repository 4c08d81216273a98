package slirp

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Port forwards HostIP:HostPort on the host to ContainerPort inside the
// container's network namespace.
type Port struct {
	HostIP        string `json:"hostIP,omitempty"` // "" = every address
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"` // "tcp" or "udp"; "" means tcp
}

// ParsePort parses a forward in the form podman's -p takes:
// [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO], e.g. "8080:80",
// "127.0.0.1:8080:80/udp", "[::1]:8080:80". A host port is required (no
// random host ports) and ranges are not supported.
func ParsePort(s string) (Port, error) {
	bad := func(format string, a ...any) (Port, error) {
		return Port{}, fmt.Errorf("%w %q: %s", ErrBadPort, s, fmt.Sprintf(format, a...))
	}
	rest, proto := s, "tcp"
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		rest, proto = s[:i], s[i+1:]
		if proto == "" {
			return bad(`protocol "" after '/': want tcp or udp`)
		}
	}
	var host, hp, cp string
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]:")
		if end < 0 {
			return bad("an IPv6 host address in brackets must be followed by :HOSTPORT:CONTAINERPORT")
		}
		host = rest[1:end]
		var ok bool
		hp, cp, ok = strings.Cut(rest[end+2:], ":")
		if !ok {
			return bad("want [HOSTIP]:HOSTPORT:CONTAINERPORT")
		}
	default:
		f := strings.Split(rest, ":")
		switch len(f) {
		case 1:
			return bad("no host port: want [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO]")
		case 2:
			hp, cp = f[0], f[1]
		case 3:
			host, hp, cp = f[0], f[1], f[2]
			if host == "" {
				return bad("empty host address before the host port")
			}
		default:
			return bad("too many ':' (an IPv6 host address goes in brackets: [::1]:8080:80)")
		}
	}
	p := Port{HostIP: host, Proto: proto}
	var err error
	if p.HostPort, err = parsePortNumber(hp, "host port"); err != nil {
		return bad("%v", err)
	}
	if p.ContainerPort, err = parsePortNumber(cp, "container port"); err != nil {
		return bad("%v", err)
	}
	if err := p.validate(); err != nil {
		return Port{}, fmt.Errorf("%w %q: %s", ErrBadPort, s, err.Error())
	}
	return p, nil
}

func parsePortNumber(s, what string) (uint16, error) {
	if strings.Contains(s, "-") {
		return 0, fmt.Errorf("%s %q: port ranges are not supported", what, s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s %q: want a number from 1 to 65535", what, s)
	}
	return uint16(n), nil
}

// validate checks a Port built by hand (ParsePort's results pass). Its
// errors do not repeat ErrBadPort: the callers wrap them.
func (p Port) validate() error {
	switch p.Proto {
	case "", "tcp", "udp":
	default:
		return fmt.Errorf("protocol %q: want tcp or udp", p.Proto)
	}
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return fmt.Errorf("ports must be from 1 to 65535 (host %d, container %d)", p.HostPort, p.ContainerPort)
	}
	if p.HostIP != "" {
		a, err := netip.ParseAddr(p.HostIP)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("host address %q is not an IP address", p.HostIP)
		}
	}
	return nil
}

func (p Port) proto() string {
	if p.Proto == "" {
		return "tcp"
	}
	return p.Proto
}

// String gives the canonical form ParsePort reads back.
func (p Port) String() string {
	host := p.HostIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if host != "" {
		host += ":"
	}
	return fmt.Sprintf("%s%d:%d/%s", host, p.HostPort, p.ContainerPort, p.proto())
}

// pastaArgs gives pasta's forwarding options for ports: each protocol gets
// its list, or "none" so that pasta's default ("auto": forward whatever
// happens to be bound) never applies. -T/-U none: the container never reaches
// the host's ports through its own loopback.
func pastaArgs(ports []Port) []string {
	var tcp, udp []string
	for _, p := range ports {
		spec := fmt.Sprintf("%d:%d", p.HostPort, p.ContainerPort)
		if p.HostIP != "" {
			spec = p.HostIP + "/" + spec
		}
		if p.proto() == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
	}
	// An address-bound spec cannot share a comma list with others in pasta's
	// syntax, so each spec gets its own flag.
	var args []string
	if len(tcp) == 0 {
		args = append(args, "-t", "none")
	}
	for _, s := range tcp {
		args = append(args, "-t", s)
	}
	if len(udp) == 0 {
		args = append(args, "-u", "none")
	}
	for _, s := range udp {
		args = append(args, "-u", s)
	}
	return append(args, "-T", "none", "-U", "none")
}

// hostfwdRequest is slirp4netns's API request adding one forward.
func hostfwdRequest(p Port) ([]byte, error) {
	addr := p.HostIP
	if addr == "" {
		addr = "0.0.0.0"
	}
	type args struct {
		Proto     string `json:"proto"`
		HostAddr  string `json:"host_addr"`
		HostPort  uint16 `json:"host_port"`
		GuestPort uint16 `json:"guest_port"`
	}
	return json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments args   `json:"arguments"`
	}{"add_hostfwd", args{p.proto(), addr, p.HostPort, p.ContainerPort}})
}
