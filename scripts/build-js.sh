#!/usr/bin/env bash
# Builds the npm package `quickchat` (js/) from platform-wasm: the wasm in a size-optimised
# release profile, wasm-bindgen's ESM glue (`--target web`, which both Vite and Node >= 20
# load; the package picks the loader), then wasm-opt from the npm package `binaryen`.
# Output: js/pkg/ (generated, git-ignored): the three modules below; and js/dist/, src/ bundled
# and minified for browsers. Usage: scripts/build-js.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh
log() { printf '\033[1m[build-js]\033[0m %s\n' "$*" >&2; }

# What is shipped is built with std from source, for size, with panics that abort at once:
# a markedly smaller .wasm. Two routes give it: a rustup toolchain with its `rust-src`
# component, or Debian's rustc-web with rust-web-src (scripts/setup.sh installs one of them).
# Without either the build stops rather than silently shipping the larger modules;
# QC_WASM_PREBUILT_STD=1 builds with the prebuilt std on purpose.
if [ ${#WASM_BUILD_STD[@]} -gt 0 ]; then
    log "std: built from source (Debian's rustc-web and rust-web-src)"
elif [ -n "${QC_WASM_PREBUILT_STD:-}" ]; then
    log "std: prebuilt (QC_WASM_PREBUILT_STD is set): larger modules than the ones shipped"
elif [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    WASM_BUILD_STD=(-Zbuild-std=std,panic_abort)
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/std-from-source"
    log "std: built from source (rustup's rust-src)"
elif [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] \
    && command -v wasm-ld-19 >/dev/null; then
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19
    WASM_CARGO=/usr/bin/cargo
    WASM_BUILD_STD=(-Zbuild-std=std,panic_abort)
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/std-from-source"
    log "std: built from source (Debian's rustc-web and rust-web-src)"
else
    log "std's sources are missing, so the modules cannot be built as shipped: run scripts/setup.sh (rustup component add rust-src, or Debian's rust-web-src), or set QC_WASM_PREBUILT_STD=1 for larger modules with the prebuilt std"
    exit 1
fi

# The profile lives here rather than in the workspace manifest (whose profiles apply to every
# crate): small code (opt-level z), one codegen unit, LTO, abort on panic — except the crates
# of the crypto on the message path, which are built for speed. Core itself is built for
# size: the generic RustCrypto code it used to instantiate (Salsa20's rounds, HMAC, HKDF),
# which at opt-level z made a message about twice as slow, is instantiated in
# quickchat-primitives, built for speed (js/README.md, "Speed and size").
profile=wasm-release
opt_level=${QC_WASM_OPT_LEVEL:-z}
case "$opt_level" in [0-9]) ;; *) opt_level="\"$opt_level\"" ;; esac
profile_flags=(
    --config "profile.$profile.inherits=\"release\""
    --config "profile.$profile.opt-level=$opt_level"
    --config "profile.$profile.lto=true"
    --config "profile.$profile.codegen-units=1"
    --config "profile.$profile.panic=\"abort\""
    --config "profile.$profile.debug=false"
)
fast_crates="quickchat-primitives curve25519-dalek x25519-dalek ed25519-dalek salsa20 poly1305 sha2 hmac
    hkdf crypto_secretbox cipher universal-hash digest block-buffer base64 zeroize subtle"
for crate in ${QC_WASM_FAST_CRATES-$fast_crates}; do
    profile_flags+=(--config "profile.$profile.package.$crate.opt-level=3")
done
# QC_WASM_CRATE_OPT: other per-crate levels, for measuring (later ones win; e.g.
# "quickchat-core=3").
for setting in ${QC_WASM_CRATE_OPT:-}; do
    level=${setting#*=}
    case "$level" in [0-9]) ;; *) level="\"$level\"" ;; esac
    profile_flags+=(--config "profile.$profile.package.${setting%%=*}.opt-level=$level")
