"""A Python bot chatting with the other ways into the SDK, each in its own process: the
native CLI (`quickchat`, platform-native/cli) and the npm package in Node (js/).

The CLI binary is `QUICKCHAT_CLI`, else the workspace's target/debug/quickchat or
target/release/quickchat (scripts/python-test.sh builds the first); the Node peer needs js/pkg (the built npm package) and
js/node_modules. A missing one fails the test: nothing here is skipped silently."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from quickchat import Message, WhatsAppClient

from conftest import TIMEOUT, MakeClient, unique, within
from quickchat.testing import TestServer

REPO = Path(__file__).resolve().parents[2]


def cli_binary() -> str:
    named = os.environ.get("QUICKCHAT_CLI")
    candidates = [Path(named)] if named else [REPO / "target" / p / "quickchat" for p in ("debug", "release")]
    for binary in candidates:
        if binary.is_file():
            return str(binary)
    raise AssertionError(
        f"the quickchat CLI is not built ({', '.join(map(str, candidates))}): "
        "cargo build -p quickchat-cli, or set QUICKCHAT_CLI"
    )


async def run(args: List[str], env: Dict[str, str], timeout: float = 60.0) -> Tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{args} did not finish within {timeout} s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def echo_bot(
    bot: WhatsAppClient, gate: Optional[asyncio.Event] = None
) -> Tuple[List[Message], "asyncio.Queue[Message]"]:
    """Registers an echo handler; returns what it received and a queue of its replies.
    With `gate`, each reply waits until the gate is set."""
    heard: List[Message] = []
    replies: asyncio.Queue[Message] = asyncio.Queue()

    @bot.on_message
    async def echo(message: Message) -> None:
        heard.append(message)
        if gate is not None:
            await gate.wait()
        replies.put_nowait(await bot.send_message(message.from_user, f"Echo: {message.content}"))

    return heard, replies


async def accepted(bot: WhatsAppClient, statuses: "asyncio.Queue[Tuple[str, str]]", message: Message) -> None:
    """Waits until the server stored `message` (so that a later catch-up finds it)."""
    if message.status != "pending":
        return
    while True:
        message_id, status = await within(statuses.get(), "the server to accept the reply")
        if message_id == message.id and status != "pending":
            return


async def test_python_bot_and_native_cli_user(
    make_client: MakeClient, server: TestServer, tmp_path: Path
) -> None:
    bot = await make_client("pybot", pacing=True)
    # The reply waits until the CLI's `send` has exited: that process stays connected while
    # it closes, and a reply arriving then would be read (and stored) by it, not by `listen`.
    cli_offline = asyncio.Event()
    heard, replies = echo_bot(bot, cli_offline)
    statuses: asyncio.Queue[Tuple[str, str]] = asyncio.Queue()
    bot.on_message_status(lambda message_id, status: statuses.put_nowait((message_id, status)))
    assert bot.user is not None
    name = unique("cli")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "QUICKCHAT_SERVER": server.url,
        "QUICKCHAT_STORE": str(tmp_path / "cli.redb"),
        "QUICKCHAT_PASSPHRASE": "cli store passphrase",
        "QUICKCHAT_PASSWORD": "cli-password",
        "QUICKCHAT_INSECURE_FAST_KDF": "1",
        "QUICKCHAT_WAIT": "30",
    }
    cli = cli_binary()
    code, out, err = await run([cli, "register", name], env)
    assert code == 0, err
    cli_id = json.loads(out)["userId"]

    code, out, err = await run([cli, "send", bot.user.username, "hello from the CLI"], env)
    assert code == 0, err
    sent = json.loads(out)
    assert sent["encrypted"] is True
    cli_offline.set()

    # The bot answers while the CLI is offline; `listen` catches the answer up, decrypted.
    await accepted(bot, statuses, await within(replies.get(), "the bot's answer"))
    code, out, err = await run(
        [cli, "listen", "--count", "1", "--type", "message", "--timeout", "30"], env
    )
    assert code == 0, err
    event = json.loads(out.splitlines()[0])
    assert event["message"]["body"] == "Echo: hello from the CLI"
    assert event["message"]["senderId"] == bot.user_id
    assert event["message"]["encrypted"] is True

    assert [m.content for m in heard] == ["hello from the CLI"]
    assert heard[0].from_user == cli_id and heard[0].encrypted

    # And the other way: the bot writes first to the CLI user, who reads it decrypted.
    await accepted(bot, statuses, await bot.send_message(name, "a second one, from the bot"))
    code, out, err = await run(
        [cli, "listen", "--count", "1", "--type", "message", "--timeout", "30"], env
    )
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["message"]["body"] == "a second one, from the bot"


async def test_python_bot_and_npm_package_in_node(make_client: MakeClient, server: TestServer) -> None:
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    assert (REPO / "js" / "pkg" / "quickchat_wasm_bg.wasm").is_file(), (
        "the npm package is not built (js/pkg): scripts/build-js.sh"
    )
    assert (REPO / "js" / "node_modules" / "ws").is_dir(), "npm --prefix js ci"
    bot = await make_client("pybot", pacing=True)
    heard, _ = echo_bot(bot)
    assert bot.user is not None
    script = Path(__file__).parent / "node" / "peer.mjs"
    code, out, err = await run(
        [node, str(script), server.url, bot.user.username, "hello from Node"],
        {"PATH": os.environ.get("PATH", "")},
        timeout=TIMEOUT * 3,
    )
    assert code == 0, f"node peer failed ({code}): {err}"
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["sentEncrypted"] is True
    assert answer["message"]["body"] == "Echo: hello from Node"
    assert answer["message"]["encrypted"] is True
    assert [m.content for m in heard] == ["hello from Node"]
    assert heard[0].from_user == answer["me"]
