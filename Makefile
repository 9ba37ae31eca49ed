# Ferry — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := run

SWIFT       ?= swift
SHARED      ?= $(abspath ../shared)
TESTBED     := $(SHARED)/testbed
TESTBED_DIR ?= /tmp/testbed
VENV        := $(TESTBED_DIR)/venv
PYTHON      := $(VENV)/bin/python

# Debian packages the build needs (C headers of the libraries Ferry wraps).
BUILD_PACKAGES := pkg-config libssl-dev libssh-dev libcurl4-openssl-dev libcrypt-dev
# What the test suite needs besides the test bed's own installs (real FTP clients, Python venv,
# testssl.sh for the TLS audit, promtool from prometheus for the metrics page, HAProxy for the fleet
# tests).
TEST_PACKAGES  := curl lftp python3-venv testssl.sh prometheus haproxy

.PHONY: run install test bench bench-logins bench-memory bench-requests fuzz soak test-asan test-tsan build release deps test-deps unit-test integration-test check-swift clean

check-swift:
	@command -v $(SWIFT) >/dev/null || { echo "ferry: the Swift 6 toolchain (swift) is not on PATH; install it from swift.org first" >&2; exit 1; }

deps: check-swift
	@scripts/ensure-packages $(BUILD_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## make run: build and start Ferry's quick start (local storage ./data, FTP on 127.0.0.1:2121).
run: release
	$$($(SWIFT) build -c release --show-bin-path)/ferry serve

## make install: the release binary, the systemd unit (conf/systemd/ferry.service), the example
## configuration as /etc/ferry/ferry.toml when none exists, and the `ferry` service user.
install: release
	FERRY_BIN="$$($(SWIFT) build -c release --show-bin-path)/ferry" scripts/install

test-deps: deps
	@scripts/ensure-packages $(TEST_PACKAGES)
	@test -d "$(TESTBED)" || { echo "ferry: $(TESTBED) not found (the shared test bed must sit beside the repository)" >&2; exit 1; }
	@"$(TESTBED)/peers-install" >/dev/null
	@$(PYTHON) -c "import pytest" 2>/dev/null || $(VENV)/bin/pip install -q pytest
	@$(VENV)/bin/ssh-audit --help >/dev/null 2>&1 || $(VENV)/bin/pip install -q "ssh-audit==3.9.0"
	@$(VENV)/bin/moto_server --help >/dev/null 2>&1 || $(VENV)/bin/pip install -q "moto[server]==5.2.6"

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration-test: test-deps build
	cd Tests/IntegrationTests && FERRY_BIN="$$($(SWIFT) build --show-bin-path)/ferry" $(PYTHON) -m pytest -q -p no:cacheprovider

## make test: unit tests, then the integration suite with real clients, against one SeaweedFS
## started for the whole run (scripts/with-s3).
test: test-deps
	SHARED="$(SHARED)" scripts/with-s3 $(MAKE) unit-test integration-test

## make bench: Ferry next to direct S3 and rclone serve ftp, same run, same machine (not a test).
bench: test-deps
	SHARED="$(SHARED)" scripts/bench

## make bench-requests: S3 requests per file for each FTP operation, with the session's directory
## cache on and off, counted from Ferry's metrics against SeaweedFS (not a test).
bench-requests: test-deps build
	SHARED="$(SHARED)" FERRY_BIN="$$($(SWIFT) build --show-bin-path)/ferry" scripts/with-s3 $(PYTHON) scripts/bench-requests

## make bench-logins: FTP logins per second with the verified-login cache on and off (not a test).
bench-logins: release
	FERRY_BIN="$$($(SWIFT) build -c release --show-bin-path)/ferry" scripts/bench-logins

## make bench-memory: RSS per idle FTP/SFTP session; one transfer's MiB/s with [limits] transfer_memory
## free and nearly spent (not a test).
bench-memory: test-deps release
	SHARED="$(SHARED)" FERRY_BIN="$$($(SWIFT) build -c release --show-bin-path)/ferry" \
	  scripts/with-s3 $(PYTHON) scripts/bench-memory

## make test-asan / make test-tsan: the integration suite against Ferry built with AddressSanitizer
## or ThreadSanitizer; fails on any sanitizer report (not part of make test).
test-asan: test-deps
	SHARED="$(SHARED)" PYTHON="$(PYTHON)" scripts/with-s3 scripts/sanitized-test address

test-tsan: test-deps
	SHARED="$(SHARED)" PYTHON="$(PYTHON)" scripts/with-s3 scripts/sanitized-test thread

## make fuzz: libFuzzer on every parser that takes client or server bytes (not part of make test).
## FUZZ_SECONDS=N per target (default 60), FUZZ_TARGETS="path sftp ..." to choose.
fuzz: deps
	scripts/fuzz

## make soak: 50+ concurrent FTP, FTPS, SFTP and scp clients with random ABOR, dropped and killed
## clients, S3 failing 10 % of requests; then S3 is checked against the clients' record and Ferry's
## RSS, fds and threads for flatness (not part of make test). MINUTES=N (default 30).
soak: test-deps release
	SHARED="$(SHARED)" FERRY_BIN="$$($(SWIFT) build -c release --show-bin-path)/ferry" MINUTES="$(or $(MINUTES),30)" \
	  scripts/with-s3 $(PYTHON) scripts/soak

clean:
	rm -rf .build .build-fuzz .build-asan .build-tsan
