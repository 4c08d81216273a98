// Package slirp gives a container that has its own network namespace a
// user-mode network, through slirp4netns or pasta, with port forwarding
// from the host.
//
// Start attaches a helper process to the network namespace of a running
// process (the container's init stage) and returns once the namespace is
// configured (interface up, address, default route) and the ports are
// forwarded. The helper runs detached: its own session, stdio on a log file
// in the caller's state directory, no inherited descriptors but the ones it
// needs. Start returns a Handle, plain JSON, that a later gtu process uses to
// stop the helper (Handle.Stop), checking pid and start time so that a
// recycled pid is never signalled.
//
// Drivers:
//   - slirp4netns (1.x): --configure, readiness on --ready-fd, forwards added
//     through its API socket (add_hostfwd). Gateway 10.0.2.2, address
//     10.0.2.100. Host loopback through the gateway only with
//     AllowHostLoopback (it is --disable-host-loopback otherwise).
//   - pasta (passt): --config-net, it forks to the background once ready and
//     writes its pid file; forwards are given on its command line. It copies
//     the host's addresses and gateway. Host loopback through the gateway only
//     with AllowHostLoopback (--no-map-gw otherwise), and never through the
//     container's own loopback (-T none -U none).
//
// IPv6 (Options.IPv6): pasta sets it up statically before it reports ready;
// slirp4netns announces fd00::/64 by router advertisements, so there the
// address arrives shortly after Start returns. DNS: slirp4netns answers on
// 10.0.2.3; pasta is given no --dns-forward, so the container's resolv.conf
// must name resolvers reachable from the host's network (not the host's
// loopback).
//
// The helpers hold the target namespaces open, so they do not end by
// themselves when the container's processes exit: Handle.Stop (gtu delete)
// ends them.
//
// Both helpers are given the target namespaces as inherited descriptors
// (/proc/self/fd/N), opened by the caller: pasta drops its capabilities
// before it opens its arguments, so as root it cannot open another root
// process's /proc/PID/ns/* itself (EACCES, no CAP_SYS_PTRACE left), and
// holding the descriptors also pins the namespaces against pid reuse.
package slirp
