#!/usr/bin/env bash
# systemd-user.sh: a real `systemd --user` manager for a user on a machine
# whose PID 1 is not systemd and which has no logind (see MACHINE.md,
# "systemd and D-Bus"). As root:
#
#   systemd-user.sh start UID      start the manager (idempotent), wait for its bus
#   systemd-user.sh stop UID       stop exactly that manager, remove its cgroups
#   systemd-user.sh status UID     exit 0 if it runs and its bus answers
#   systemd-user.sh run UID CMD... run CMD as UID inside the manager's cgroup
#                                  tree, with XDG_RUNTIME_DIR and the bus set
#
# Why each step:
#   - systemd refuses to run as a user manager unless /run/systemd/system
#     exists, which only a systemd PID 1 creates: a private mount namespace
#     gets a tmpfs /run/systemd with that directory, and nothing else changes.
#   - There is no system manager to create user@UID.service: root makes its
#     cgroup in the name=systemd and unified hierarchies, chowns it to the
#     user (the delegation systemd would do) and puts the manager there.
#   - A client asking the manager for a scope must already run inside that
#     tree, because moving a process between cgroup2 cgroups needs write
#     access to their common ancestor and no system manager can move it for
#     the user manager: `run` does that move as root first.
#
# State lives in /run/gtu-systemd-user/UID (the manager's pid); the cgroups
# in /sys/fs/cgroup/{systemd,unified}/gtu-systemd-user/user@UID.service.
set -euo pipefail

cgroot=/sys/fs/cgroup
tree=gtu-systemd-user
statedir=/run/gtu-systemd-user
hierarchies=(systemd unified)
timeout_s=${SYSTEMD_USER_TIMEOUT:-15}

die() {
	echo "systemd-user.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ $# -ge 2 ] || usage
cmd=$1 uid=$2
shift 2
case $uid in '' | *[!0-9]*) die "UID must be a number: $uid" ;; esac
user=$(getent passwd "$uid" | cut -d: -f1) || die "no user with uid $uid"
gid=$(getent passwd "$uid" | cut -d: -f4)
home=$(getent passwd "$uid" | cut -d: -f6)
rundir=/run/user/$uid
pidfile=$statedir/$uid/pid

for h in "${hierarchies[@]}"; do
	[ -d "$cgroot/$h" ] || die "no cgroup hierarchy at $cgroot/$h (this script is for the hybrid layout)"
done

# as_user CMD...: CMD as the user with the manager's environment.
as_user() {
	setpriv --reuid="$uid" --regid="$gid" --init-groups \
		env -i HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin \
		XDG_RUNTIME_DIR="$rundir" DBUS_SESSION_BUS_ADDRESS="unix:path=$rundir/bus" "$@"
}

manager_pid() {
	local pid
	[ -f "$pidfile" ] || return 1
	pid=$(cat "$pidfile")
	# The pid must still be our manager, not a recycled number.
	[ -d "/proc/$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/lib/systemd/systemd ] || return 1
	echo "$pid"
}

bus_answers() {
	# The manager's SystemState is "running" or "degraded" once it has
	# booted. (Not `systemctl --user is-system-running`: outside the
	# manager's mount namespace there is no /run/systemd/system, so
	# systemctl says "offline" without asking.)
	local s
	s=$(as_user timeout 5 busctl --user get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager SystemState 2>/dev/null) || true
	case $s in *'"running"'* | *'"degraded"'*) return 0 ;; esac
	return 1
}

