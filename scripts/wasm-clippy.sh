#!/usr/bin/env bash
# Lints platform-wasm (library and tests) for wasm32-unknown-unknown with clippy, warnings
# as errors. Uses the same toolchain route as the wasm builds (scripts/wasm-env.sh); on the
# Debian route that is rust-web-clippy's cargo-clippy. Usage: scripts/wasm-clippy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh
if [ ${#WASM_BUILD_STD[@]} -gt 0 ]; then
    # Debian's cargo must find Debian's cargo-clippy, not the rustup proxy.
    export PATH="/usr/bin:$PATH"
fi
"$WASM_CARGO" clippy --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-wasm \
    --all-targets -- -D warnings
# The crate as the three modules are built (scripts/build-js.sh): the whole SDK without the
# drop-in, the drop-in without the feature `client`, the importer alone (the library only:
# the tests use both).
"$WASM_CARGO" clippy --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-wasm \
    --lib --no-default-features --features client,precomputed-tables -- -D warnings
"$WASM_CARGO" clippy --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-wasm \
    --lib --no-default-features --features dropin -- -D warnings
"$WASM_CARGO" clippy --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" -p quickchat-wasm \
    --lib --no-default-features --features importer -- -D warnings
