#!/bin/sh
# Rebuilds nsenter_amd64.bin from nsenter.c; TestImageUpToDate checks that
# the committed image is what this produces. Reproducible: no build id, no
# libc, fixed flags.
set -eu
cd "$(dirname "$0")"
out=${1:-nsenter_amd64.bin}
gcc -Os -static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-pie -no-pie -Wall -Wextra -Werror \
	-Wl,--build-id=none -s -o "$out" c/nsenter.c
