#!/usr/bin/env bash
# Runs platform-wasm's browser suites in headless Chromium (wasm-bindgen-test-runner with
# chromedriver): the IndexedDB store, the web-client importer, and clients chatting through a
# test server over real WebSockets. Starts quickchat-server on a free port for the run and
# bakes its URL into the tests (QC_TEST_SERVER). Usage: scripts/wasm-test-browser.sh [test...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

chromedriver=${CHROMEDRIVER:-$(command -v chromedriver || true)}
if [ -z "$chromedriver" ]; then
    echo "chromedriver not found: run scripts/setup.sh (apt: chromium chromium-driver)" >&2
    exit 1
fi

# The test server, built by the host toolchain unless QC_SERVER_BIN names one.
if [ -n "${QC_SERVER_BIN:-}" ]; then
    server_bin=$QC_SERVER_BIN
else
    cargo build --quiet -p quickchat-testserver --bin quickchat-server
    server_bin="${CARGO_TARGET_DIR:-$root/target}/debug/quickchat-server"
fi
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
"$server_bin" --port 0 --db "$work/chat.db" --bcrypt-cost 4 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    grep -q 'listening on' "$work/server.log" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/server.log" | head -n 1)
if [ -z "$url" ]; then
    echo "quickchat-server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
echo "test server at $url"

source scripts/wasm-env.sh
export QC_TEST_SERVER="$url"
export CHROMEDRIVER="$chromedriver"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(browser_store browser_import browser_chat)
fi
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
"$WASM_CARGO" test --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-wasm "${args[@]}"
