#!/usr/bin/env bash
# The codebase's boundaries and lints, run by `make test` before the tests; any failure fails the target.
#   ruff check          pyflakes, pycodestyle errors, bugbear, isort, pyupgrade, Django, complexity <= 15
#   ruff format --check the whole tree is formatted
#   lint-imports        the import contracts in .importlinter (engine framework-free, core apps independent
#                       of features, web modules free of model libraries, features' internals private)
#   mypy                ml/engine type-checks ([tool.mypy] in pyproject.toml)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0
run() {
    echo "== $*"
    "$@" || status=1
}
run "$BIN/ruff" check --no-cache .
run "$BIN/ruff" format --check --no-cache .
run "$BIN/lint-imports" --no-cache
run "$BIN/mypy"
if [ "$status" -ne 0 ]; then
    echo "lint: FAILED (see above)" >&2
fi
exit "$status"
