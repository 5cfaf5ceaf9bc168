#!/usr/bin/env bash
# `make lock`: the newest versions pyproject.toml's ranges allow (and the newest installers),
# written with their hashes by uv for this machine's Python 3.11 on linux x86_64; then the
# venv rebuilt from them, the whole suite (`make test`) and the attack mutations (`make
# mutations`) run with them, and, only if both pass, one commit of the locks alone (with the
# mutation figures of docs/security.md they produced). If either fails, the new locks stay in
# the work tree, uncommitted, for a look at what moved.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
LOCKS=(requirements/bootstrap.lock requirements/dev.lock)
if ! git diff --quiet HEAD --; then
    echo "lock.sh: the work tree has changes: commit or stash them first (the lock is tested" >&2
    echo "         against HEAD and committed alone)" >&2
    exit 1
fi
compile() {  # INPUT OUTPUT [uv options]
    local input="$1" output="$2"
    shift 2
    "$BIN/uv" pip compile --quiet --upgrade --generate-hashes --python "$BIN/python" \
        --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
        "$input" "$@" -o "$output"
}
compile requirements/bootstrap.in requirements/bootstrap.lock
compile pyproject.toml requirements/dev.lock --extra dev
moved="$(git diff --unified=0 -- "${LOCKS[@]}" | grep -E '^[-+][A-Za-z0-9._-]+==' | sed 's/ .*//' || true)"
if [ -z "$moved" ]; then
    echo "lock.sh: no version moved; nothing to commit"
    exit 0
fi
echo "lock.sh: versions that moved (- old, + new):"
echo "$moved" | sed 's/^/  /'
make test
make mutations
git commit --quiet -m "lock: the newest versions pyproject.toml allows; make test and make mutations pass

$moved" -- "${LOCKS[@]}" docs/security.md
echo "lock.sh: committed $(git rev-parse --short HEAD)"
