#!/usr/bin/env bash
# make lint (also the first step of make test): gofmt, go vet, staticcheck (pinned, built from
# the Go module proxy), go.mod/go.sum exactly as `go mod tidy` would leave them, and the
# documented flags of `codehub serve` matching its --help.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "lint: gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
"$(scripts/install-staticcheck.sh)" ./...
go test -count=1 -run 'TestServeFlagsDocumented' ./cmd/codehub >/dev/null || {
  echo "lint: docs/configuration.md and docs/authentication.md do not match codehub serve --help:" >&2
  go test -count=1 -run 'TestServeFlagsDocumented' ./cmd/codehub >&2; exit 1; }
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "lint: go.mod/go.sum are not tidy; run \`go mod tidy\`:" >&2; echo "$tidy" >&2; exit 1
fi
echo "lint: gofmt, go vet, staticcheck, go mod tidy and the flag docs clean" >&2
