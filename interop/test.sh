#!/usr/bin/env bash
# Runs the Go harness's own tests (go test ./... [args]): its wire codec, and its commands against
# the fake broker in internal/fakebroker; with KITEQ_TEST_ZK (the suite's ZooKeeper) or
# KITEQ_INTEROP_ZK set, its zk:// registry too. test/interop/go-unit.test.ts runs this in the suite.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=interop/find-go.sh
source ./find-go.sh
# the command tests build the harness with the `go` on PATH
PATH="$(dirname "$GO"):$PATH"
export KITEQ_INTEROP_ZK="${KITEQ_INTEROP_ZK:-${KITEQ_TEST_ZK:-}}"
GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly" exec "$GO" test -count=1 "$@" ./...
