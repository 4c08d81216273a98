#!/usr/bin/env bash
# mkrootfs.sh DIR: assemble a minimal busybox root filesystem in DIR.
#
# The rootfs holds the static busybox from Debian's busybox-static package
# (no shared libraries, so it runs in any mount namespace), one symlink per
# applet, and just enough /etc for `id`, `su` and user lookups: root, nobody
# (65534) and an unprivileged "tester" (1000). Running it again over the same
# DIR converges to the same tree, so tests and the demo can call it freely.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1

# busybox-static installs /bin/busybox; a dynamically linked busybox (the
# "busybox" package) would need the host's libc inside the rootfs.
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
	echo "$0: $busybox not found: apt-get install busybox-static" >&2
	exit 1
fi
if ! "$busybox" --list >/dev/null 2>&1; then
	echo "$0: $busybox does not list its applets" >&2
	exit 1
fi

mkdir -p "$dir"
cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc root home/tester proc sys dev tmp var/tmp run
chmod 0755 bin sbin usr usr/bin usr/sbin etc home proc sys dev run
chmod 0700 root
chmod 1777 tmp var/tmp

# cp -f over a running busybox would fail with ETXTBSY; compare first so a
# second run over a rootfs in use is a no-op.
if ! cmp -s "$busybox" bin/busybox; then
	cp -f "$busybox" bin/busybox.new
	mv -f bin/busybox.new bin/busybox
fi
chmod 0755 bin/busybox

applets=$("$busybox" --list | grep -vx busybox)
set -f # applet names such as "[" must not be globbed
if command -v perl >/dev/null; then
	# One process instead of ~270 `ln` forks (perl-base is Essential in
	# Debian, so this is the usual path).
	# shellcheck disable=SC2086 # one applet name per word
	perl -e 'for (@ARGV) { my $l = "bin/$_"; next if (readlink($l) // "") eq "busybox"; unlink $l; symlink("busybox", $l) or die "symlink $l: $!\n" }' $applets
else
	for applet in $applets; do
		ln -sfn busybox "bin/$applet"
	done
fi
set +f
# Scripts commonly start with #!/usr/bin/env.
ln -sfn ../../bin/busybox usr/bin/env

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >etc/group <<'EOF'
root:x:0:
tester:x:1000:
nogroup:x:65534:
EOF
chmod 0644 etc/passwd etc/group
chown 1000:1000 home/tester 2>/dev/null || true
: >etc/hostname
