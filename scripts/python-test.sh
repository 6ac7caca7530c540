#!/usr/bin/env bash
# The Python package (python/, issue #15): builds its one abi3 wheel with maturin, installs
# it into python/.venv (made if missing, with maturin, pytest, pytest-asyncio and mypy),
# checks that the wheel installs and runs in a fresh venv (the key_management example),
# type-checks the examples and the bench with `mypy --strict`, and runs the pytest suite
# against the in-process test server — including a Python bot chatting with the native CLI
# (target/debug/quickchat, or QUICKCHAT_CLI) and with the npm package in Node (js/pkg:
# built by scripts/build-js.sh when missing). Every build shares the workspace's target/.
#
# Usage: scripts/python-test.sh [pytest arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[python-test]\033[0m %s\n' "$*" >&2; }
VENV=python/.venv
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
    log "making $VENV"
    python3 -m venv "$VENV"
fi
"$PY" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2" pytest pytest-asyncio mypy

# The CLI for the interoperability test: built here unless QUICKCHAT_CLI names one
# (scripts/test.sh passes the one its workspace build made).
if [ -z "${QUICKCHAT_CLI:-}" ]; then
    log "building the quickchat CLI for the interoperability test"
    cargo build --locked -p quickchat-cli
    export QUICKCHAT_CLI="$PWD/target/debug/quickchat"
fi

if [ ! -f js/pkg/quickchat_wasm_bg.wasm ]; then
    log "js/pkg is missing: building the npm package"
    scripts/build-js.sh
fi
if [ ! -d js/node_modules/ws ]; then
    npm --prefix js ci --no-audit --no-fund
fi

log "building the wheel"
rm -rf python/dist
"$VENV/bin/maturin" build --release --locked -m python/Cargo.toml -o python/dist -i "$PY"
WHEEL=$(ls python/dist/quickchat-*-abi3-*.whl)
log "installing $WHEEL"
"$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"

log "the wheel in a fresh venv"
FRESH=$(mktemp -d)
trap 'rm -rf "$FRESH"' EXIT
python3 -m venv "$FRESH/venv"
"$FRESH/venv/bin/pip" install -q --disable-pip-version-check "$WHEEL"
(cd "$FRESH" && env -u QUICKCHAT_SERVER QUICKCHAT_INSECURE_FAST_KDF=1 \
    "$FRESH/venv/bin/python" "$OLDPWD/python/examples/key_management.py" >/dev/null)

log "mypy --strict on the examples, the bench and the tests"
(cd python && "../$VENV/bin/mypy" --strict examples bench tests)

log "pytest"
# Not `python -m pytest` from python/: that would import the source tree's quickchat (without
# its native module) instead of the installed wheel.
(cd python && "../$VENV/bin/pytest" -q "$@")
