#!/usr/bin/env bash
# `make test-latest`: will the next `make lock` pass? A scratch venv (var/latest-venv) with
# the newest versions pyproject.toml's ranges allow, no lock (the installers stay pinned: they
# are not the project's dependencies); the versions that moved from the locks; then lint,
# typecheck, the tests and the attack mutations with that venv, each run even if one before
# it failed; and what failed. Exit status 1 if anything did. The work tree is not changed
# (the mutation figures are not written into docs/security.md).
#     make test-latest                                             # everything
#     make test-latest PYTEST_ARGS="-x -n 2" MUTATIONS_ARGS=utf8   # a shorter look
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=var/latest-venv
rm -rf "$VENV"
mkdir -p var
"${PYTHON:-python3}" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --quiet --disable-pip-version-check)
"${PIP[@]}" install --require-hashes --no-deps -r requirements/bootstrap.lock || exit 1
"${PIP[@]}" install --upgrade --upgrade-strategy eager -e '.[dev]' \
    --config-settings editable_mode=compat || exit 1
echo "== versions that moved from the locks (lock -> latest):"
"$VENV/bin/python" scripts/lockdiff.py
failed=()
for step in lint typecheck "browser pytest" mutations; do
    echo "== make $step (VENV=$VENV)"
    # shellcheck disable=SC2086  # "browser pytest" is two targets
    make --no-print-directory $step VENV="$VENV" READY= MUTATIONS_ARGS="${MUTATIONS_ARGS:-}" \
        || failed+=("${step#browser }")
done
if [ ${#failed[@]} -eq 0 ]; then
    echo "== test-latest: everything passed with the newest versions"
else
    echo "== test-latest: FAILED with the newest versions: ${failed[*]}"
    exit 1
fi
