#!/usr/bin/env bash
# Line coverage of core and the native crate, per crate, from their whole test suites (unit,
# integration and doc tests against the in-process test server): cargo-llvm-cov, with
# rustup's llvm-tools. Prints one line per crate and writes the per-file table to
# target/coverage/summary.txt. Usage: scripts/coverage.sh
# Needs a rustup toolchain (llvm-tools-preview must match the compiler); on a machine
# without one it stops and says so rather than measuring something else.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[coverage]\033[0m %s\n' "$*" >&2; }

if ! command -v rustup >/dev/null; then
    log "coverage needs rustup's llvm-tools-preview, and this machine has no rustup toolchain"
    exit 1
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
    log "installing llvm-tools-preview"
    rustup component add llvm-tools-preview
fi
if ! cargo llvm-cov --version >/dev/null 2>&1; then
    log "installing cargo-llvm-cov"
    cargo install cargo-llvm-cov --locked
fi

out=target/coverage
mkdir -p "$out"
# The test server is exercised as a tool here, not measured: only the two crates count.
cargo llvm-cov --package quickchat-core --package quickchat --features quickchat-core/testing \
    --json --summary-only --output-path "$out/summary.json" \
    --ignore-filename-regex '(tests/server|/tests/|/benches/|/examples/|core/src/testing/)'
python3 - "$out/summary.json" <<'PY' | tee "$out/summary.txt"
import json, sys
data = json.load(open(sys.argv[1]))["data"][0]
crates = {"core/src/": "quickchat-core", "platform-native/src/": "quickchat (native)"}
totals = {name: [0, 0] for name in crates.values()}
rows = []
for f in data["files"]:
    name = f["filename"]
    lines = f["summary"]["lines"]
    for prefix, crate in crates.items():
        if prefix in name:
            totals[crate][0] += lines["covered"]
            totals[crate][1] += lines["count"]
            rows.append((name[name.index(prefix):], lines["covered"], lines["count"]))
for crate, (covered, count) in totals.items():
    print(f"{crate}: {100 * covered / max(count, 1):.1f} % of {count} lines")
print()
for name, covered, count in sorted(rows, key=lambda r: r[1] / max(r[2], 1)):
    print(f"{100 * covered / max(count, 1):5.1f} %  {count:5d}  {name}")
PY