done
# No file names and lines in panic locations (the wasm aborts on panic anyway); std built
# for size.
# (-Z flags: RUSTC_BOOTSTRAP lets a stable compiler take them, as scripts/wasm-env.sh does.)
export RUSTC_BOOTSTRAP=1
# Derived Debug output is shallow (type names only): it appears in no message of the SDK.
rustflags="--cfg poly1305_force_soft -Zlocation-detail=none -Zfmt-debug=shallow"
std_flags=()
if [ ${#WASM_BUILD_STD[@]} -gt 0 ]; then
    std_flags=(-Zbuild-std-features=optimize_for_size)
    # With std built here, a panic can abort at once, without formatting its message: on
    # wasm32-unknown-unknown the message went nowhere anyway (no stderr, no panic hook),
    # so nothing observable changes, and the panic machinery leaves the module (about 11 KB
    # gzipped off each .wasm). Needs std compiled the same way, hence only on this route.
    rustflags+=" -Zunstable-options -Cpanic=immediate-abort"
fi
# WebAssembly SIMD (128-bit), which every current browser and Node >= 16.4 run (Safari since
# 16.4): LLVM vectorises parts of the crypto with it. Measured (bench, alternating builds):
# a drop-in encryption about 10 % faster, and each module about 15 KB gzipped smaller.
# QC_WASM_NO_SIMD=1 builds for engines without it.
opt_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
    --enable-mutable-globals --enable-reference-types --enable-multivalue)
if [ -z "${QC_WASM_NO_SIMD:-}" ]; then
    rustflags+=" -Ctarget-feature=+simd128"
    opt_features+=(--enable-simd)
fi
export RUSTFLAGS="$rustflags ${QC_WASM_RUSTFLAGS:-}"
# What wasm-opt may assume: nothing lives below address 1024 (`--low-memory-unused`, which
# lets it fold small constants into loads' and stores' offsets: 0.8 KB gzipped off the
# drop-in's module). Rust's wasm32 layout puts the 1 MiB stack first, growing down from
# 1 MiB towards 0, and the data after it: only a stack within 1 KiB of overflowing reaches
# that low, and the modules' stacks stay shallow (their futures live on the heap).
opt_features+=(--low-memory-unused)

bindgen=$(command -v wasm-bindgen || true)
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ -z "$bindgen" ] || [ "$("$bindgen" --version | awk '{print $2}')" != "$want" ]; then
    echo "wasm-bindgen $want is needed (cargo install wasm-bindgen-cli --version $want); see scripts/setup.sh" >&2
    exit 1
fi

out=js/pkg
rm -rf "$out"
opt=js/node_modules/.bin/wasm-opt
esbuild=js/node_modules/.bin/esbuild

# Three modules from the one crate: `quickchat_wasm` (everything; the entry point `quickchat`),
# `quickchat_crypto` (the feature `dropin` without `client`: the drop-in and the key store; the
# entry point `quickchat/crypto`), so that a page using only the drop-in loads no client
# code, and `quickchat_import` (the feature `importer` alone: reads and converts the web
# client's database), which the drop-in loads only on a new user's first run.
# `build_module NAME BUILD CARGO-ARGS...`: BUILD `smallest` trades CPU outside the message
# path for size, for the drop-in's module, in a target directory of its own (so that the
# two builds do not rebuild each other's crates), each measured on its own:
# - LLVM's inliner held back (`-inline-threshold=0`): code called from several places
#   stays one function, 6.1 KB gzipped. It applies to the whole module, the crypto crates
#   too (the flag reaches the link-time optimisation, where a crate's own opt-level no
#   longer counts): with bench/ab.mjs a message that takes a DH ratchet step costs about
#   1.4x the CPU, an X3DH 1.03-1.07x, messages on one chain no more; with it, MIR
#   inlining off and LLVM's threshold for `#[inline]`-hinted functions at 0: 2.1 KB more,
#   the CPU within the noise of bench/ab.mjs;
# - the AES of the store's sealing in its compact form (`aes_backend_soft="compact"`) and
#   base64 built for size: 1.4 KB together; the sealing runs once per write of a burst,
#   base64 on a message's few hundred bytes.
# The browser bench, where each message waits for IndexedDB, stays at its targets
# (js/README.md, "Speed").
build_module() {
    local name=$1 build=$2
    shift 2
    local target_dir=$CARGO_TARGET_DIR flags=$RUSTFLAGS settings=()
    if [ "$build" = smallest ]; then
        target_dir=$CARGO_TARGET_DIR/smallest
        flags="$flags -Cllvm-args=-inline-threshold=0 -Cllvm-args=-inlinehint-threshold=0"
        flags="$flags -Zinline-mir=no --cfg aes_backend_soft=\"compact\""
        settings=(--config "profile.$profile.package.base64.opt-level=\"z\"")
    fi
    local wasm="$target_dir/wasm32-unknown-unknown/$profile/quickchat_wasm.wasm"
    log "compiling quickchat-wasm for wasm32-unknown-unknown ($profile, $build build) as $name"
    CARGO_TARGET_DIR=$target_dir RUSTFLAGS=$flags \
        "$WASM_CARGO" build --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}" \
        "${std_flags[@]}" -p quickchat-wasm --lib --profile "$profile" "${profile_flags[@]}" \
        "${settings[@]}" "$@"
    # Kept with its function names for analysis (twiggy top target/.../<name>.wasm).
    cp "$wasm" "$(dirname "$wasm")/$name.names.wasm"

    log "wasm-bindgen $want --target web ($name)"
    "$bindgen" --target web --weak-refs --out-dir "$out" --out-name "$name" "$wasm"
    if [ -x "$opt" ]; then
        log "wasm-opt (binaryen $("$opt" --version | awk '{print $3}'))"
        "$opt" "-O${QC_WASM_OPT_PASS:-z}" --strip-debug --strip-producers --strip-target-features \
            "${opt_features[@]}" \
            "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
        # Short import and export names, in the .wasm and its glue (scripts/minify-names.mjs).
        node js/scripts/minify-names.mjs "$opt" "$out/${name}_bg.wasm" "$out/$name.js" \
            "${opt_features[@]}" >&2
    elif [ -n "${QC_ALLOW_UNOPTIMIZED:-}" ]; then
        log "wasm-opt not found; QC_ALLOW_UNOPTIMIZED is set: the .wasm is not post-optimised (not what is shipped)"
    else
        log "wasm-opt not found: run npm ci in js/ (or set QC_ALLOW_UNOPTIMIZED=1 for a build that is not what is shipped)"
        exit 1
    fi
    # The generated glue is shipped minified (whitespace, syntax and local names; exports
    # and property names stay): about half its gzipped size. The hand-written src/ stays
    # readable.
    if [ -x "$esbuild" ]; then
        log "esbuild --minify ($name.js)"
        "$esbuild" "$out/$name.js" --minify --format=esm --log-level=warning \
            --allow-overwrite --outfile="$out/$name.js"
    elif [ -n "${QC_ALLOW_UNOPTIMIZED:-}" ]; then
        log "esbuild not found; QC_ALLOW_UNOPTIMIZED is set: the JS glue is not minified (not what is shipped)"
    else
        log "esbuild not found: run npm ci in js/ (or set QC_ALLOW_UNOPTIMIZED=1 for a build that is not what is shipped)"
        exit 1
    fi
}

