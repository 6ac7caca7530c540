"""``TestServer``: the SDK's protocol-faithful test server, started in this process.

It speaks the Quick Chat backend's REST API and WebSocket protocol (status codes, error
strings, quirks) over real sockets, with its own SQLite database. For tests and demos::

    from quickchat.testing import TestServer

    with TestServer() as server:
        client = WhatsAppClient(server_url=server.url)
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Optional, Union

from ._quickchat import TestServer as _NativeTestServer

__all__ = ["TestServer"]


class TestServer:
    """A running test server on ``host:port`` (port 0: a free one), with a temporary
    database unless ``db_path`` names a file. ``bcrypt_cost`` 4 keeps registering cheap in
    tests (the backend uses 10). The blocking methods release the GIL; in async code use
    the ``a``-prefixed ones or ``async with``."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: Union[str, "os.PathLike[str]", None] = None,
        bcrypt_cost: int = 4,
    ) -> None:
        self._native = _NativeTestServer(
            host=host,
            port=port,
            db_path=None if db_path is None else str(db_path),
            bcrypt_cost=bcrypt_cost,
        )

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, the ``server_url`` for clients."""
        return self._native.url

    @property
    def ws_url(self) -> str:
        """``ws://HOST:PORT/ws``."""
        return self._native.ws_url

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._native.port

    @property
    def db_path(self) -> Path:
        """The SQLite database file."""
        return Path(self._native.db_path)

    @property
    def is_running(self) -> bool:
        """Whether it serves."""
        return self._native.is_running

    def stop(self) -> None:
        """Stops serving (sockets closed, port released); the data stays for restart()."""
        self._native.stop()

    def restart(self) -> None:
        """Starts again on the same port with the same data."""
        self._native.restart()

    def make_admin(self, username: str) -> None:
        """Gives a user the ``admin`` role."""
        self._native.make_admin(username)

    def disconnect_user(self, user_id: str) -> None:
        """Drops a user's sockets, as a network failure would."""
        self._native.disconnect_user(user_id)

    def close(self) -> None:
        """Stops for good (a temporary database is deleted)."""
        self._native.close()

    async def astop(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self._native.stop)

    async def arestart(self) -> None:
        """:meth:`restart` without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self._native.restart)

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self._native.close)

    def __enter__(self) -> "TestServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "TestServer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"TestServer(url={self.url!r})"
