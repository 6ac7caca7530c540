"""What the example bots share: settings from the environment, signing in, and a test
server in-process when no server is named.

Settings (environment):

- ``QUICKCHAT_SERVER``: the server's URL (e.g. ``http://127.0.0.1:8787``). Unset: the
  examples start the SDK's test server in this process and print its URL.
- ``QUICKCHAT_USERNAME``, ``QUICKCHAT_PASSWORD``: the bot's account, registered the first
  time (default: the example's name and ``<name>-password``).
- ``QUICKCHAT_STORE``, ``QUICKCHAT_PASSPHRASE``: the encrypted store file (keys,
  sessions, history) and its passphrase (default: ``./<name>.redb``, a fixed demo
  passphrase — set your own for real use).
- ``QUICKCHAT_INSECURE_FAST_KDF=1``: a cheap store key derivation, for tests only.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Tuple

from quickchat import AuthenticationError, ValidationError, WhatsAppClient
from quickchat.testing import TestServer


def server_url() -> Tuple[str, Optional[TestServer]]:
    """The server to use, and the in-process test server when one was started."""
    url = os.environ.get("QUICKCHAT_SERVER")
    if url:
        return url, None
    server = TestServer()
    print(f"no QUICKCHAT_SERVER: started a test server at {server.url}", flush=True)
    return server.url, server


def make_client(name: str, url: str) -> WhatsAppClient:
    """The bot's client, with its store from the environment."""
    fast = os.environ.get("QUICKCHAT_INSECURE_FAST_KDF") == "1"
    return WhatsAppClient(
        server_url=url,
        storage_path=os.environ.get("QUICKCHAT_STORE", f"./{name}.redb"),
        passphrase=os.environ.get("QUICKCHAT_PASSPHRASE", "demo passphrase: set your own"),
        kdf="insecure-for-tests" if fast else "recommended",
    )


async def sign_in(client: WhatsAppClient, name: str) -> None:
    """Uses the login saved in the store, else logs in, else registers the account."""
    await client.open()
    if client.is_authenticated:
        return
    username = os.environ.get("QUICKCHAT_USERNAME", name)
    password = os.environ.get("QUICKCHAT_PASSWORD", f"{name}-password")
    try:
        await client.login(username, password)
    except (AuthenticationError, ValidationError) as error:
        if error.code not in ("http_401", "http_404"):
            raise
        await client.register(username, password)


def fail(error: BaseException) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 1
