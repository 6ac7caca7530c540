"""Moving an account with the Python package: export from one store, import into another,
and the conversation goes on from the new store with no new session (one first message with
an ``x3dh`` block in the whole conversation, as the backend keeps it) and no identity change
for the peer; the old store says ``account_moved``; bad files are refused."""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any, List

import pytest

from quickchat import Message, WhatsAppClient
from quickchat.exceptions import AuthenticationError, ValidationError, WhatsAppClientError
from quickchat.testing import TestServer

from conftest import MakeClient, within


def backend_history(server: TestServer, peer: str, me: str) -> List[Any]:
    """Every message between two users as the backend keeps them (no token needed)."""
    with urllib.request.urlopen(f"{server.url}/api/messages/{peer}?user={me}") as answer:
        data: List[Any] = json.load(answer)
        return data


async def test_an_account_moves_and_its_conversation_goes_on(
    make_client: MakeClient, server: TestServer, tmp_path: Path
) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert alice.user is not None and bob.user is not None
    alice_id, bob_id = alice.user.id, bob.user.id
    to_alice: asyncio.Queue[Message] = asyncio.Queue()
    to_bob: asyncio.Queue[Message] = asyncio.Queue()
    alice.on_message(to_alice.put_nowait)
    bob.on_message(to_bob.put_nowait)

    await alice.send_message(bob_id, "before the move")
    assert (await within(to_bob.get(), "the first message")).content == "before the move"
    await bob.send_message(alice_id, "reply before")
    assert (await within(to_alice.get(), "the reply")).content == "reply before"
    bob_sees = await bob.get_peer_fingerprint(alice_id)

    path = tmp_path / "alice.qcaccount"
    await alice.export_account(path, "file passphrase", history=True)
    assert path.read_bytes().startswith(b"QCACCT\0\n")
    assert b"before the move" not in path.read_bytes()
    with pytest.raises(WhatsAppClientError) as moved:
        await alice.send_message(bob_id, "from the old store")
    assert moved.value.code == "account_moved"
    with pytest.raises(ValidationError):
        await alice.export_account(path, "file passphrase")  # the file exists

    new_store = tmp_path / "alice-moved.redb"
    again = WhatsAppClient(server.url, new_store, "another store passphrase", kdf="insecure-for-tests", pacing=False)
    try:
        await again.open()
        with pytest.raises(AuthenticationError) as wrong:
            await again.import_account(path, "not the passphrase")
        assert wrong.value.code == "wrong_passphrase"
        damaged = tmp_path / "damaged.qcaccount"
        damaged.write_bytes(path.read_bytes()[:-40])
        with pytest.raises(ValidationError) as broken:
            await again.import_account(damaged, "file passphrase")
        assert broken.value.code == "archive_damaged"

        assert await again.import_account(path, "file passphrase") == alice_id
        assert again.user_id == alice_id
        history = await again.get_messages(bob_id)
        assert [m.content for m in history] == ["before the move", "reply before"]
        to_again: asyncio.Queue[Message] = asyncio.Queue()
        again.on_message(to_again.put_nowait)
        await again.connect(20.0)

        await again.send_message(bob_id, "after the move")
        assert (await within(to_bob.get(), "the message after the move")).content == "after the move"
        await bob.send_message(alice_id, "welcome back")
        assert (await within(to_again.get(), "the answer")).content == "welcome back"
        assert await bob.get_peer_fingerprint(alice_id) == bob_sees
        contents = [m["content"] for m in backend_history(server, bob_id, alice_id)]
        assert len(contents) == 4, contents
        assert ['"x3dh"' in c for c in contents] == [True, False, False, False], contents
    finally:
        await again.close()

    # Re-activation is explicit; then the old store may log in again.
    await alice.reactivate_account()


async def test_the_web_app_account_moves_to_python(
    make_client: MakeClient, server: TestServer, tmp_path: Path
) -> None:
    """The web app's own database (``quick-chat-e2ee``, written as the web app writes it, in
    Node over fake-indexeddb) with a session it used both ways → the npm package's top-level
    ``exportAccount`` → ``import_account`` here → the session goes on, with the same identity
    for the peer and no new first message."""
    repo = Path(__file__).resolve().parents[2]
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    assert (repo / "js" / "pkg" / "quickchat_wasm_bg.wasm").is_file(), "the npm package is not built: scripts/build-js.sh"
    assert (repo / "js" / "node_modules" / "fake-indexeddb").is_dir(), "npm --prefix js ci"
    bob = await make_client("bob")
    assert bob.user is not None
    bob_id = bob.user.id
    heard: List[Message] = []

    @bob.on_message
    async def echo(message: Message) -> None:
        heard.append(message)
        await bob.send_message(message.from_user, f"Echo: {message.content}")

    path = tmp_path / "web-app.qcaccount"
    script = Path(__file__).parent / "node" / "web_app_export.mjs"
    process = await asyncio.create_subprocess_exec(
        node,
        str(script),
        server.url,
        bob.user.username,
        str(path),
        "web app file passphrase",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, f"the web app's export failed: {err.decode()}"
    web = json.loads(out.decode().strip().splitlines()[-1])
    assert web["heard"] == ["Echo: hello from the web app", "Echo: still the web app"]
    assert [m.content for m in heard] == ["hello from the web app", "still the web app"]
    bob_sees = await bob.get_peer_fingerprint(web["userId"])
    assert path.read_bytes().startswith(b"QCACCT\0\n")

    moved = WhatsAppClient(server.url, tmp_path / "moved.redb", "store passphrase", kdf="insecure-for-tests", pacing=False)
    try:
        await moved.open()
        with pytest.raises(AuthenticationError) as wrong:
            await moved.import_account(path, "not the passphrase")
        assert wrong.value.code == "wrong_passphrase"
        assert await moved.import_account(path, "web app file passphrase") == web["userId"]
        # The web app keeps no login the file could carry.
        assert moved.user is None
        await moved.login(web["username"], web["password"])
        to_moved: asyncio.Queue[Message] = asyncio.Queue()
        moved.on_message(to_moved.put_nowait)
        await moved.connect(20.0)
        await moved.send_message(bob_id, "from Python after the move")
        answer = await within(to_moved.get(), "the echo after the move")
        assert answer.content == "Echo: from Python after the move"
        assert heard[-1].content == "from Python after the move"
        assert await bob.get_peer_fingerprint(web["userId"]) == bob_sees
        contents = [m["content"] for m in backend_history(server, bob_id, web["userId"])]
        assert len(contents) == 6, contents
        assert ['"x3dh"' in c for c in contents] == [True] + [False] * 5, contents
    finally:
        await moved.close()
