// Package userscope asks a user's systemd --user manager, over D-Bus, for
// the transient Delegate=yes scope a rootless container lives in, and
// stops it (cgroupdelegate/userscope.go keeps the rest: the scope's
// cgroupfs side, the limits, Load and Save).
//
// It stays in gtu although the rest of gtu's D-Bus work runs in gtu-cgroup:
// keeping it costs gtu's binary 37 KB (godbus's connection code is linked
// anyway), while running it in the helper cost every rootless container in
// a scope two helper starts, about 12 ms (34.5 -> 46.6 ms per run, measured
// as the test user under a real systemd --user).
package userscope

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// The library's systemd driver cannot do this: it refuses rootless on
// cgroup v1 and hybrid hosts, and it authenticates with the uid it runs as
// (0 inside a user namespace).

// Request names a scope and the bus of its manager.
type Request struct {
	Bus     string // unix:path=... of the user's bus
	HostUID int    // who to authenticate as
	Unit    string // gtu-ID.scope, or from "slice:prefix:name"
	// Start only.
	Slice       string // "" for the manager's default
	Pid         int
	Description string
}

// busTimeout bounds each conversation with the user manager.
const busTimeout = 10 * time.Second

// dialUser connects to the user's bus as the host uid. The bus compares
// an EXTERNAL identity with the socket's peer credentials, which it sees as
// the host uid: a client in a user namespace that names its uid there (0)
// is refused (measured: "AUTH EXTERNAL 30" gets REJECTED). godbus v5 names
// no identity at all ("AUTH EXTERNAL", then an empty DATA, godbus#264), so
// the kernel's answer is taken; the host uid is given here so that the
// right identity is the one named if the library ever sends it.
func dialUser(ctx context.Context, bus string, hostUID int) (*sddbus.Conn, error) {
	conn, err := sddbus.NewConnection(func() (*dbus.Conn, error) {
		c, err := dbus.Dial(bus, dbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(hostUID))}); err != nil {
			c.Close()
			return nil, fmt.Errorf("authenticate as uid %d: %w", hostUID, err)
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("systemd --user at %s: %w", bus, err)
	}
	return conn, nil
}

// Start asks the manager for the scope with req.Pid in it and
// returns the scope's ControlGroup. If that cannot be read, the scope is
// stopped again.
func Start(req *Request) (string, error) {
	if req.Pid <= 0 {
		return "", fmt.Errorf("scope %s: a systemd scope needs a process", req.Unit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	conn, err := dialUser(ctx, req.Bus, req.HostUID)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	props := []sddbus.Property{
		sddbus.PropDescription(req.Description),
		sddbus.PropPids(uint32(req.Pid)),
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
		// As runc: no implicit ordering on or conflict with shutdown
		// targets; the container's lifetime is its own.
		{Name: "DefaultDependencies", Value: dbus.MakeVariant(false)},
	}
	if req.Slice != "" {
		props = append(props, sddbus.PropSlice(req.Slice))
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, req.Unit, "fail", props, done); err != nil {
		return "", fmt.Errorf("scope %s: start: %w", req.Unit, err)
	}
	if err := waitJob(ctx, req.Unit, "start", done); err != nil {
		return "", err
	}
	prop, err := conn.GetUnitTypePropertyContext(ctx, req.Unit, "Scope", "ControlGroup")
	if err != nil {
		return "", errors.Join(fmt.Errorf("scope %s: read its cgroup: %w", req.Unit, err), stopUnit(ctx, conn, req.Unit))
	}
	rel, ok := prop.Value.Value().(string)
	if !ok || rel == "" {
		return "", errors.Join(fmt.Errorf("scope %s: no cgroup (%v)", req.Unit, prop.Value), stopUnit(ctx, conn, req.Unit))
	}
	return rel, nil
}

// Stop stops the scope and waits for the job.
func Stop(req *Request) error {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	conn, err := dialUser(ctx, req.Bus, req.HostUID)
	if err != nil {
		return err
	}
	defer conn.Close()
	return stopUnit(ctx, conn, req.Unit)
}

// stopUnit stops unit and waits for the job. A unit that is already gone
// (systemd drops a scope whose processes have all exited) is not an error.
func stopUnit(ctx context.Context, conn *sddbus.Conn, unit string) error {
	done := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, unit, "replace", done); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit" {
			return nil
		}
		return fmt.Errorf("scope %s: stop: %w", unit, err)
	}
	if err := waitJob(ctx, unit, "stop", done); err != nil {
		return err
	}
	// A scope that ended in "failed" stays loaded; forget it, so that
	// the name can be used again.
	_ = conn.ResetFailedUnitContext(ctx, unit)
	return nil
}

// waitJob waits for a systemd job's result on done ("done" is success).
func waitJob(ctx context.Context, unit, verb string, done <-chan string) error {
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("scope %s: %s job %s", unit, verb, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scope %s: %s: %w", unit, verb, ctx.Err())
	}
}
