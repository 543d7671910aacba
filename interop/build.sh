#!/usr/bin/env bash
# Builds the interop harness into interop/bin/kiteq-interop, only when a Go source, go.mod or
# go.sum is newer than the binary. Uses the default Go build and module caches, so only the
# first build on a machine downloads modules (from the Go module proxy) and compiles the
# dependencies. Safe to call concurrently (flock). Prints the binary's absolute path on stdout.
set -euo pipefail
cd "$(dirname "$0")"
here="$(pwd)"
bin="$here/bin/kiteq-interop"

# shellcheck source=interop/find-go.sh
source ./find-go.sh

mkdir -p bin
exec 9>bin/.build.lock
flock 9

stale() {
  [ -x "$bin" ] || return 0
  [ -n "$(find . -path ./bin -prune -o \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) \
          -newer "$bin" -print -quit)" ]
}

if stale; then
  echo "interop/build.sh: building $bin" >&2
  tmp="$bin.tmp.$$"
  GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly" "$GO" build -trimpath -o "$tmp" ./cmd/kiteq-interop
  mv -f "$tmp" "$bin"
fi
echo "$bin"
