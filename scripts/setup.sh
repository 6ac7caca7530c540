#!/usr/bin/env bash
# Installs what the full test run needs and a fresh machine may lack. Idempotent.
# - rustfmt and clippy (rustup components);
# - a wasm32 toolchain: the rustup target where it can be downloaded, otherwise Debian's
#   rustc-web + rust-web-src + lld-19 (this project's CI machines cannot download rustup
#   targets);
# - cargo-fuzz, for the fuzzing smoke run;
# - python3-venv, for the libsodium comparison and the Python package.
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

# The npm package is built with std from source (scripts/build-js.sh): on the rustup route
# that needs the toolchain's rust-src; where it cannot be downloaded, Debian's rust-web-src.
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    && ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    if ! rustup component add rust-src >/dev/null 2>&1; then
        if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || ! command -v wasm-ld-19 >/dev/null; then
            log "rust-src cannot be downloaded: installing Debian's rustc-web, rust-web-src and lld-19"
            as_root apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                rustc-web cargo-web rust-web-src lld-19 >/dev/null
        fi
    fi
fi

# Python's venv (Debian packages it apart), for the libsodium comparison bench and the
# Python package's build and tests, each in a virtual environment of its own.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    log "installing python3-venv"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

if ! command -v cargo-fuzz >/dev/null; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

# --- The browser SDK (platform-wasm, js/): Chromium and chromedriver for the browser tests,
# Node >= 20 with js/'s npm packages, wasm-bindgen-cli at exactly Cargo.lock's version, and
# Debian's clippy for the wasm32 lint on the rustc-web route.
root="$(cd "$(dirname "$0")/.." && pwd)"
browser_packages=()
command -v chromium >/dev/null || browser_packages+=(chromium)
command -v chromedriver >/dev/null || browser_packages+=(chromium-driver)
command -v node >/dev/null || browser_packages+=(nodejs npm)
if [ -x /usr/bin/rustc ] && ! [ -x /usr/bin/cargo-clippy ] \
    && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    browser_packages+=(rust-web-clippy)
fi
if [ ${#browser_packages[@]} -gt 0 ]; then
    log "installing ${browser_packages[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_packages[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    log "Node.js >= 20 is needed for js/ (found $(node --version)); install a current Node"
    exit 1
fi
bindgen_version=$(grep -A1 '^name = "wasm-bindgen"$' "$root/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
if [ -n "$bindgen_version" ] && ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
    log "installing wasm-bindgen-cli $bindgen_version"
    cargo install wasm-bindgen-cli --version "$bindgen_version" --quiet
fi
if [ ! -f "$root/js/node_modules/.package-lock.json" ] \
    || [ "$root/js/package-lock.json" -nt "$root/js/node_modules/.package-lock.json" ]; then
    log "installing js/'s npm packages (npm ci)"
    (cd "$root/js" && npm ci --no-audit --no-fund --silent)
fi
# --- The web demo (web-demo/): its npm packages (Vite, TypeScript, qrcode, playwright-core;
# the SDK is ../js through a file: dependency). Chromium is installed above.
if [ ! -f "$root/web-demo/node_modules/.package-lock.json" ] \
    || [ "$root/web-demo/package-lock.json" -nt "$root/web-demo/node_modules/.package-lock.json" ]; then
    log "installing web-demo's npm packages (npm ci)"
    (cd "$root/web-demo" && npm ci --no-audit --no-fund --silent)
fi
log "ready"
