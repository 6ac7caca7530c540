"""Moving an account with the Python package: export from one store, import into another,
and the conversation goes on from the new store with no new session (one first message with
an ``x3dh`` block in the whole conversation, as the backend keeps it) and no identity change
for the peer; the old store says ``account_moved``; bad files are refused."""

from __future__ import annotations

import asyncio
import json
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
