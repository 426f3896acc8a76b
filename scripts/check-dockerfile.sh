#!/usr/bin/env bash
# Lints the project's Dockerfiles with two pinned npm linters (scripts/install-npm-tools.sh):
#   dockerfile-utils - a current Dockerfile parser (syntax, instructions, flags);
#   dockerfilelint   - best-practice rules (apt-get -y, --no-install-recommends, ports, ...).
# Exits non-zero on any finding of either, or when a linter cannot run (named in the message).
set -euo pipefail
cd "$(dirname "$0")/.."
dockerfiles=(images/workspace/Dockerfile images/control-plane/Dockerfile)
bin=$(scripts/install-npm-tools.sh)

for tool in dockerfile-utils dockerfilelint; do
  if [ ! -x "$bin/$tool" ]; then
    echo "check-dockerfile: linter $tool is missing ($bin/$tool); run scripts/install-npm-tools.sh" >&2
    exit 1
  fi
done

err=$(mktemp)
trap 'rm -f "$err"' EXIT
status=0
for f in "${dockerfiles[@]}"; do
  # dockerfile-utils exits 1 when it has findings; only its JSON on stdout counts, and only
  # when it is JSON: anything else means the linter itself failed.
  rc=0
  findings=$("$bin/dockerfile-utils" lint --json "$f" 2>"$err") || rc=$?
  if ! node -e 'JSON.parse(process.argv[1])' "$findings" 2>/dev/null; then
    echo "check-dockerfile: dockerfile-utils failed on $f (exit $rc), not a lint result:" >&2
    cat "$err" >&2; echo "$findings" | head -20 >&2
    exit 1
  fi
  if [ "$findings" != "[]" ]; then
    echo "check-dockerfile: dockerfile-utils findings in $f:" >&2
    node -e 'for (const d of JSON.parse(process.argv[1])) console.error(`${process.argv[2]}:${d.range.start.line + 1}: ${d.severity}: ${d.message}`)' "$findings" "$f"
    status=1
  fi
  # dockerfilelint flags "FROM scratch AS name" as a base image without a tag (it only knows a
  # bare "FROM scratch"); that one false finding is dropped, every other finding counts.
  rc=0
  out=$("$bin/dockerfilelint" -j "$f" 2>"$err") || rc=$?
  if ! left=$(node -e '
    const r = JSON.parse(process.argv[1]);
    const left = r.files.flatMap(f => f.issues).filter(i =>
      !(i.title === "Base Image Missing Tag" && /^FROM\s+scratch(\s+AS\s+\S+)?\s*$/i.test(i.content)));
    for (const i of left) console.log(`${process.argv[2]}:${i.line}: ${i.category}: ${i.title}: ${i.description} (${i.content})`);
  ' "$out" "$f" 2>/dev/null); then
    echo "check-dockerfile: dockerfilelint failed on $f (exit $rc), not a lint result:" >&2
    cat "$err" >&2; echo "$out" | head -20 >&2
    exit 1
  fi
  if [ -n "$left" ]; then
    echo "check-dockerfile: dockerfilelint findings in $f:" >&2
    echo "$left" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "check-dockerfile: ${dockerfiles[*]} clean" >&2
exit "$status"
