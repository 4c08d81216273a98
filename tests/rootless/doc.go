// Package rootless holds gtu's real-binary integration tests.
//
// The tests drive a runtime binary exactly as podman, conmon or a person
// would: through its runc-compatible command line, with real bundles built
// from a static busybox rootfs (scripts/mkrootfs.sh). Nothing is mocked.
//
// The binary under test is $GTU_TEST_RUNTIME when set, otherwise a gtu built
// from ./cmd/gtu by TestMain. Pointing GTU_TEST_RUNTIME at runc 1.1.5
// (/usr/sbin/runc) checks the tests themselves: every test passes against
// runc except the assertions marked with specOnly, where gtu's documented
// behaviour deliberately differs from runc's, and gtu's own features
// (rootless session, standalone mode, images, networking), which skip there.
//
// The suite runs as root (each test skips with its reason otherwise); the
// rootless tests (session_test.go, network_test.go, podman_user_test.go,
// standalone_test.go) run gtu as the unprivileged users that
// scripts/setup-test-host.sh creates: gtutest, with subordinate ids, and
// gtunosub, without.
package rootless
