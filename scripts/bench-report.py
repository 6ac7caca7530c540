#!/usr/bin/env python3
"""Prints the crypto benchmarks of the last `cargo bench -p quickchat-core --bench crypto`
run as a table: each mean, its ratio to the baseline measured in the same run (one raw
X25519 scalar multiplication), and the issue's target where there is one.

Usage: scripts/bench-report.py [criterion dir]   (default: target/criterion)
Exit status 1 if a target is missed."""
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")
BASELINE = "baseline/x25519_scalar_mult"
# Targets from the core issue, in nanoseconds.
TARGETS = {
    "ratchet/encrypt_100B_same_chain": 2_000,
    "ratchet/decrypt_100B_same_chain": 2_000,
    "ratchet/dh_step_decrypt_100B": 120_000,
    "x3dh/initiator": 250_000,
    "x3dh/responder": 250_000,
}


def load():
    """{benchmark id: mean ns} for every benchmark criterion recorded."""
    found = {}
    for entry in sorted(os.listdir(ROOT)):
        new = os.path.join(ROOT, entry, "new")
        if not os.path.exists(os.path.join(new, "estimates.json")):
            continue
        with open(os.path.join(new, "benchmark.json")) as f:
            name = json.load(f)["full_id"]
        with open(os.path.join(new, "estimates.json")) as f:
            found[name] = json.load(f)["mean"]["point_estimate"]
    return found


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


means = load()
if BASELINE not in means:
    sys.exit(f"no {BASELINE} in {ROOT}: run `cargo bench -p quickchat-core --bench crypto` first")
base = means[BASELINE]
missed = 0
print(f"| benchmark | mean | × X25519 | target | |")
print(f"|---|---|---|---|---|")
for name, ns in sorted(means.items()):
    target = TARGETS.get(name)
    verdict = "" if target is None else ("ok" if ns <= target else "MISSED")
    missed += verdict == "MISSED"
    print(f"| {name} | {fmt(ns)} | {ns / base:.3f} | {fmt(target) if target else ''} | {verdict} |")
sys.exit(1 if missed else 0)
