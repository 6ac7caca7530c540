#!/usr/bin/env bash
# Every check of the project, as CI runs it: formatting, lints, all tests (vectors, golden
# replay, properties, integration), the wasm32 build of core, and a fuzzing smoke run.
# Usage: scripts/test.sh            (QC_FUZZ_SECONDS=0 skips the fuzzing smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Incremental caches only help a developer's next edit; in a full run they double the disk
# used by debug builds.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "setup"
scripts/setup.sh

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "docs (every public item documented, every intra-doc link resolves)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# A suite that silently ran nothing is a failure.
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
for suite in vectors golden properties; do
    grep -q "Running tests/$suite.rs" "$log" || { echo "suite $suite did not run" >&2; exit 1; }
done
[ "$passed" -gt 0 ] || { echo "no tests ran" >&2; exit 1; }
echo "$passed tests passed"

# The binaries the later steps run (CLI, test server, examples), with the feature set the test
# build just used: a `cargo build -p <one package>` would compile the dependency graph again
# with other features (dev-dependencies switch some on), gigabytes more on disk.
cargo build --workspace --bins --examples
bins="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug"  # absolute: later steps run elsewhere
export QUICKCHAT_CLI="$bins/quickchat" QC_CLI_BIN="$bins/quickchat" QC_SERVER_BIN="$bins/quickchat-server"

step "native crypto against libsodium (scripts/bench-libsodium.py: the core against a PyNaCl client of the same protocol, interleaved rounds; reported, not gating, on a shared machine)"
python3 scripts/bench-libsodium.py --report

step "scale bench smoke run (one bot, 200 peers; the full run: --release ... --peers 100,1000,10000)"
"$bins/examples/scale" --peers 200 --messages 1000

step "wasm32 build of core"
scripts/wasm-check.sh

step "browser SDK: clippy for wasm32 (platform-wasm)"
scripts/wasm-clippy.sh

step "browser SDK: core's vector suite on wasm32, in Node"
scripts/wasm-test-node.sh

step "browser SDK: platform-wasm in headless Chromium (IndexedDB store, importer, chat)"
scripts/wasm-test-browser.sh

step "browser SDK: the npm package (build, Node suites, types, packed tarball in Vite + Chromium)"
npm --prefix js test

step "Python package: the abi3 wheel (maturin), a fresh-venv install, mypy --strict, the pytest suite against the in-process test server"
scripts/python-test.sh

step "browser SDK: download size of each entry point against its target (js/scripts/size.mjs: the drop-in's is enforced; the whole SDK's, still missed, is reported)"
QC_SIZE_ALLOW_OVER=. node js/scripts/size.mjs

step "web demo: end-to-end tests in Chromium (two browsers, groups, native CLI, reload, server restart)"
npm --prefix web-demo test

seconds=${QC_FUZZ_SECONDS:-20}
if [ "$seconds" -gt 0 ]; then
    step "fuzzing smoke run (${seconds}s per target)"
    (
        cd core
        # envelope_decrypt: messages from peers; server_frame: what the backend sends;
        # session_record: the stored session records; archive_open: account files.
        for target in envelope_decrypt server_frame session_record archive_open; do
            mkdir -p "fuzz/corpus/$target"
            RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" \
                "fuzz/corpus/$target" "fuzz/corpus-seed/$target" \
                -- -max_total_time="$seconds" 2>&1 | tail -n 3
        done
    )
fi

step "disk used by the build (CI once ran out of it)"
du -sh "${CARGO_TARGET_DIR:-target}" core/fuzz/target 2>/dev/null || true
df -h . | tail -n 1

step "all checks passed"
