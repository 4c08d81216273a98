#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite against gtu and runc, side by side.
#
#   tests/conformance/run.sh [--runtime NAME=PATH ...] [--only REGEX] [--out DIR]
#                            [--jobs N] [--timeout DURATION]
#
# Without --runtime it builds bin/gtu (scripts/build.sh) and runs gtu=bin/gtu
# and runc=/usr/sbin/runc. The first runtime is the one under test: the
# report lists what each other runtime passes and it does not.
# The programs come from github.com/opencontainers/runtime-tools v0.9.0 (Go
# module proxy) and are built once, in a scratch module cached under
# /var/tmp/gtu-conformance, never in this repository's module.
# Writes DIR/summary.md and DIR/raw/RUNTIME/PROGRAM.{tap,stderr} (default DIR:
# a new /tmp/gtu-conformance.XXXXXX). Exit status 0 when the suite ran,
# whatever the runtimes scored; 1 when it could not be built or run; 2 for a
# usage error. Needs root; as another user it says why and skips (status 0).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() { sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { echo "run.sh: $*" >&2; exit 1; }

orig="$*"
runtimes=()
driver=()
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--runtime | --only | --out | --jobs | --timeout)
		[ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
		case "$1" in
		--runtime) runtimes+=("$2") ;;
		--out) out=$2 ;;
		*) driver+=("$1" "$2") ;;
		esac
		shift 2 ;;
	--runtime=*) runtimes+=("${1#--runtime=}"); shift ;;
	--out=*) out=${1#--out=}; shift ;;
	--only=* | --jobs=* | --timeout=*) driver+=("$1"); shift ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: skipped: the validation programs create containers and must run as root" >&2
	exit 0
fi
echo "== tests/conformance/run.sh: OCI runtime-tools validation suite, side by side"
for tool in go tar timeout flock unshare; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
SECONDS=0

# --- The suite: a scratch module, built once per set of versions. ---------
# runtime-tools v0.9.0 predates Go modules (it vendored with Godeps), so its
# dependencies are pinned here: runtime-spec at the commit it was written
# against, selinux v1.10.2 (later releases removed label.FileLabel),
# satori/go.uuid v1.2.0 (later NewV4 also returns an error); the rest are
# what `go mod tidy` chose on 2026-11-28, pinned so that every run builds
# the same programs.
suite_version=v0.9.0
pins=(
	github.com/opencontainers/runtime-tools@$suite_version
	github.com/opencontainers/runtime-spec@v1.0.2-0.20190207185410-29686dbc5559
	github.com/opencontainers/selinux@v1.10.2
	github.com/satori/go.uuid@v1.2.0
	github.com/mndrix/tap-go@v0.0.0-20171203230836-629fa407e90b
	github.com/mrunalp/fileutils@v0.5.1
	github.com/urfave/cli@v1.22.17
	github.com/blang/semver@v3.5.1+incompatible
	github.com/hashicorp/go-multierror@v1.1.1
	github.com/hashicorp/errwrap@v1.0.0
	github.com/sirupsen/logrus@v1.10.2
	github.com/syndtr/gocapability@v0.0.0-20200815063812-42c35b437635
	github.com/xeipuuv/gojsonschema@v1.2.0
	github.com/xeipuuv/gojsonpointer@v0.0.0-20180127040702-4e3ac2762d5f
	github.com/xeipuuv/gojsonreference@v0.0.0-20180127040603-bd5ef7bd5415
	github.com/cpuguy83/go-md2man/v2@v2.0.7
	github.com/russross/blackfriday/v2@v2.1.0
	golang.org/x/sys@v0.13.0
	gopkg.in/yaml.v2@v2.4.0
)
# The scratch module must see neither this repository's go.mod nor a
# workspace, nor flags meant for it (GOFLAGS=-mod=vendor, say).
goenv=(env -u GOFLAGS GOWORK=off GOTOOLCHAIN=local GO111MODULE=on)
key=$(printf '%s\n' "${pins[@]}" "$(go env GOVERSION)" recipe-1 | sha256sum | cut -c1-12)
cache_root=/var/tmp/gtu-conformance
cache=$cache_root/runtime-tools-$suite_version-$key
suite=$cache/bin

build_suite() {
	local mod=$cache/mod bin=$cache/bin.new
	rm -rf "$mod" "$bin"
	mkdir -p "$mod" "$bin"
	{
		echo "module gtu-conformance-suite"
		echo
		echo "go 1.21"
		echo
		echo "require ("
		local p
		for p in "${pins[@]}"; do echo "	${p%@*} ${p##*@}"; done
		echo ")"
	} >"$mod/go.mod"
	# Blank imports of the libraries the programs use, so that `go mod tidy`
	# records every module and its checksum.
	cat >"$mod/tools.go" <<-'EOF'
		//go:build tools

		package tools

		import (
			_ "github.com/opencontainers/runtime-tools/validate"
			_ "github.com/opencontainers/runtime-tools/validation/util"
			_ "github.com/urfave/cli"
		)
	EOF
	(
		cd "$mod"
		"${goenv[@]}" go mod tidy
		# runtimetest is copied into busybox bundles: it must be static.
		"${goenv[@]}" CGO_ENABLED=0 go build -trimpath -o "$bin/" \
			github.com/opencontainers/runtime-tools/cmd/runtimetest \
			github.com/opencontainers/runtime-tools/validation/...
		src=$("${goenv[@]}" go list -m -f '{{.Dir}}' github.com/opencontainers/runtime-tools)
		cp "$src/rootfs-amd64.tar.gz" "$bin/"
	)
	rm -rf "$suite"
	mv "$bin" "$suite"
	touch "$cache/built"
}

mkdir -p "$cache_root"
# Not `( ... ) || die`: bash ignores set -e inside a command that || tests,
# and a half-built suite would be marked built.
set +e
(
	set -e
	flock 9
	if [ ! -e "$cache/built" ]; then
		echo "run.sh: building runtime-tools $suite_version validation programs in $cache"
		build_suite
	fi
) 9>"$cache_root/.lock"
rc=$?
set -e
[ "$rc" -eq 0 ] || die "could not build the runtime-tools $suite_version programs (see above)"
[ -x "$suite/runtimetest" ] || die "$suite/runtimetest missing; remove $cache and retry"

# --- The report tool (this module) and gtu. ---------------------------------
work=$(mktemp -d /tmp/gtu-conformance-work.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/gtuconform" ./tests/conformance/gtuconform) ||
	die "could not build tests/conformance/gtuconform"

if [ ${#runtimes[@]} -eq 0 ]; then
	(cd "$repo" && bash scripts/build.sh bin/gtu) || die "scripts/build.sh bin/gtu failed"
	runtimes=("gtu=$repo/bin/gtu" "runc=/usr/sbin/runc")
fi
rtargs=()
for r in "${runtimes[@]}"; do rtargs+=(--runtime "$r"); done
[ -n "$out" ] || out=$(mktemp -d /tmp/gtu-conformance.XXXXXX)

echo "run.sh: suite ready after ${SECONDS}s"
rc=0
"$work/gtuconform" --suite "$suite" --suite-name "runtime-tools $suite_version" --out "$out" \
	--command "tests/conformance/run.sh${orig:+ $orig}" "${rtargs[@]}" ${driver[@]+"${driver[@]}"} || rc=$?
echo "run.sh: finished in ${SECONDS}s (exit status $rc)"
exit "$rc"