start() {
	if manager_pid >/dev/null && bus_answers; then
		return 0
	fi
	mkdir -p "$rundir" "$statedir/$uid"
	chown "$uid:$gid" "$rundir"
	chmod 0700 "$rundir"
	local h dir
	for h in "${hierarchies[@]}"; do
		dir=$cgroot/$h/$tree/user@$uid.service
		mkdir -p "$dir"
		chown -R "$uid:$gid" "$dir"
	done
	# unshare without --fork execs, so $! is the manager's pid from the
	# moment setpriv execs systemd.
	unshare --mount --propagation private -- /bin/sh -c '
		set -e
		mount -t tmpfs -o mode=0755 tmpfs /run/systemd
		mkdir /run/systemd/system
		for h in '"${hierarchies[*]}"'; do
			echo $$ >'"$cgroot"'/$h/'"$tree"'/user@'"$uid"'.service/cgroup.procs
		done
		exec "$@"' sh setpriv --reuid="$uid" --regid="$gid" --init-groups \
		env -i HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin \
		XDG_RUNTIME_DIR="$rundir" DBUS_SESSION_BUS_ADDRESS="unix:path=$rundir/bus" \
		/lib/systemd/systemd --user </dev/null >"$statedir/$uid/log" 2>&1 &
	echo $! >"$pidfile"
	local deadline=$((SECONDS + timeout_s))
	until bus_answers; do
		if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			cat "$statedir/$uid/log" >&2
			die "systemd --user for uid $uid exited"
		fi
		if [ $SECONDS -ge $deadline ]; then
			stop
			die "systemd --user for uid $uid did not answer on $rundir/bus within ${timeout_s}s"
		fi
		sleep 0.1
	done
}

# rm_tree DIR removes a cgroup and its children, deepest first.
rm_tree() {
	[ -d "$1" ] || return 0
	find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
	[ ! -d "$1" ] || {
		echo "systemd-user.sh: warning: $1 not removed (processes still inside?)" >&2
		return 1
	}
}

stop() {
	local pid h
	if pid=$(manager_pid); then
		kill -TERM "$pid"
		local deadline=$((SECONDS + timeout_s))
		while [ -d "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		if [ -d "/proc/$pid" ]; then
			kill -KILL "$pid"
		fi
	fi
	# What the manager leaves behind (it stops its units as it exits):
	# anything still in its unified tree is ours to kill.
	local u=$cgroot/unified/$tree/user@$uid.service
	if [ -e "$u/cgroup.kill" ]; then
		echo 1 >"$u/cgroup.kill"
	fi
	local rc=0 deadline=$((SECONDS + 5))
	for h in "${hierarchies[@]}"; do
		until rm_tree "$cgroot/$h/$tree/user@$uid.service" 2>/dev/null; do
			if [ $SECONDS -ge $deadline ]; then
				rm_tree "$cgroot/$h/$tree/user@$uid.service" || rc=1
				break
			fi
			sleep 0.1
		done
		rmdir "$cgroot/$h/$tree" 2>/dev/null || true
	done
	rm -rf "${statedir:?}/$uid"
	rmdir "$statedir" 2>/dev/null || true
	return $rc
}

run() {
	[ $# -ge 1 ] || usage
	manager_pid >/dev/null || die "no systemd --user for uid $uid; run: $0 start $uid"
	local h dir name=gtu-run.$$ rc=0
	for h in "${hierarchies[@]}"; do
		dir=$cgroot/$h/$tree/user@$uid.service/$name
		mkdir -p "$dir"
		chown -R "$uid:$gid" "$dir"
	done
	(
		for h in "${hierarchies[@]}"; do
			echo "$BASHPID" >"$cgroot/$h/$tree/user@$uid.service/$name/cgroup.procs"
		done
		exec setpriv --reuid="$uid" --regid="$gid" --init-groups \
			env HOME="$home" USER="$user" LOGNAME="$user" \
			XDG_RUNTIME_DIR="$rundir" DBUS_SESSION_BUS_ADDRESS="unix:path=$rundir/bus" "$@"
	) || rc=$?
	for h in "${hierarchies[@]}"; do
		rmdir "$cgroot/$h/$tree/user@$uid.service/$name" 2>/dev/null || true
	done
	return $rc
}

case $cmd in
start) start ;;
stop) stop ;;
status) manager_pid >/dev/null && bus_answers ;;
run) run "$@" ;;
*) usage ;;
esac
