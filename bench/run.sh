#!/usr/bin/env bash
# Benchmark gtu against runc (and crun where it runs) on one busybox bundle.
#
#   bench/run.sh [--short] [--runtime NAME=PATH ...] [driver options]
#
# Without --runtime it builds bin/gtu from this tree and measures
# gtu=bin/gtu, runc=/usr/sbin/runc and, if installed, crun=/usr/bin/crun.
# A runtime that cannot run the bundle is reported as skipped, with why.
# Driver options (see `go run ./bench/gtubench -h`): --runs N, --warmup N,
# --concurrency N, --rounds N, --only run,seccomp,steps,exec,rootless,concurrent,
# --out DIR, --rootless=false.
# Writes bench/results/{results.md,samples.csv,distribution.png}.
# Must run as root. Not a timed test: never gate on its absolute numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

usage() { sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

orig="$*"
runtimes=()
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--runtime) [ $# -ge 2 ] || { echo "run.sh: --runtime needs NAME=PATH" >&2; exit 2; }
		runtimes+=("$2"); shift 2 ;;
	--runtime=*) runtimes+=("${1#--runtime=}"); shift ;;
	*) args+=("$1"); shift ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: run as root (the rootless scenario drops to nobody by itself)" >&2
	exit 2
fi

# Tools, from Debian's archive, installed only when missing.
need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	echo "run.sh: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq "${need[@]}" >/dev/null
fi
# crun is measured where it runs; it is optional, so a failed install is fine.
if [ ${#runtimes[@]} -eq 0 ] && [ ! -x /usr/bin/crun ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq crun >/dev/null 2>&1 || true
fi

work=$(mktemp -d /tmp/gtu-bench.XXXXXX)
cleanup() {
	if [ -x "$work/gtubench" ]; then "$work/gtubench" cleanup --workdir "$work" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd "$repo" && go build -o "$work/gtubench" ./bench/gtubench)

driver=()
if [ ${#runtimes[@]} -eq 0 ]; then
	# The gtu under test is this tree's; if it does not build, it is reported
	# as skipped rather than a stale bin/gtu being measured.
	if (cd "$repo" && bash scripts/build.sh bin/gtu) 2>"$work/gtu-build.log"; then
		driver+=(--runtime "gtu=$repo/bin/gtu")
	else
		driver+=(--runtime "gtu=$repo/bin/gtu" --skip "gtu=scripts/build.sh failed: $(head -c 300 "$work/gtu-build.log" | tr '\n' ' ')")
	fi
	driver+=(--runtime runc=/usr/sbin/runc)
	[ -x /usr/bin/crun ] && driver+=(--runtime crun=/usr/bin/crun)
else
	for r in "${runtimes[@]}"; do driver+=(--runtime "$r"); done
fi

"$work/gtubench" run --workdir "$work" --out "$here/results" --command "bench/run.sh${orig:+ $orig}" \
	"${driver[@]}" ${args[@]+"${args[@]}"}
