#!/usr/bin/env bash
# Runs platform-wasm's Node test suites (core's vector suite and client-logic scenarios on wasm32,
# the drop-in's memory store against core's) with
# wasm-bindgen-test-runner. QC_VECTORS_DIR, if set, is passed through to the suite.
# Usage: scripts/wasm-test-node.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
"$WASM_CARGO" test --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-wasm \
    --test core_vectors --test core_client_logic --test key_memory_store
