#!/usr/bin/env bash
# Sourced by scripts that build for wasm32-unknown-unknown. Picks the route that works here:
# - a rustup toolchain with the wasm32 target installed: use it as is;
# - otherwise Debian's rustc-web (rustc >= 1.96 with its standard-library sources) and
#   lld, building std for the target with -Zbuild-std (see README, "wasm32").
# Exports WASM_CARGO (the cargo to run) and WASM_BUILD_STD (extra cargo flags).

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    WASM_CARGO=cargo
    WASM_BUILD_STD=()
else
    if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || ! command -v wasm-ld-19 >/dev/null; then
        echo "wasm32 toolchain missing: run scripts/setup.sh (installs rustc-web, rust-web-src, lld-19)" >&2
        return 1 2>/dev/null || exit 1
    fi
    export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19
    WASM_CARGO=/usr/bin/cargo
    WASM_BUILD_STD=(-Zbuild-std=std,panic_abort)
fi
# The two compilers' artefacts do not mix: keep wasm builds in their own target dir.
export CARGO_TARGET_DIR="${WASM_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/wasm}"
