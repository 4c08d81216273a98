#!/usr/bin/env bash
# demo.sh: build gtu and run busybox containers with it.
#
#   sudo bash scripts/demo.sh
#
# Builds bin/gtu (and its helper programs), assembles a busybox rootfs in
# $GTU_DEMO_DIR (default /tmp/gtu-demo), writes its config with `gtu spec`,
# runs it and deletes it; then runs the same rootfs as a tarball in
# standalone mode (`gtu --name --rootfs --cmd`), and, when sudo was called
# by an ordinary user with subordinate ids (/etc/subuid), once more as that
# user: rootless.
# GTU_DEMO_RUNTIME=/path/to/runtime skips the build and runs that binary
# instead (for example /usr/sbin/runc, to compare).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run it with sudo (it installs packages and shows root and rootless containers): sudo bash scripts/demo.sh" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "demo.sh: Go 1.26 is needed to build gtu and was not found in PATH" >&2
	exit 1
fi

# What building and the rootfs need on a fresh Debian machine.
missing=()
for pkg in busybox-static libseccomp-dev pkg-config uidmap; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "+ apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi

gtu=${GTU_DEMO_RUNTIME:-}
if [ -z "$gtu" ]; then
	echo "+ bash scripts/build.sh bin/gtu"
	bash scripts/build.sh bin/gtu
	gtu=bin/gtu
fi

demo=${GTU_DEMO_DIR:-/tmp/gtu-demo}
id=demo
# A demo interrupted earlier may have left its container behind.
"$gtu" delete -f "$id" >/dev/null 2>&1 || true

echo "+ scripts/mkrootfs.sh $demo/rootfs"
bash scripts/mkrootfs.sh "$demo/rootfs"
rm -f "$demo/config.json"
echo "+ $gtu spec -b $demo"
"$gtu" spec -b "$demo"
# No terminal (the demo may run without one), a command that shows where it
# runs, and an absolute cgroup path: without one the container's memory
# cgroup would be created below the caller's own.
go run ./scripts/specpatch -terminal=false -cgroups-path "/gtu-demo/$id" "$demo/config.json" \
	sh -c 'echo hello from gtu; uname -a; id'

echo "+ $gtu run --keep -b $demo $id"
status=0
"$gtu" run --keep -b "$demo" "$id" || status=$?
echo "+ $gtu state $id"
"$gtu" state "$id" || true
echo
echo "+ $gtu delete $id"
"$gtu" delete "$id" || status=1
for h in /sys/fs/cgroup/*/; do
	rmdir "${h}gtu-demo" 2>/dev/null || true
done
if [ -d /sys/fs/cgroup/gtu-demo ]; then rmdir /sys/fs/cgroup/gtu-demo 2>/dev/null || true; fi
echo "demo: container exited with status $status"

# Standalone mode: a rootfs tarball, imported once into gtu's store, a
# writable overlay layer for the container, removed after the run.
tar -C "$demo/rootfs" -czf "$demo/busybox.tar.gz" .
chmod 0755 "$demo"
chmod 0644 "$demo/busybox.tar.gz"
echo "+ $gtu --name demo-standalone --rootfs $demo/busybox.tar.gz --cmd \"sh -c 'echo hello from standalone mode; id -u'\""
"$gtu" --name demo-standalone --rootfs "$demo/busybox.tar.gz" --cmd "sh -c 'echo hello from standalone mode; id -u'" || status=1

# Rootless: the same command as the user who called sudo, if that user
# has subordinate ids (gtu works without, mapping only the user).
user=${SUDO_USER:-}
if [ -n "$user" ] && [ "$user" != root ] && grep -q "^$user:" /etc/subuid 2>/dev/null; then
	uid=$(id -u "$user")
	rundir=/run/user/$uid
	[ -d "$rundir" ] || install -d -m 0700 -o "$uid" "$rundir"
	echo "+ (as $user) $gtu --name demo-rootless --rootfs $demo/busybox.tar.gz --cmd ..."
	runuser -u "$user" -- env XDG_RUNTIME_DIR="$rundir" "$PWD/$gtu" --name demo-rootless \
		--rootfs "$demo/busybox.tar.gz" --cmd "sh -c 'echo hello rootless; id -u; cat /proc/self/uid_map'" || status=1
	runuser -u "$user" -- env XDG_RUNTIME_DIR="$rundir" "$PWD/$gtu" session stop || true
else
	echo "demo: rootless part skipped: run it with sudo from an ordinary user that has a line in /etc/subuid"
fi
exit "$status"
