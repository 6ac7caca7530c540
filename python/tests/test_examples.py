"""The examples in python/examples, run as users run them (a separate Python process)
against the session's test server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Dict

import pytest

from quickchat import Message
from quickchat.testing import TestServer

from conftest import MakeClient, unique, within

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example_env(server: TestServer, tmp_path: Path, name: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        QUICKCHAT_SERVER=server.url,
        QUICKCHAT_USERNAME=name,
        QUICKCHAT_PASSWORD="example-password",
        QUICKCHAT_STORE=str(tmp_path / f"{name}.redb"),
        QUICKCHAT_PASSPHRASE="example passphrase",
        QUICKCHAT_INSECURE_FAST_KDF="1",
        PYTHONUNBUFFERED="1",
    )
    return env


class Bot:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> str:
        assert self.process.stdout is not None
        raw = await within(self.process.stdout.readline(), "a line from the example")
        return raw.decode().rstrip("\n")

    async def stop(self) -> int:
        """Sends SIGTERM; the exit status (a failure shows the example's stderr)."""
        self.process.send_signal(signal.SIGTERM)
        code = await within(self.process.wait(), "the example to exit on SIGTERM")
        if code != 0 and self.process.stderr is not None:
            print((await self.process.stderr.read()).decode(), file=sys.stderr)
        return code


@asynccontextmanager
async def start(script: str, env: Dict[str, str]) -> AsyncIterator[Bot]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    bot = Bot(process)
    try:
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def ready(bot: Bot) -> None:
    while True:
        line = await bot.line()
        if line.startswith("ready:"):
            return
        assert line, "the example ended before it was ready"


@pytest.mark.parametrize(
    "script, sent, expected",
    [
        ("echo_bot.py", "hello echo", "hello echo"),
        ("command_bot.py", "/echo ping 42", "ping 42"),
        ("command_bot.py", "/nonsense", "unknown command. commands: /help, /time, /echo <text>, /whoami, /fingerprint, /users"),
    ],
)
async def test_a_one_to_one_bot_example_answers_and_stops_on_sigterm(
    script: str, sent: str, expected: str, server: TestServer, tmp_path: Path, make_client: MakeClient
) -> None:
    name = unique(script.split(".")[0])
    user = await make_client("user")
    replies: asyncio.Queue[Message] = asyncio.Queue()
    user.on_message(replies.put_nowait)
    async with start(script, example_env(server, tmp_path, name)) as bot:
        await ready(bot)
        await user.send_message(name, sent)
        reply = await within(replies.get(), f"{script}'s answer")
        assert reply.content == expected and reply.encrypted
        assert await bot.stop() == 0
        assert "stopped" in [await bot.line() for _ in range(2)]


async def test_group_bot_example(server: TestServer, tmp_path: Path, make_client: MakeClient) -> None:
    name = unique("group_bot")
    owner = await make_client("owner")
    heard: asyncio.Queue[Message] = asyncio.Queue()
    owner.on_group_message(heard.put_nowait)
    async with start("group_bot.py", example_env(server, tmp_path, name)) as bot:
        await ready(bot)
        group = await owner.create_group("Bots", [name])
        await owner.send_group_message(group, "!ping")
        while (reply := await within(heard.get(), "pong")).content != "pong":
            pass
        assert reply.group_id == group.id
        assert await bot.stop() == 0


async def test_key_management_example_runs_to_completion(server: TestServer, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "key_management.py"),
        env=example_env(server, tmp_path, "unused"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await within(process.communicate(), "key_management to finish")
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert "matches what alice shows: True" in text
    assert "bob verified alice: True" in text
    assert "verifying a wrong fingerprint: ValidationError (fingerprint_mismatch)" in text
    assert text.rstrip().endswith("done")
