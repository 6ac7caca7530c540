"""Echo bot throughput and the Python layer's CPU cost per message.

    python bench/echo_bench.py            # QC_BENCH_MESSAGES (default 3000), QC_BENCH_ROUNDS (3)

Starts the test server in this process, then, in turn, two echo bots in child processes
on the same native client, each with a real store file (every commit durable) and no
pacing (the driver is an SDK client):

- ``python``: a ``quickchat.WhatsAppClient`` with an ``async`` ``on_message`` handler that
  awaits ``send_message`` (what a Python bot author writes);
- ``rust``: the same bot in Rust alone (``quickchat._quickchat.rust_echo_bot``: the
  client's event stream, one reply task per message), Python only starting it and
  waiting for its reply count.

A driver client here sends the bot N encrypted messages (at most 64 unanswered) and
counts the encrypted replies. Each bot reports the CPU time of its whole process (all
threads) over the measured messages, after a warm-up; the Python layer's cost is the
difference per message (median over rounds, each round running both bots back to back).
Both bots take events in the same batches (a millisecond after the first, all that are
ready), so their replies share store commits alike. Also printed: the CPU of the threads
that run Python (the event loop and the package's delivery thread), which includes the
kernel's cost of waking them. Prints a table; exits 1 when a target is missed (≥ 1,000 replies/s
from the Python bot, ≤ 50 µs of CPU per message for the Python layer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from quickchat import Message, WhatsAppClient
from quickchat._quickchat import NativeClient, rust_echo_bot
from quickchat.testing import TestServer

WARMUP = 200
WINDOW = 64
TARGET_RATE = 1000.0
TARGET_OVERHEAD_US = 50.0


# ---- the bots (child processes) ---------------------------------------------------------


def python_threads_cpu() -> float:
    """CPU seconds of the threads that run Python: this one (the event loop: asyncio, the
    handlers, the package's Python code) and the package's delivery thread (results into
    Python objects). Linux: /proc/self/task/*/schedstat (ns)."""
    total = time.thread_time()
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "quickchat-deliv":
                total += int((task / "schedstat").read_text().split()[0]) / 1e9
        except OSError:
            pass
    return total


def mark() -> tuple[float, float, float]:
    return time.process_time(), python_threads_cpu(), time.perf_counter()


async def python_bot(url: str, store: str, username: str, total: int) -> Dict[str, float]:
    client = WhatsAppClient(url, store, "bench passphrase", kdf="insecure-for-tests", pacing=False)
    marks: List[tuple[float, float, float]] = []
    done = asyncio.Event()
    replied = 0
    await client.register(username, "bench-password")

    @client.on_message
    async def echo(message: Message) -> None:
        nonlocal replied
        await client.send_message(message.from_user, message.content)
        replied += 1
        if replied == WARMUP or replied == total:
            marks.append(mark())
            if replied == total:
                done.set()

    await client.connect()
    print("ready", flush=True)
    await done.wait()
    await client.close()
    (cpu0, py0, wall0), (cpu1, py1, wall1) = marks
    return {"cpu": cpu1 - cpu0, "python": py1 - py0, "wall": wall1 - wall0}


async def rust_bot(url: str, store: str, username: str, total: int) -> Dict[str, float]:
    native = await NativeClient.open(url, store, "bench passphrase", kdf="insecure-for-tests", pacing=False)
    await native.register(username, "bench-password")
    await native.connect_and_wait(15.0)
    bot = rust_echo_bot(native)
    print("ready", flush=True)
    await bot.wait_for(WARMUP)
    cpu0, py0, wall0 = mark()
    await bot.wait_for(total)
    cpu1, py1, wall1 = mark()
    bot.stop()
    await native.close()
    return {"cpu": cpu1 - cpu0, "python": py1 - py0, "wall": wall1 - wall0}


# ---- the driver (this process) -----------------------------------------------------------


async def drive(url: str, bot_name: str, bot: asyncio.subprocess.Process, total: int) -> Dict[str, float]:
    driver = WhatsAppClient(url, kdf="insecure-for-tests", pacing=False)
    window = asyncio.Semaphore(WINDOW)
    replies = 0
    done = asyncio.Event()
    marks: Dict[int, float] = {}

    @driver.on_message
    def reply(message: Message) -> None:
        nonlocal replies
        replies += 1
        window.release()
        if replies in (WARMUP, total):
            marks[replies] = time.perf_counter()
        if replies == total:
            done.set()

    async with driver:
        await driver.register(f"driver_{os.getpid()}_{time.monotonic_ns()}", "bench-password")
        await driver.connect()
        assert bot.stdout is not None
        line = await asyncio.wait_for(bot.stdout.readline(), 60)
        assert line.strip() == b"ready", line
        sends = []
        for i in range(total):
            await window.acquire()
            sends.append(asyncio.ensure_future(driver.send_message(bot_name, f"message {i:06d} " + "x" * 80)))
        await asyncio.wait_for(done.wait(), 300)
        await asyncio.gather(*sends)
    return {"rate": (total - WARMUP) / (marks[total] - marks[WARMUP])}


async def run_round(server: TestServer, mode: str, count: int, directory: Path) -> Dict[str, float]:
    total = WARMUP + count
    name = f"{mode}_bot_{os.getpid()}_{time.monotonic_ns()}"
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        mode,
        "--server",
        server.url,
        "--store",
        str(directory / f"{name}.redb"),
        "--username",
        name,
        "--total",
        str(total),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        result = await drive(server.url, name, bot, total)
        assert bot.stdout is not None
        out = await asyncio.wait_for(bot.stdout.read(), 60)
        await bot.wait()
        if bot.returncode != 0:
            raise RuntimeError(f"the {mode} bot failed ({bot.returncode})")
        measured = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    return {
        "rate": result["rate"],
        "cpu_us": measured["cpu"] / count * 1e6,
        "python_us": measured["python"] / count * 1e6,
        "bot_rate": count / measured["wall"],
    }


async def bench(count: int, rounds: int) -> int:
    server = TestServer()
    results: Dict[str, List[Dict[str, float]]] = {"rust": [], "python": []}
    try:
        with tempfile.TemporaryDirectory() as directory:
            for _ in range(rounds):
                for mode in ("rust", "python"):
                    results[mode].append(await run_round(server, mode, count, Path(directory)))
    finally:
        await server.aclose()

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(f"echo bot on loopback: {count} encrypted messages and replies per round, {rounds} rounds, medians")
    print(f"{'bot':<8}{'replies/s':>12}{'bot CPU µs/msg':>18}{'Python threads µs/msg':>24}")
    for mode in ("rust", "python"):
        print(
            f"{mode:<8}{median(mode, 'rate'):>12.0f}{median(mode, 'cpu_us'):>18.1f}"
            f"{median(mode, 'python_us'):>24.1f}"
        )
    overheads = [p["cpu_us"] - r["cpu_us"] for p, r in zip(results["python"], results["rust"])]
    overhead = statistics.median(overheads)
    print(
        f"Python layer: {overhead:+.1f} µs CPU per message over the Rust bot (whole process, median; rounds: "
        f"{', '.join(f'{d:+.1f}' for d in overheads)})"
    )
    threads = [p["python_us"] - r["python_us"] for p, r in zip(results["python"], results["rust"])]
    rate = median("python", "rate")
    ratio = median("python", "cpu_us") / median("rust", "cpu_us")
    print(
        f"CPU of the threads running Python (event loop, delivery thread): {statistics.median(threads):+.1f} µs "
        f"per message more than the Rust bot's (thread wake-ups included); the Python bot's process uses "
        f"{ratio:.2f}× the Rust bot's CPU"
    )
    print(f"Python bot: {rate:.0f} replies/s, {rate / median('rust', 'rate'):.2f}× the Rust bot's rate")
    ok = True
    if rate < TARGET_RATE:
        print(f"MISSED: the Python bot answered {rate:.0f}/s, target ≥ {TARGET_RATE:.0f}/s")
        ok = False
    if overhead > TARGET_OVERHEAD_US:
        print(f"MISSED: the Python layer costs {overhead:.1f} µs per message, target ≤ {TARGET_OVERHEAD_US:.0f} µs")
        ok = False
    return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", choices=("python", "rust"))
    parser.add_argument("--server")
    parser.add_argument("--store")
    parser.add_argument("--username")
    parser.add_argument("--total", type=int)
    args = parser.parse_args(argv)
    if args.child:
        bot = python_bot if args.child == "python" else rust_bot
        measured = asyncio.run(bot(args.server, args.store, args.username, args.total))
        print(json.dumps(measured), flush=True)
        return 0
    count = int(os.environ.get("QC_BENCH_MESSAGES", "3000"))
    rounds = int(os.environ.get("QC_BENCH_ROUNDS", "3"))
    return asyncio.run(bench(count, rounds))


if __name__ == "__main__":
    sys.exit(main())
