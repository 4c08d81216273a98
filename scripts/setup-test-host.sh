#!/usr/bin/env bash
# setup-test-host.sh: prepare a Debian 12 machine for gtu's tests, as root.
#
# Idempotent and non-interactive (CI runs it on every `bash .ci/run`): it
# installs only missing packages and rewrites only what it owns.
#   - apt packages the tests and benchmarks use;
#   - an unprivileged user `gtutest` with delegated subordinate id ranges
#     in /etc/subuid and /etc/subgid, and its /run/user/UID (there is no
#     logind on these machines to create it);
#   - /dev/fuse and /dev/net/tun at Debian's usual 0666 (there is no udev);
#   - /etc/containers/containers.conf for root podman (see MACHINE.md).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-test-host.sh: must run as root" >&2
	exit 1
fi

user=gtutest
# A freshly delegated range: the usual 65536 ids, so that a full container
# id space (0-65535) can be mapped.
subid_count=65536
conf=/etc/containers/containers.conf
marker="# Managed by gophertainer scripts/setup-test-host.sh"

packages=(
	busybox-static # the static busybox the test rootfs is made of
	runc           # the reference runtime for side-by-side tests
	podman conmon  # the engine that drives a runtime in podman tests
	containerd     # ctr and the runc shim, driving gtu in containerd tests
	uidmap         # newuidmap/newgidmap, for rootless id mappings
	slirp4netns fuse-overlayfs
	passt # pasta, the second rootless network driver (slirp/)
	libseccomp-dev pkg-config # building gtu's seccomp support
	libbtrfs-dev # btrfs/version.h: plain `go vet ./...` and `go build ./...` compile go.podman.io/storage's btrfs driver (cgo)
	bats hyperfine strace
	systemd dbus-user-session # a real systemd --user manager and its bus (scripts/systemd-user.sh)
	rootlesskit # rootless storage tests (overlay/)
)

install_packages() {
	local missing=() pkg
	for pkg in "${packages[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return
	fi
	echo "setup-test-host: installing ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
}

# next_free_subid FILE prints the first id above every range in FILE (and
# at least 100000, above the ids useradd hands out).
next_free_subid() {
	awk -F: 'BEGIN { next_id = 100000 }
		NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {
			end = $2 + $3
			if (end > next_id) next_id = end
		}
		END { print next_id }' "$1"
}

# ensure_subid FILE gives $user one range in FILE unless it has one
# already (newer useradd allocates it by itself).
ensure_subid() {
	local file=$1 start
	touch "$file"
	if grep -q "^${user}:" "$file"; then
		return
	fi
	start=$(next_free_subid "$file")
	echo "${user}:${start}:${subid_count}" >>"$file"
	echo "setup-test-host: $file: ${user}:${start}:${subid_count}"
}

setup_user() {
	if ! id -u "$user" >/dev/null 2>&1; then
		useradd --create-home --user-group --shell /bin/bash "$user"
		echo "setup-test-host: created user $user"
	fi
	ensure_subid /etc/subuid
	ensure_subid /etc/subgid
	local uid gid
	uid=$(id -u "$user")
	gid=$(id -g "$user")
	# PID 1 is not systemd and there is no logind: XDG_RUNTIME_DIR must be
	# made by hand, owned by the user and private (podman and systemd
	# --user insist on 0700).
	mkdir -p "/run/user/$uid"
	chown "$uid:$gid" "/run/user/$uid"
	chmod 0700 "/run/user/$uid"
}

# setup_nosub_user makes a second unprivileged user with no subordinate ids:
# the rootless tests check gtu's single-mapping fallback (and its warning)
# with it. Lines a host added for it are left alone.
nosub_user=gtunosub
setup_nosub_user() {
	if ! id -u "$nosub_user" >/dev/null 2>&1; then
		useradd --create-home --user-group --shell /bin/bash "$nosub_user"
		echo "setup-test-host: created user $nosub_user"
	fi
	# newer useradd allocates ranges by itself: take them back.
	sed -i "/^${nosub_user}:/d" /etc/subuid /etc/subgid
	local uid gid
	uid=$(id -u "$nosub_user")
	gid=$(id -g "$nosub_user")
	mkdir -p "/run/user/$uid"
	chown "$uid:$gid" "/run/user/$uid"
	chmod 0700 "/run/user/$uid"
}

setup_devices() {
	local dev
	for dev in /dev/fuse /dev/net/tun; do
		if [ -c "$dev" ]; then
			chmod 0666 "$dev"
		else
			echo "setup-test-host: warning: $dev is missing; fuse-overlayfs or slirp4netns tests will skip" >&2
		fi
	done
}

setup_containers_conf() {
	mkdir -p /etc/containers
	if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
		echo "setup-test-host: warning: $conf exists and is not ours; left as is." >&2
		echo "  root podman here needs default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]," >&2
		echo "  cgroup_manager = \"cgroupfs\" and events_logger = \"file\"." >&2
		return
	fi
	cat >"$conf.tmp" <<EOF
$marker
# Root on these machines lacks CAP_SYS_RESOURCE, so containers cannot get
# rlimits above root's own hard limits (nofile 20000): podman's defaults
# would fail every container.
[containers]
default_ulimits = [
  "nofile=20000:20000",
  "nproc=32768:32768",
]

# PID 1 is not systemd: no systemd cgroup manager, no journald.
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	mv -f "$conf.tmp" "$conf"
}

install_packages
setup_user
setup_nosub_user
setup_devices
setup_containers_conf
echo "setup-test-host: ok"
