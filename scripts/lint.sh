#!/usr/bin/env bash
# make lint (also the first step of make test): gofmt, go vet, and go.mod/go.sum exactly as
# `go mod tidy` would leave them.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "lint: gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "lint: go.mod/go.sum are not tidy; run \`go mod tidy\`:" >&2; echo "$tidy" >&2; exit 1
fi
echo "lint: gofmt, go vet and go mod tidy clean" >&2
