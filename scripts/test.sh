#!/usr/bin/env bash
# test.sh: the project's one test command; CI runs exactly this (.ci/run).
#
#   sudo bash scripts/test.sh
#
# Sets up the host (as root), then go vet, a gofmt check and go test over
# every package: unit tests and the real-binary integration tests in
# tests/rootless, which need root and skip with a reason otherwise.
# GTU_TEST_RUNTIME=/usr/sbin/runc runs the integration tests against runc
# instead of a freshly built gtu (to check the tests themselves).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Plain `go vet ./...` and `go test ./...`, as a developer types them: the
# set-up installs libbtrfs-dev, whose header go.podman.io/storage's btrfs
# driver (cgo) needs. (scripts/build.sh builds gtu-storage static, without
# cgo, so the driver is not in what ships.)

if [ "$(id -u)" -eq 0 ]; then
	bash scripts/setup-test-host.sh
else
	echo "test.sh: not root: host set-up skipped; the integration tests in tests/rootless will skip" >&2
fi

echo "== go vet ./..."
go vet ./...

echo "== gofmt -l"
unformatted=$(find . -name '*.go' -not -path './.git/*' -not -path './vendor/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)
if [ -n "$unformatted" ]; then
	echo "test.sh: not gofmt-formatted (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go test ./..."
# The integration suite takes a few minutes; the timeout only stops a hung
# runtime from eating CI's 90 minutes. -p 1: packages share host-wide
# things (the test user's cgroup delegation, its systemd --user manager and
# rootless session), so they run one after another; tests inside a package
# still run in parallel.
go test -count=1 -p 1 -timeout 30m ./...

# The OCI runtime-tools suite against gtu and runc side by side. It reports
# and does not gate (it fails only when it cannot build or run) while the
# list of assertions runc passes and gtu fails is not yet empty (see
# tests/conformance/results/summary.md).
bash tests/conformance/run.sh
