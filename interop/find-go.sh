# Sourced by build.sh and test.sh: sets GO to the Go command ($GO, then PATH, then /usr/local/go).
GO="${GO:-$(command -v go || true)}"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
if [ -z "$GO" ]; then echo "interop: go not found (need Go >= 1.26)" >&2; exit 1; fi
