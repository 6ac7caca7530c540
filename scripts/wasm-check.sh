#!/usr/bin/env bash
# Builds the portable core for wasm32-unknown-unknown: proof that it has no native-only
# dependency. Usage: scripts/wasm-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh
"$WASM_CARGO" build --release --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-core
echo "quickchat-core builds for wasm32-unknown-unknown"
