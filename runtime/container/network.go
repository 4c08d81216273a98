package container

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gophertainer/gtu/runtime/spec"
	"github.com/gophertainer/gtu/slirp"
)

// A container with a network namespace of its own gets only a loopback
// interface, as in runc, unless it asks for a user-mode network (package
// slirp: slirp4netns or pasta). It asks in config.json's annotations, so an
// ordinary OCI bundle carries the request, or with create's and run's
// flags, which override them.
const (
	annNetwork      = "org.gophertainer.network"       // auto, slirp4netns, pasta, none
	annPorts        = "org.gophertainer.ports"         // "8080:80,127.0.0.1:5353:53/udp"
	annHostLoopback = "org.gophertainer.host-loopback" // "true": the gateway reaches the host's 127.0.0.1
)

// NetworkOptions are create's and run's network flags.
type NetworkOptions struct {
	Driver            string   // --network
	Publish           []string // -p/--publish
	AllowHostLoopback bool     // --allow-host-loopback
}

// networkRequest resolves what network the container gets: nil for none.
func networkRequest(s *specs.Spec, p *spec.Plan, o NetworkOptions) (*slirp.Options, error) {
	driver, field := o.Driver, "--network"
	if driver == "" {
		driver, field = s.Annotations[annNetwork], "annotations."+annNetwork
	}
	portSpecs, portField := o.Publish, "--publish"
	if len(portSpecs) == 0 && s.Annotations[annPorts] != "" {
		portSpecs, portField = strings.Split(s.Annotations[annPorts], ","), "annotations."+annPorts
	}
	loopback := o.AllowHostLoopback
	if v, ok := s.Annotations[annHostLoopback]; ok && !loopback {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("annotations.%s: %q is not a boolean", annHostLoopback, v)
		}
		loopback = b
	}
	if driver == "" && (len(portSpecs) > 0 || loopback) {
		driver = "auto" // ports or loopback imply a network
	}
	if driver == "" || driver == "none" {
		if len(portSpecs) > 0 {
			return nil, fmt.Errorf("%s: ports need a network, but %s is none", portField, field)
		}
		return nil, nil
	}
	if p.CloneFlags&unix.CLONE_NEWNET == 0 {
		return nil, fmt.Errorf("%s %s: the container has no network namespace of its own (add {\"type\": \"network\"} to linux.namespaces)", field, driver)
	}
	req := &slirp.Options{Driver: driver, AllowHostLoopback: loopback}
	for i, ps := range portSpecs {
		port, err := slirp.ParsePort(strings.TrimSpace(ps))
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", portField, i, err)
		}
		req.Ports = append(req.Ports, port)
	}
	return req, nil
}

// startNetwork attaches the requested network to the init's namespace.
func (l *launched) startNetwork(req *slirp.Options, pid int) error {
	if req == nil {
		return nil
	}
	req.Pid = pid
	req.StateDir = l.h.dir.Path()
	h, err := slirp.Start(context.Background(), *req)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	l.network = h
	return nil
}

// stopNetwork stops a saved network helper; a gone one is fine.
func stopNetwork(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var h slirp.Handle
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("network helper in the state: %w", err)
	}
	if err := h.Stop(); err != nil {
		return fmt.Errorf("stop the network helper (%s, pid %d): %w", h.Driver, h.Pid, err)
	}
	return nil
}
