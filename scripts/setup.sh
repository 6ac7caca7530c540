#!/usr/bin/env bash
# Installs what the full test run needs and a fresh machine may lack. Idempotent.
# - rustfmt and clippy (rustup components);
# - a wasm32 toolchain: the rustup target where it can be downloaded, otherwise Debian's
#   rustc-web + rust-web-src + lld-19 (this project's CI machines cannot download rustup
#   targets);
# - cargo-fuzz, for the fuzzing smoke run.
set -euo pipefail

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root for: $*"; return 1
    fi
}

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    if ! rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
        if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || ! command -v wasm-ld-19 >/dev/null; then
            log "installing Debian's rustc-web, rust-web-src and lld-19 for wasm32 builds"
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                rustc-web cargo-web rust-web-src lld-19 >/dev/null
        fi
    fi
fi

if ! command -v cargo-fuzz >/dev/null; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
log "ready"
