"""Every method of the client against the in-process test server, over real sockets and
real store files."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from quickchat import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConnectionError,
    Group,
    Message,
    User,
    ValidationError,
    WhatsAppClient,
    WhatsAppClientError,
)
from quickchat.testing import TestServer

from conftest import MakeClient, unique, within

# The smallest PNG there is (1x1, transparent).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


async def test_account_properties_users_and_prekeys(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert alice.is_authenticated and alice.is_connected
    assert isinstance(alice.user, User)
    assert alice.user_id == alice.user.id
    assert Client is WhatsAppClient and AsyncClient is WhatsAppClient

    users = await alice.list_users()
    names = {user.username for user in users}
    assert bob.user is not None and alice.user is not None
    assert {alice.user.username, bob.user.username} <= names

    by_name = await alice.find_user(bob.user.username)
    by_id = await alice.find_user(bob.user.id)
    assert by_name == by_id == bob.user
    assert await alice.find_user(unique("nobody")) is None

    status = await alice.get_prekey_status()
    assert status.signed_prekey_id is not None
    assert status.one_time_prekeys > 0

    online = await within(_until(lambda: _online(alice, bob.user_id)), "bob online")
    assert online
    assert await alice.is_user_online(bob.user.username)
    assert bob.user_id in {user.id for user in await alice.get_online_users()}


async def _online(client: WhatsAppClient, user_id: object) -> bool:
    return user_id in {user.id for user in await client.get_online_users()}


async def _until(check: "object") -> bool:
    while True:
        if await check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)


async def test_fingerprints_sessions_and_verification(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert bob.user is not None
    mine = bob.get_fingerprint()
    assert len(mine) == 60

    fingerprint = await alice.ensure_session(bob.user.username)
    assert fingerprint == mine
    assert await alice.get_peer_fingerprint(bob.user.id) == mine
    sessions = await alice.list_sessions()
    assert [(s.peer_id, s.fingerprint, s.verified) for s in sessions] == [(bob.user_id, mine, False)]

    grouped = " ".join(mine[i : i + 5] for i in range(0, 60, 5)).lower()
    assert WhatsAppClient.compare_fingerprints(mine, grouped)
    assert not WhatsAppClient.compare_fingerprints(mine, alice.get_fingerprint())
    with pytest.raises(ValidationError) as bad:
        WhatsAppClient.compare_fingerprints(mine, "not a fingerprint")
    assert bad.value.code == "invalid_argument"

    assert not await alice.is_fingerprint_verified(bob.user.id)
    with pytest.raises(ValidationError) as mismatch:
        await alice.verify_fingerprint(bob.user.id, alice.get_fingerprint())
    assert mismatch.value.code == "fingerprint_mismatch"
    assert not await alice.is_fingerprint_verified(bob.user.id)

    await alice.verify_fingerprint(bob.user.id, grouped, verified=True)
    assert await alice.is_fingerprint_verified(bob.user.username)
    assert await alice.get_verified_fingerprints() == {bob.user.id: mine}
    assert [s.verified for s in await alice.list_sessions()] == [True]

    await alice.verify_fingerprint(bob.user.id, verified=False)
    assert not await alice.is_fingerprint_verified(bob.user.id)
    assert await alice.get_verified_fingerprints() == {}


async def test_messages_history_search_typing_receipts_and_images(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert alice.user is not None and bob.user is not None
    received: asyncio.Queue[Message] = asyncio.Queue()
    bob.on_message(received.put_nowait)  # a plain function as handler
    typing: asyncio.Queue[Tuple[str, bool]] = asyncio.Queue()

    @bob.on_typing
    async def typed(user_id: str, is_typing: bool) -> None:
        await typing.put((user_id, is_typing))

    statuses: asyncio.Queue[Tuple[str, str]] = asyncio.Queue()
    alice.on_message_status(lambda message_id, status: statuses.put_nowait((message_id, status)))

    await alice.send_typing(bob.user.username)
    assert await within(typing.get(), "typing") == (alice.user.id, True)
    await alice.send_typing(bob.user.id, False)
    assert await within(typing.get(), "typing off") == (alice.user.id, False)

    first = await alice.send_message(bob.user.username, "first: apples")
    second = await alice.send_message(bob.user.id, "second: pears")
    got = [await within(received.get(), "message") for _ in range(2)]
    assert sorted(m.content for m in got) == ["first: apples", "second: pears"]
    assert all(m.encrypted and m.from_user == alice.user.id for m in got)

    await bob.mark_as_read(alice.user.id, got)
    seen: Set[str] = set()
    while {first.id, second.id} - seen:
        message_id, status = await within(statuses.get(), "read receipts")
        if status == "read":
            seen.add(message_id)

    history = await alice.get_messages(bob.user.username, limit=50)
    assert [m.content for m in history] == ["first: apples", "second: pears"]
    assert [m.content for m in await alice.get_messages(bob.user.id, limit=1)] == ["second: pears"]
    hits = await bob.search_messages("PEARS")
    assert [m.content for m in hits] == ["second: pears"]
    assert [m.content for m in await bob.search_messages("apples", peer=alice.user.id)] == ["first: apples"]
    conversations = await bob.get_conversations()
    assert [(c.kind, c.id) for c in conversations] == [("direct", alice.user.id)]
    assert conversations[0].last_message.content in ("first: apples", "second: pears")
    assert (await bob.get_message(first.id)) is not None

    image = await alice.send_image(bob.user.id, PNG)
    assert image.kind == "image" and not image.encrypted
    got_image = await within(received.get(), "the image")
    assert got_image.kind == "image"
    assert got_image.image_data == "data:image/png;base64," + base64.b64encode(PNG).decode()


async def test_send_image_from_a_path(make_client: MakeClient, tmp_path: Path) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    received: asyncio.Queue[Message] = asyncio.Queue()
    bob.on_message(received.put_nowait)
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    assert bob.user is not None
    await alice.send_image(bob.user.username, path)
    got = await within(received.get(), "the image")
    assert got.image_data is not None and got.image_data.startswith("data:image/png;base64,")
    with pytest.raises(ValidationError):
        await alice.send_image(bob.user.id, tmp_path / "missing.png")
    with pytest.raises(ValidationError):
        await alice.send_image(bob.user.id, b"not an image")


async def test_groups(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    carol = await make_client("carol")
    assert alice.user is not None and bob.user is not None and carol.user is not None
    heard: asyncio.Queue[Message] = asyncio.Queue()
    bob.on_group_message(heard.put_nowait)

    group = await alice.create_group("Team", [bob.user.username], description="a test group")
    assert isinstance(group, Group) and group.name == "Team" and group.role == "owner"
    assert group.id in {g.id for g in await bob.get_groups()}
    assert (await bob.get_group(group.id)).name == "Team"
    assert (await alice.get_group(group)).owner_id == alice.user.id

    await alice.send_group_message(group, "hello team")
    message = await within(heard.get(), "the group message")
    assert message.content == "hello team"
    assert message.group_id == group.id and message.from_user == alice.user.id
    history = await bob.get_group_messages(group.id, limit=50)
    assert "hello team" in [m.content for m in history]

    assert await alice.add_group_member(group.id, carol.user.username)
    assert not await alice.add_group_member(group.id, carol.user.id)  # already in
    members = {m.user_id: m.role for m in await alice.get_group_members(group.id)}
    assert members == {alice.user.id: "owner", bob.user.id: "member", carol.user.id: "member"}
    assert await alice.remove_group_member(group.id, carol.user.id)
    assert await bob.leave_group(group.id)
    assert group.id not in {g.id for g in await bob.get_groups()}
    with pytest.raises(WhatsAppClientError) as refused:
        await alice.leave_group(group.id)  # the owner cannot
    assert refused.value.code.startswith("http_")


async def test_presence_and_connection_status(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    presence: asyncio.Queue[Tuple[str, bool]] = asyncio.Queue()
    alice.on_presence(lambda user_id, online: presence.put_nowait((user_id, online)))
    statuses: List[str] = []
    bob = await make_client("bob", register=False, auto_connect=False)
    bob.on_status(statuses.append)
    await bob.register(unique("bob"), "secret123")
    await bob.connect()
    # connect() returned on the caught-up event; the handler sees it right after.
    await within(_until(lambda: _has(statuses, "caught_up")), "caught_up")
    assert statuses.index("connected") < statuses.index("caught_up")
    bob_id = bob.user_id
    while (await within(presence.get(), "bob online")) != (bob_id, True):
        pass
    await bob.close()
    assert bob.user is None and not bob.is_connected
    while (await within(presence.get(), "bob offline")) != (bob_id, False):
        pass


async def test_async_context_manager_and_run_until_close(server: TestServer, tmp_path: Path) -> None:
    async with AsyncClient(server.url, tmp_path / "ctx.redb", "pass", kdf="insecure-for-tests") as client:
        await client.register(unique("ctx"), "secret123")
        runner = asyncio.ensure_future(client.run())
        await within(_until(lambda: _connected(client)), "connected")
        assert not runner.done()
        await client.close()
        await within(runner, "run() to return after close()")
    assert not client.is_connected
    with pytest.raises(ConnectionError) as closed:
        await client.send_message("anyone", "hello")
    assert closed.value.code == "closed"


async def _has(items: List[str], item: str) -> bool:
    return item in items


async def _connected(client: WhatsAppClient) -> bool:
    return client.is_connected


async def test_run_stops_on_sigterm(make_client: MakeClient) -> None:
    client = await make_client("signalled")
    runner = asyncio.ensure_future(client.run())
    await asyncio.sleep(0.2)
    assert not runner.done()
    os.kill(os.getpid(), signal.SIGTERM)
    await within(runner, "run() to return on SIGTERM")
    assert not client.is_connected


async def test_bot_restart_keeps_identity_history_and_sessions(
    server: TestServer, make_client: MakeClient, tmp_path: Path
) -> None:
    alice = await make_client("alice")
    to_alice: asyncio.Queue[Message] = asyncio.Queue()
    alice.on_message(to_alice.put_nowait)
    store = tmp_path / "bot.redb"
    name = unique("bot")

    bot = WhatsAppClient(server.url, store, "bot passphrase", kdf="insecure-for-tests", pacing=False)
    await bot.register(name, "secret123")
    await bot.connect()
    fingerprint = bot.get_fingerprint()
    assert alice.user is not None
    await bot.send_message(alice.user.id, "before the restart")
    assert (await within(to_alice.get(), "first message")).content == "before the restart"
    bot_id = bot.user_id
    await bot.close()

    again = WhatsAppClient(server.url, store, "bot passphrase", kdf="insecure-for-tests", pacing=False)
    try:
        await again.open()
        assert again.is_authenticated and again.user_id == bot_id  # no login needed
        assert again.get_fingerprint() == fingerprint
        assert [s.peer_id for s in await again.list_sessions()] == [alice.user.id]
        assert [m.content for m in await again.get_messages(alice.user.id)] == ["before the restart"]
        heard: asyncio.Queue[Message] = asyncio.Queue()
        again.on_message(heard.put_nowait)
        await again.connect()
        await alice.send_message(name, "after the restart")
        got = await within(heard.get(), "message after the restart")
        assert got.content == "after the restart" and got.encrypted
        await again.send_message(alice.user.id, "still me")
        assert (await within(to_alice.get(), "reply after the restart")).content == "still me"
        assert await alice.get_peer_fingerprint(name) == fingerprint
    finally:
        await again.close()

    with pytest.raises(AuthenticationError) as wrong:
        await WhatsAppClient(server.url, store, "not the passphrase").open()
    assert wrong.value.code == "wrong_passphrase"


async def test_login_logout_and_keys_of_another_device(
    server: TestServer, make_client: MakeClient, tmp_path: Path
) -> None:
    first = await make_client("multi")
    assert first.user is not None
    name = first.user.username
    await first.logout()
    assert not first.is_authenticated and first.user is None
    with pytest.raises(AuthenticationError) as out:
        await first.send_message(name, "nobody is logged in")
    assert out.value.code == "not_logged_in"
    with pytest.raises(AuthenticationError) as out:
        first.get_fingerprint()
    user = await first.login(name, "secret123")
    assert user.username == name and first.is_authenticated

    with pytest.raises(AuthenticationError) as bad_password:
        await first.login(name, "wrong password")
    assert bad_password.value.code == "http_401"

    other = await make_client(register=False)
    with pytest.raises(AuthenticationError) as elsewhere:
        await other.login(name, "secret123")
    assert elsewhere.value.code == "keys_in_use_elsewhere"
    replaced = await other.login(name, "secret123", replace_keys=True)
    assert replaced.id == user.id


async def test_bad_input_raises_the_right_exception(make_client: MakeClient, server: TestServer) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert bob.user is not None
    cases = [
        (alice.send_message("", "hi"), ValidationError, "invalid_argument"),
        (alice.send_message(bob.user.id, ""), ValidationError, "invalid_argument"),
        (alice.send_message(bob.user.id, 42), ValidationError, "invalid_argument"),  # type: ignore[arg-type]
        (alice.send_message(unique("ghost"), "hi"), ValidationError, "unknown_user"),
        (alice.get_messages(bob.user.id, limit=0), ValidationError, "invalid_argument"),
        (alice.get_group_messages("", limit=5), ValidationError, "invalid_argument"),
        (alice.mark_as_read(bob.user.id, []), ValidationError, "invalid_argument"),
        (alice.register(bob.user.username, "secret123"), WhatsAppClientError, None),
    ]
    for call, kind, code in cases:
        with pytest.raises(kind) as raised:
            await call
        if code is not None:
            assert raised.value.code == code, raised.value
        assert isinstance(raised.value, WhatsAppClientError)
    with pytest.raises(ValidationError):
        WhatsAppClient("")
    with pytest.raises(ValidationError):
        WhatsAppClient(server.url, "store.redb")  # a store file needs a passphrase
    with pytest.raises(ValidationError):
        alice.on_message("not callable")  # type: ignore[type-var]


async def test_unreachable_server_and_offline_typing(tmp_path: Path, make_client: MakeClient) -> None:
    closed = TestServer()
    url = closed.url
    closed.close()
    client = WhatsAppClient(url)
    try:
        with pytest.raises(ConnectionError) as unreachable:
            await client.register(unique("nobody"), "secret123")
        assert unreachable.value.code == "network"
    finally:
        await client.close()

    offline = await make_client(register=False, auto_connect=False)
    bob = await make_client("bob")
    await offline.register(unique("quiet"), "secret123")
    assert bob.user is not None
    with pytest.raises(ConnectionError) as not_connected:
        await offline.send_typing(bob.user.id)
    assert not_connected.value.code == "not_connected"
    # Text is queued instead, and goes out once connected.
    heard: asyncio.Queue[Message] = asyncio.Queue()
    bob.on_message(heard.put_nowait)
    queued = await offline.send_message(bob.user.id, "from the outbox")
    assert queued.status == "pending"
    await offline.connect()
    assert (await within(heard.get(), "the queued message")).content == "from the outbox"


async def test_cancelled_calls_leave_the_client_usable(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert bob.user is not None
    heard: asyncio.Queue[Message] = asyncio.Queue()
    bob.on_message(heard.put_nowait)
    for _ in range(5):
        task = asyncio.ensure_future(alice.send_message(bob.user.id, "maybe"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(alice.list_users(), 0.000001)
    sent = await alice.send_message(bob.user.id, "definitely")
    while (await within(heard.get(), "the last message")).id != sent.id:
        pass


async def test_server_restart_reconnects(tmp_path: Path) -> None:
    server = TestServer()
    try:
        alice = WhatsAppClient(server.url, kdf="insecure-for-tests", reconnect_delay=0.1, pacing=False)
        bob = WhatsAppClient(server.url, kdf="insecure-for-tests", reconnect_delay=0.1, pacing=False)
        async with alice, bob:
            await alice.register(unique("alice"), "secret123")
            await bob.register(unique("bob"), "secret123")
            await alice.connect()
            await bob.connect()
            heard: asyncio.Queue[Message] = asyncio.Queue()
            bob.on_message(heard.put_nowait)
            await server.arestart()
            assert bob.user_id is not None
            await alice.send_message(bob.user_id, "after the server restarted")
            got = await within(heard.get(), "a message after the server restart")
            assert got.content == "after the server restarted"
    finally:
        await server.aclose()


async def test_the_event_loop_runs_while_rust_works(server: TestServer, tmp_path: Path) -> None:
    # Opening a store with the recommended key derivation (Argon2id, 19 MiB) takes a good
    # fraction of a second of CPU in Rust: the loop must keep running meanwhile, and a
    # plain Python thread too (the GIL is released).
    import threading

    ticks = 0
    spins = 0
    stop = threading.Event()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    def spinner() -> None:
        nonlocal spins
        while not stop.is_set():
            spins += 1

    thread = threading.Thread(target=spinner)
    ticking = asyncio.ensure_future(ticker())
    client = WhatsAppClient(server.url, tmp_path / "slow.redb", "a passphrase")
    try:
        thread.start()
        before = (ticks, spins)
        await client.open()
        after = (ticks, spins)
    finally:
        stop.set()
        thread.join()
        ticking.cancel()
        await client.close()
    assert after[0] > before[0], "the event loop did not run while the store was opened"
    assert after[1] > before[1], "a Python thread did not run while the store was opened"


async def test_failing_handlers_do_not_stop_the_others(make_client: MakeClient) -> None:
    alice = await make_client("alice")
    bob = await make_client("bob")
    assert bob.user is not None
    heard: asyncio.Queue[Message] = asyncio.Queue()
    raw: List[str] = []

    @bob.on_message
    def broken(message: Message) -> None:
        raise RuntimeError("a sync handler fails")

    @bob.on_message
    async def broken_too(message: Message) -> None:
        raise RuntimeError("an async handler fails")

    bob.on_message(heard.put_nowait)
    bob.on_event(lambda event: raw.append(event["type"]))
    await alice.send_message(bob.user.id, "one")
    await alice.send_message(bob.user.id, "two")
    assert (await within(heard.get(), "one")).content == "one"
    assert (await within(heard.get(), "two")).content == "two"
    assert raw.count("message") == 2
