"""The exceptions of the quickchat package.

Every failure of the SDK is raised as one of these, with ``code`` the SDK's stable,
machine-readable name for the kind of failure (the same names the npm package uses):
``not_logged_in``, ``wrong_passphrase``, ``unknown_user``, ``invalid_argument``,
``network``, ``not_connected``, ``http_401``, ``http_409``, ``peer_has_no_keys``, …
"""

from __future__ import annotations

__all__ = [
    "WhatsAppClientError",
    "AuthenticationError",
    "ValidationError",
    "ConnectionError",
]


class WhatsAppClientError(Exception):
    """Base class of every error the client raises."""

    code: str
    """The SDK's stable error code."""

    message: str
    """What went wrong, for people."""

    def __init__(self, message: str, code: str = "client") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"

    def __reduce__(self) -> tuple[type[WhatsAppClientError], tuple[str, str]]:
        return (type(self), (self.message, self.code))


class AuthenticationError(WhatsAppClientError):
    """Who the client is was refused: not logged in, wrong password or passphrase, the
    login expired, the account's keys belong to another device, the account exists."""


class ValidationError(WhatsAppClientError, ValueError):
    """An argument is not acceptable: empty text, an unknown user, a malformed
    fingerprint, a request the server refused as invalid."""


class ConnectionError(WhatsAppClientError):  # noqa: A001 - the name of the legacy client's API
    """The server could not be reached, the socket is down, or waiting timed out."""
