"""Fixtures: one in-process test server per test session (real sockets, real SQLite),
and clients with real store files in a temporary directory, closed after each test."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, List, Optional, TypeVar

import pytest

from quickchat import WhatsAppClient
from quickchat.testing import TestServer

T = TypeVar("T")

# Deadline against hangs only (the machine is shared and slow at times).
TIMEOUT = 20.0

_names = itertools.count()


def unique(name: str) -> str:
    """A user name no other test (or earlier run on the same server) uses."""
    return f"{name}_{os.getpid()}_{next(_names)}"


@pytest.fixture(scope="session")
def server() -> Iterator[TestServer]:
    with TestServer() as running:
        yield running


MakeClient = Callable[..., Awaitable[WhatsAppClient]]


@pytest.fixture
async def make_client(server: TestServer, tmp_path: Path) -> AsyncIterator[MakeClient]:
    """``await make_client("alice")``: a registered, connected client with a store file
    (``register=False``: opened only). Keyword arguments go to the constructor."""
    clients: List[WhatsAppClient] = []

    async def make(
        name: Optional[str] = None,
        *,
        register: bool = True,
        password: str = "secret123",
        store: Optional[Path] = None,
        **options: Any,
    ) -> WhatsAppClient:
        options.setdefault("kdf", "insecure-for-tests")
        options.setdefault("pacing", False)
        options.setdefault("reconnect_delay", 0.2)
        username = unique(name or "user")
        path = store or tmp_path / f"{username}.redb"
        client = WhatsAppClient(server.url, path, "store passphrase", **options)
        clients.append(client)
        if register:
            await client.register(username, password)
            await client.connect(TIMEOUT)
        else:
            await client.open()
        return client

    yield make
    await asyncio.gather(*(client.close() for client in clients))


async def within(awaitable: Awaitable[T], what: str) -> T:
    """Awaits, failing the test after TIMEOUT seconds."""
    try:
        return await asyncio.wait_for(awaitable, TIMEOUT)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
