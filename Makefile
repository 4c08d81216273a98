# Convenience targets; scripts/ holds the real commands (CI runs
# scripts/test.sh through .ci/run).
GO      ?= go
TAGS    ?= exclude_graphdriver_btrfs exclude_graphdriver_devicemapper
RUNC    ?= /usr/sbin/runc

.PHONY: all build test unit integration test-runc vet fmt demo rootfs setup clean

all: build

## build: compile bin/gtu
build:
	$(GO) build -tags "$(TAGS)" -o bin/gtu ./cmd/gtu

## test: everything CI runs (host set-up, vet, gofmt, all tests); needs root
test:
	bash scripts/test.sh

## unit: the tests that need no root and no host set-up
unit:
	$(GO) test -tags "$(TAGS)" -count=1 $$($(GO) list ./... | grep -v /tests/)

## integration: the real-binary tests against a fresh gtu; needs root
integration:
	$(GO) test -tags "$(TAGS)" -count=1 -v ./tests/rootless/

## test-runc: the integration tests against runc, to check the tests themselves
test-runc:
	GTU_TEST_RUNTIME=$(RUNC) $(GO) test -tags "$(TAGS)" -count=1 -v ./tests/rootless/

## vet: go vet
vet:
	$(GO) vet -tags "$(TAGS)" ./...

## fmt: gofmt every Go file in place
fmt:
	find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -w

## demo: build gtu and run a busybox container; needs root
demo:
	bash scripts/demo.sh

## rootfs: a busybox rootfs in _demo/rootfs (git-ignored)
rootfs:
	bash scripts/mkrootfs.sh _demo/rootfs

## setup: install and configure what the tests need; needs root
setup:
	bash scripts/setup-test-host.sh

clean:
	rm -rf bin _demo