# QC_WASM_MODULES: which to build (all three unless named; for measuring one).
modules=${QC_WASM_MODULES:-quickchat_wasm quickchat_crypto quickchat_import}
for name in $modules; do
    case "$name" in
        # The whole client without the drop-in's engines: the `quickchat` entry point's
        # KeyManager and SessionManager are quickchat/crypto's, on that module of their own.
        # QC_WASM_SDK_BUILD=smallest builds it as the drop-in's (measured: 6.7 KB gzipped
        # less; not shipped so, as the whole SDK's low-level `Ratchet` is measured on CPU).
        quickchat_wasm)
            build_module quickchat_wasm "${QC_WASM_SDK_BUILD:-default}" --no-default-features \
                --features "client ${QC_WASM_SDK_FEATURES-precomputed-tables}"
            ;;
        # The drop-in goes without curve25519-dalek's precomputed tables: its module is about
        # 36 KB gzipped smaller; X3DH and a message that takes a DH ratchet step cost
        # 20-30 % more CPU, which in the browser is small beside the IndexedDB transaction
        # each of them waits for (js/README.md, "Size").
        # QC_WASM_CRYPTO_FEATURES=precomputed-tables builds it with them. It is the smallest
        # build (see build_module); QC_WASM_CRYPTO_BUILD=default builds it as the others.
        quickchat_crypto)
            features="dropin ${QC_WASM_CRYPTO_FEATURES-}"
            build_module quickchat_crypto "${QC_WASM_CRYPTO_BUILD:-smallest}" --no-default-features \
                --features "$features"
            ;;
        # Runs once per user at most: built without the curve tables.
        quickchat_import) build_module quickchat_import default --no-default-features --features importer ;;
        *) echo "unknown module $name" >&2; exit 1 ;;
    esac
done

# What browsers load of the hand-written JavaScript: src/ bundled by entry point and
# minified into js/dist/ (js/scripts/dist.mjs; Node loads src/).
log "js/dist: src/ bundled and minified for browsers (js/scripts/dist.mjs)"
node js/scripts/dist.mjs

for name in $modules; do
    size=$(wc -c <"$out/${name}_bg.wasm")
    gz=$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)
    log "js/pkg/${name}_bg.wasm: $size bytes, $gz gzipped"
done
