#!/usr/bin/env python3
"""Prints the store benchmarks of the last `cargo bench -p quickchat --bench store` run as a
table: each mean, its ratio to the baseline measured in the same run, the rate it means, and
the target where there is one.

Baselines: open -> the Argon2id derivation alone; commit -> a raw redb commit of the same
bytes at the same durability, without serialization or sealing; read -> an empty
spawn_blocking round trip; codec -> the JSON round trip of the same record.

Usage: platform-native/benches/report.py [criterion dir]
       (default: $CARGO_TARGET_DIR/criterion, else target/criterion)
Exit status 1 if a target is missed."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "..", "target")),
                       "criterion")
ROOT = sys.argv[1] if len(sys.argv) > 1 else DEFAULT

# Targets (ns per iteration) from the store's brief.
TARGETS = {
    "open/open/10k_messages_1k_sessions": 200e6,
    "open/open/10k_messages_1k_sessions_then_first_reads": 200e6,
}


def load():
    """{benchmark id: mean ns} for every benchmark criterion recorded."""
    found = {}
    for dirpath, _, files in os.walk(ROOT):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            name = json.load(f)["full_id"]
        with open(os.path.join(dirpath, "estimates.json")) as f:
            found[name] = json.load(f)["mean"]["point_estimate"]
    return found


def baseline(name):
    if name.startswith("open/"):
        return "open/baseline/argon2id_derive"
    if name.startswith("commit/"):
        return ("commit/baseline/raw_redb_commit_same_bytes_deferred" if "deferred" in name
                else "commit/baseline/raw_redb_commit_same_bytes_immediate")
    if name.startswith("read/"):
        return "read/baseline/tokio_spawn_blocking_noop"
    if name.startswith("codec/"):
        return name.replace("cbor", "json")
    return None


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def rate(name, ns):
    if name.startswith("commit/"):
        per = 50 if "50_messages" in name else 1
        unit = "messages/s" if per > 1 else "commits/s"
        return f"{per * 1e9 / ns:,.0f} {unit}"
    return ""


means = load()
if "open/baseline/argon2id_derive" not in means:
    sys.exit(f"no store benchmarks in {ROOT}: run `cargo bench -p quickchat --bench store` first")
missed = 0
print("| benchmark | mean | ratio | to baseline | rate | target |")
print("|---|---|---|---|---|---|")
for name, ns in sorted(means.items()):
    base = baseline(name)
    ratio = f"{ns / means[base]:.2f}" if base in means and base != name else ""
    shown_base = base.split("/", 1)[1] if ratio else ""
    target = TARGETS.get(name)
    verdict = ""
    if target is not None:
        verdict = f"≤ {fmt(target)} " + ("ok" if ns <= target else "MISSED")
        missed += ns > target
    print(f"| {name.split('/', 1)[1]} | {fmt(ns)} | {ratio} | {shown_base} | {rate(name, ns)} | {verdict} |")
sys.exit(1 if missed else 0)
