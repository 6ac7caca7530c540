"""quickchat: end-to-end encrypted Quick Chat bots and services in Python.

Built on the Rust SDK's native client (the same code as the ``quickchat`` crate, the CLI
and, through WebAssembly, the npm package): byte-compatible with the web app, with an
encrypted store, an outbox, catch-up after reconnects and reconnection with backoff.

    from quickchat import WhatsAppClient

    client = WhatsAppClient(server_url="http://127.0.0.1:8787",
                            storage_path="~/.quickchat/bot", passphrase="…")
"""

import atexit as _atexit

from ._quickchat import (
    Conversation,
    Group,
    GroupMember,
    Message,
    PrekeyStatus,
    SessionInfo,
    User,
    __version__,
)
from ._quickchat import close_gate as _close_gate
from .client import AsyncClient, Client, WhatsAppClient
from .exceptions import (
    AuthenticationError,
    ConnectionError,
    ValidationError,
    WhatsAppClientError,
)

__all__ = [
    "WhatsAppClient",
    "Client",
    "AsyncClient",
    "User",
    "Message",
    "Group",
    "GroupMember",
    "Conversation",
    "PrekeyStatus",
    "SessionInfo",
    "WhatsAppClientError",
    "AuthenticationError",
    "ValidationError",
    "ConnectionError",
    "__version__",
]

# Results that arrive while the interpreter exits are dropped rather than delivered (a
# delivery then would abort the process): see python/src/bridge.rs.
_atexit.register(_close_gate)
