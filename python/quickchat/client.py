"""The client: ``WhatsAppClient`` (also ``Client`` and ``AsyncClient``).

Every operation runs in Rust (the SDK's native client) on the package's own tokio
runtime, without the GIL; the methods here only check arguments and await the result,
so the asyncio event loop is never blocked. Cancelling a call (``asyncio.wait_for``,
``task.cancel()``) drops the Rust operation: a message is either saved to the outbox
and sent exactly once, or not saved at all.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import mimetypes
import os
import signal
import threading
from pathlib import Path
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from ._quickchat import (
    Conversation,
    EventStream,
    Group,
    GroupMember,
    Message,
    NativeClient,
    PrekeyStatus,
    SessionInfo,
    User,
    compare_fingerprints as _compare_fingerprints,
)
from .exceptions import AuthenticationError, ConnectionError, ValidationError

__all__ = ["WhatsAppClient", "Client", "AsyncClient"]

log = logging.getLogger("quickchat")

Peer = Union[str, User]
"""A user id, a user name, or a :class:`User`."""

GroupRef = Union[str, Group]
"""A group id or a :class:`Group`."""

H = TypeVar("H", bound=Callable[..., Any])

# Bits of the event kinds the Rust side hands over (see python/src/events.rs).
_MASKS = {
    "message": 1,
    "message_status": 2,
    "typing": 4,
    "presence": 8,
    "group_message": 16,
    "status": 32,
    "event": 64,
}

# How long close() lets running handlers finish before cancelling them, seconds.
_HANDLER_GRACE = 2.0

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def _peer(value: Peer, what: str = "peer") -> str:
    if isinstance(value, User):
        return value.id
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"{what} must be a user id, a user name or a User, not {value!r}",
            "invalid_argument",
        )
    return value


def _group(value: GroupRef) -> str:
    if isinstance(value, Group):
        return value.id
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"group must be a group id or a Group, not {value!r}", "invalid_argument"
        )
    return value


def _text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a str, not {type(value).__name__}", "invalid_argument")
    if not value.strip():
        raise ValidationError(f"{what} is empty", "invalid_argument")
    return value


def _limit(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(f"limit must be a positive int, not {value!r}", "invalid_argument")
    return value


def _image_type(data: bytes) -> str:
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValidationError(
        "the image is not PNG, JPEG, GIF, WebP or BMP: pass mime_type", "invalid_argument"
    )


class WhatsAppClient:
    """An end-to-end encrypted Quick Chat client for bots and services.

    ``storage_path`` names the encrypted store file (keys, sessions, history, outbox),
    encrypted under ``passphrase``; without it everything is kept in memory only. The
    store is opened on first use (or by ``await client.open()`` / ``async with``); a login
    saved there by an earlier run is restored, and the client then connects by itself.

    Handlers (``on_message`` …) may be plain functions or ``async`` functions. Plain ones
    run on the event loop in the order events arrive; async ones are started as tasks in
    that order and run concurrently (a slow handler does not hold up the next message).

    Keyword options: ``pacing=False`` sends to one peer as fast as possible (only for
    peers that are SDK clients, never web users: see the SDK's README); ``kdf`` and
    ``durability`` tune the store (``"insecure-for-tests"``, ``"deferred"``);
    ``auto_connect=False`` waits for :meth:`connect` or :meth:`run`;
    ``allow_plaintext_to`` lists peers without keys that may get plaintext;
    ``reconnect_delay`` is the first reconnection delay in seconds (default 3).
    """

    def __init__(
        self,
        server_url: str,
        storage_path: Union[str, "os.PathLike[str]", None] = None,
        passphrase: Optional[str] = None,
        *,
        pacing: bool = True,
        kdf: str = "recommended",
        durability: str = "immediate",
        auto_connect: bool = True,
        allow_plaintext_to: Iterable[str] = (),
        reconnect_delay: Optional[float] = None,
    ) -> None:
        if not isinstance(server_url, str) or not server_url.strip():
            raise ValidationError("server_url must be a URL such as http://127.0.0.1:8787", "invalid_argument")
        if storage_path is not None:
            storage_path = Path(storage_path).expanduser()
            if not passphrase:
                raise ValidationError("a storage_path needs a passphrase", "invalid_argument")
        if kdf not in ("recommended", "insecure-for-tests"):
            raise ValidationError(f"kdf must be 'recommended' or 'insecure-for-tests', not {kdf!r}", "invalid_argument")
        if durability not in ("immediate", "deferred"):
            raise ValidationError(f"durability must be 'immediate' or 'deferred', not {durability!r}", "invalid_argument")
        if reconnect_delay is not None and reconnect_delay < 0:
            raise ValidationError("reconnect_delay must not be negative", "invalid_argument")
        self._server_url = server_url
        self._storage_path = storage_path
        self._passphrase = passphrase
        self._options: Dict[str, Any] = {
            "pacing": bool(pacing),
            "kdf": kdf,
            "durability": durability,
            "allow_plaintext_to": list(allow_plaintext_to),
            "reconnect_delay_ms": None if reconnect_delay is None else int(reconnect_delay * 1000),
        }
        self._auto_connect = auto_connect
        self._native: Optional[NativeClient] = None
        self._opening: Optional["asyncio.Future[NativeClient]"] = None
        self._handlers: Dict[str, List[Tuple[Callable[..., Any], bool]]] = {kind: [] for kind in _MASKS}
        self._mask = 0
        self._events: Optional[EventStream] = None
        self._dispatcher: Optional["asyncio.Task[None]"] = None
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._stop: Optional[asyncio.Event] = None
        self._fingerprint: Optional[str] = None
        self._closed = False
        self._closing: Optional["asyncio.Future[None]"] = None

    # ---- life cycle -------------------------------------------------------------------

    async def open(self) -> "WhatsAppClient":
        """Opens the store (once) and restores a saved login; returns the client."""
        await self._client()
        return self

    async def __aenter__(self) -> "WhatsAppClient":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _client(self) -> NativeClient:
        native = self._native
        if native is not None:
            return native
        if self._closed:
            raise ConnectionError("the client is closed", "closed")
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open_native())
        try:
            return await asyncio.shield(self._opening)
        except BaseException:
            if self._opening.done() and (self._opening.cancelled() or self._opening.exception() is not None):
                self._opening = None
            raise

    async def _open_native(self) -> NativeClient:
        native = await NativeClient.open(
            self._server_url,
            None if self._storage_path is None else str(self._storage_path),
            self._passphrase,
            **self._options,
        )
        self._native = native
        self._events = native.events()
        self._events.set_mask(self._mask)
        self._dispatcher = asyncio.ensure_future(self._dispatch_loop(self._events))
        if native.current_user() is not None:
            await self._refresh_fingerprint(native)
            if self._auto_connect:
                native.connect()
        return native

    async def connect(self, timeout: float = 15.0) -> None:
        """Connects (if not yet) and waits until the socket is up and messages missed
        while offline were fetched."""
        native = await self._client()
        self._require_login(native)
        await native.connect_and_wait(timeout)

    async def run(self) -> None:
        """Connects and handles events until :meth:`close` is called or the process gets
        SIGINT or SIGTERM; then closes the client."""
        native = await self._client()
        self._require_login(native)
        native.connect()
        if self._stop is None:
            self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed: List[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self._stop.set)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.close()

    async def close(self) -> None:
        """Stops handling events (running handlers get two seconds to finish), closes the
        connection and the store. Safe to call more than once."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self._closed = True
        if self._stop is not None:
            self._stop.set()
        opening = self._opening
        if opening is not None and not opening.done():
            try:
                await opening
            except Exception:
                pass
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current and not task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_HANDLER_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        native, self._native = self._native, None
        self._events = None
        if native is not None:
            await native.close()

    # ---- account ----------------------------------------------------------------------

    async def register(self, username: str, password: str, avatar: Optional[str] = None) -> User:
        """Creates the account, makes this device's keys and publishes them; connects."""
        native = await self._client()
        user = await native.register(_text(username, "username"), _text(password, "password"), avatar)
        await self._signed_in(native)
        return user

    async def login(self, username: str, password: str, *, replace_keys: bool = False) -> User:
        """Logs in (making keys if the store has none); connects. Raises
        :class:`AuthenticationError` (``keys_in_use_elsewhere``) when the account's
        published keys belong to another device, unless ``replace_keys``."""
        native = await self._client()
        user = await native.login(_text(username, "username"), _text(password, "password"), replace_keys)
        await self._signed_in(native)
        return user

    async def _signed_in(self, native: NativeClient) -> None:
        await self._refresh_fingerprint(native)
        if self._auto_connect:
            native.connect()

    async def logout(self) -> None:
        """Forgets the login (keys and history stay in the store) and disconnects."""
        native = await self._client()
        await native.logout()
        self._fingerprint = None

    async def export_account(self, path: Union[str, "os.PathLike[str]"], passphrase: str, *, history: bool = False) -> None:
        """Writes the account (keys, prekeys, sessions, trust; with ``history`` the messages)
        to ``path``, sealed under ``passphrase`` (Argon2id + AES-256-GCM), to continue it
        elsewhere: another store, the native CLI (``quickchat import``) or the npm package.
        This store is then marked moved and disconnected: it neither connects nor sends
        (``account_moved``) until :meth:`reactivate_account`. ``path`` must not exist."""
        target = os.fspath(path)
        passphrase = _text(passphrase, "passphrase")
        native = await self._client()
        # The file is made first: a path that cannot be written leaves the store unmarked,
        # and an existing file (perhaps the only copy of another account) is never replaced.
        try:
            out = open(target, "xb")
        except FileExistsError:
            raise ValidationError(f"{target} exists: choose a new file for the export", "invalid_argument") from None
        with out:
            try:
                data = await native.export_account(passphrase, history)
            except BaseException:
                out.close()
                os.remove(target)
                raise
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        self._fingerprint = None

    async def import_account(
        self, path: Union[str, "os.PathLike[str]"], passphrase: str, *, replace: bool = False
    ) -> str:
        """Reads an account file (from ``export_account``, ``quickchat export`` or the npm
        package) into this client's store in one atomic step and picks up its saved login;
        returns its user id. Refuses a store that holds an account unless ``replace``, and a
        wrong passphrase, damaged or newer file, changing nothing."""
        with open(os.fspath(path), "rb") as source:
            data = source.read()
        native = await self._client()
        user_id = await native.import_account(data, _text(passphrase, "passphrase"), replace)
        if native.current_user() is not None:
            await self._signed_in(native)
        return user_id

    async def reactivate_account(self) -> None:
        """Lets this store connect and send again after :meth:`export_account`: only when
        the account is no longer used where it was moved to (both would advance the same
        ratchets)."""
        native = await self._client()
        await native.reactivate_account()

    @property
    def user(self) -> Optional[User]:
        """The signed-in user."""
        return None if self._native is None else self._native.current_user()

    @property
    def user_id(self) -> Optional[str]:
        """The signed-in user's id."""
        user = self.user
        return None if user is None else user.id

    @property
    def is_authenticated(self) -> bool:
        """Whether a user is signed in."""
        return self.user is not None

    @property
    def is_connected(self) -> bool:
        """Whether the WebSocket is up and authenticated."""
        return self._native is not None and self._native.is_connected()

    def _require_login(self, native: NativeClient) -> None:
        if native.current_user() is None:
            raise AuthenticationError("not logged in: register or log in first", "not_logged_in")

    # ---- handlers ---------------------------------------------------------------------

    def _add_handler(self, kind: str, handler: H) -> H:
        if not callable(handler):
            raise ValidationError(f"a handler must be callable, not {handler!r}", "invalid_argument")
        self._handlers[kind].append((handler, asyncio.iscoroutinefunction(handler)))
        self._mask |= _MASKS[kind]
        if self._events is not None:
            self._events.set_mask(self._mask)
        return handler

    def on_message(self, handler: H) -> H:
        """Decorator: ``handler(message: Message)`` for every incoming 1:1 message (live,
        or fetched after a reconnect)."""
        return self._add_handler("message", handler)

    def on_message_status(self, handler: H) -> H:
        """Decorator: ``handler(message_id: str, status: str)`` when one of this account's
        messages becomes ``sent``, ``delivered`` or ``read``."""
        return self._add_handler("message_status", handler)

    def on_typing(self, handler: H) -> H:
        """Decorator: ``handler(user_id: str, is_typing: bool)``."""
        return self._add_handler("typing", handler)

    def on_presence(self, handler: H) -> H:
        """Decorator: ``handler(user_id: str, online: bool)``."""
        return self._add_handler("presence", handler)

    def on_status(self, handler: H) -> H:
        """Decorator: ``handler(status: str)`` when the connection changes: ``connected``,
        ``caught_up`` (missed messages fetched), ``catch_up_failed``, ``disconnected``,
        ``reconnecting``, ``stopped``, ``session_expired``."""
        return self._add_handler("status", handler)

    def on_group_message(self, handler: H) -> H:
        """Decorator: ``handler(message: Message)`` for every incoming group message
        (``message.group_id`` names the group)."""
        return self._add_handler("group_message", handler)

    def on_event(self, handler: H) -> H:
        """Decorator: ``handler(event: dict)`` for every event of the SDK, as its JSON
        (``event["type"]``: ``message``, ``identity_changed``, ``decryption_failed`` …)."""
        return self._add_handler("event", handler)

    async def _dispatch_loop(self, events: EventStream) -> None:
        while True:
            batch = await events.next_batch()
            if batch is None:
                return
            self._dispatch(batch)

    def _dispatch(self, batch: List[Tuple[Any, ...]]) -> None:
        handlers_of = self._handlers
        for event in batch:
            kind = event[0]
            handlers = handlers_of[kind]
            if not handlers:
                continue
            if kind == "message" or kind == "group_message":
                args: Tuple[Any, ...] = (event[1],)
            elif kind == "typing" or kind == "presence":
                args = (event[1], event[3])
            elif kind == "status":
                args = (event[1],)
            elif kind == "event":
                args = (json.loads(event[1]),)
            else:
                args = event[1:]
            for handler, is_async in handlers:
                self._call(handler, is_async, args)

    def _call(self, handler: Callable[..., Any], is_async: bool, args: Tuple[Any, ...]) -> None:
        try:
            result = handler(*args)
        except Exception:
            log.exception("quickchat: handler %r failed", handler)
            return
        if is_async or (result is not None and inspect.isawaitable(result)):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._handler_done)

    def _handler_done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("quickchat: handler failed", exc_info=task.exception())

    # ---- messaging --------------------------------------------------------------------

    async def send_message(self, to: Peer, content: str, *, encrypt: bool = True) -> Message:
        """Sends text to a user (id or name), end-to-end encrypted. The message is saved
        before it goes out: offline, it waits in the outbox (status ``pending``) and goes
        out once connected, exactly once. ``encrypt=False`` sends plaintext."""
        native = self._native or await self._client()
        return await native.send_text(_peer(to, "to"), _text(content, "content"), encrypt)

    async def send_image(
        self,
        to: Peer,
        image: Union[bytes, str, "os.PathLike[str]"],
        *,
        mime_type: Optional[str] = None,
    ) -> Message:
        """Sends an image as the web app does (not end-to-end encrypted: the web app
        cannot read encrypted images). ``image``: the bytes, a file path, or a data URL."""
        peer = _peer(to, "to")
        native = await self._client()
        if isinstance(image, str) and image.startswith("data:"):
            data_url = image
        else:
            if isinstance(image, (bytes, bytearray, memoryview)):
                data = bytes(image)
            elif isinstance(image, (str, os.PathLike)):
                path = Path(image).expanduser()
                try:
                    data = await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)
                except OSError as e:
                    raise ValidationError(f"cannot read the image {str(path)!r}: {e}", "invalid_argument") from e
                if mime_type is None:
                    guessed = mimetypes.guess_type(path.name)[0]
                    if guessed is not None and guessed.startswith("image/"):
                        mime_type = guessed
            else:
                raise ValidationError(
                    f"image must be bytes, a path or a data URL, not {type(image).__name__}",
                    "invalid_argument",
                )
            if not data:
                raise ValidationError("the image is empty", "invalid_argument")
            mime = mime_type or _image_type(data)
            data_url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return await native.send_image(peer, data_url)

    async def send_typing(self, to: Peer, typing: bool = True) -> None:
        """Tells a user this account is (or stopped) typing. Not queued: raises
        :class:`ConnectionError` (``not_connected``) while offline."""
        native = await self._client()
        await native.set_typing(_peer(to, "to"), bool(typing))

    async def mark_as_read(
        self, peer: Peer, message_ids: Union[str, Message, Iterable[Union[str, Message]]]
    ) -> None:
        """Marks messages from ``peer`` as read (locally, on the server, and with a read
        receipt to the sender)."""
        if isinstance(message_ids, (str, Message)):
            message_ids = [message_ids]
        ids = [m.id if isinstance(m, Message) else _text(m, "message id") for m in message_ids]
        if not ids:
            raise ValidationError("no message ids given", "invalid_argument")
        native = await self._client()
        await native.mark_read(_peer(peer), ids)

    async def get_messages(self, peer: Peer, limit: int = 50, before: Optional[int] = None) -> List[Message]:
        """The latest ``limit`` messages with a user from the local history (older than
        ``before``, ms, when given), oldest first."""
        native = await self._client()
        return await native.history(_peer(peer), _limit(limit), before)

    async def get_conversations(self) -> List[Conversation]:
        """Every conversation of the local history, the most recent first."""
        native = await self._client()
        return await native.conversations()

    async def search_messages(self, query: str, peer: Optional[Peer] = None, limit: int = 50) -> List[Message]:
        """Messages containing ``query`` (case-insensitive), the newest ``limit``, oldest
        first; only those with ``peer`` when given."""
        native = await self._client()
        return await native.search(
            _text(query, "query"), _limit(limit), None if peer is None else _peer(peer)
        )

    async def get_message(self, message_id: str) -> Optional[Message]:
        """One message of the local history by id."""
        native = await self._client()
        return await native.message(_text(message_id, "message_id"))

    async def catch_up(self) -> int:
        """Fetches what was missed from every user now; returns how many messages were
        new (the connection does this after every reconnect by itself)."""
        native = await self._client()
        return await native.catch_up()

    # ---- users ------------------------------------------------------------------------

    async def list_users(self) -> List[User]:
        """Every user of the server."""
        native = await self._client()
        return await native.list_users()

    async def find_user(self, name_or_id: str) -> Optional[User]:
        """The user with this exact name or id, or ``None``."""
        native = await self._client()
        return await native.find_user(_text(name_or_id, "name_or_id"))

    async def get_online_users(self) -> List[User]:
        """Who is online, as the server last said (empty while disconnected)."""
        native = await self._client()
        return native.online_users()

    async def is_user_online(self, peer: Peer) -> bool:
        """Whether a user is online."""
        native = await self._client()
        return await native.is_online(_peer(peer))

    # ---- keys and trust ---------------------------------------------------------------

    async def _refresh_fingerprint(self, native: NativeClient) -> None:
        try:
            self._fingerprint = await native.fingerprint()
        except AuthenticationError:
            self._fingerprint = None

    def get_fingerprint(self) -> str:
        """This device's fingerprint (60 hex digits): what peers compare to verify it."""
        if self._fingerprint is None:
            raise AuthenticationError("no keys yet: register or log in first", "not_logged_in")
        return self._fingerprint

    async def get_peer_fingerprint(self, peer: Peer) -> str:
        """A user's fingerprint (starts the session with a new peer)."""
        native = await self._client()
        return await native.peer_fingerprint(_peer(peer))

    async def verify_fingerprint(
        self, peer: Peer, fingerprint: Optional[str] = None, verified: bool = True
    ) -> None:
        """Records (locally and on the server) that the user compared ``fingerprint``
        with the peer's; raises :class:`ValidationError` (``fingerprint_mismatch``) when it
        is not the peer's current one. ``verified=False`` withdraws a verification."""
        native = await self._client()
        if verified:
            if fingerprint is not None:
                _text(fingerprint, "fingerprint")
            await native.verify_peer(_peer(peer), fingerprint, "manual")
        else:
            await native.unverify_peer(_peer(peer))

    async def is_fingerprint_verified(self, peer: Peer) -> bool:
        """Whether the peer's current key is verified."""
        native = await self._client()
        return await native.is_verified(_peer(peer))

    async def get_verified_fingerprints(self) -> Dict[str, str]:
        """User id → fingerprint of every peer whose current key is verified."""
        native = await self._client()
        return await native.verified_fingerprints()

    @staticmethod
    def compare_fingerprints(first: str, second: str) -> bool:
        """Whether two fingerprints are equal (spaces and case do not matter)."""
        return _compare_fingerprints(first, second)

    async def accept_identity(self, peer: Peer) -> None:
        """Accepts a verified peer's changed key without verifying it (sending resumes)."""
        native = await self._client()
        await native.accept_identity(_peer(peer))

    async def get_prekey_status(self) -> PrekeyStatus:
        """What the server holds of this account's prekeys."""
        native = await self._client()
        return await native.prekey_status()

    async def ensure_session(self, peer: Peer) -> str:
        """Makes sure there is an encrypted session with the peer (starting one from its
        published keys); returns the peer's fingerprint."""
        native = await self._client()
        return await native.ensure_session(_peer(peer))

    async def list_sessions(self) -> List[SessionInfo]:
        """The encrypted sessions in the store, one per peer (no secrets)."""
        native = await self._client()
        return await native.sessions()

    async def reset_keys(self) -> None:
        """Throws this device's keys and sessions away and publishes a new identity
        (history stays); peers see an identity change."""
        native = await self._client()
        await native.reset_e2ee()
        await self._refresh_fingerprint(native)

    # ---- groups -----------------------------------------------------------------------

    async def create_group(
        self, name: str, members: Iterable[Peer] = (), description: Optional[str] = None
    ) -> Group:
        """Creates a group with this user as owner and ``members`` (ids or names)."""
        native = await self._client()
        return await native.create_group(
            _text(name, "name"), [_peer(m, "member") for m in members], description
        )

    async def get_groups(self) -> List[Group]:
        """The groups this user belongs to."""
        native = await self._client()
        return await native.groups()

    async def get_group(self, group: GroupRef) -> Group:
        """One group."""
        native = await self._client()
        return await native.group(_group(group))

    async def get_group_members(self, group: GroupRef) -> List[GroupMember]:
        """A group's members."""
        native = await self._client()
        return await native.group_members(_group(group))

    async def send_group_message(self, group: GroupRef, content: str) -> Message:
        """Sends text to a group (group messages are not end-to-end encrypted on this
        platform). Queued while offline."""
        native = await self._client()
        return await native.send_group_text(_group(group), _text(content, "content"))

    async def get_group_messages(
        self, group: GroupRef, limit: int = 50, before: Optional[int] = None
    ) -> List[Message]:
        """A group's history from the server (since this user joined), oldest first."""
        native = await self._client()
        return await native.group_history(_group(group), _limit(limit), before)

    async def add_group_member(self, group: GroupRef, user: Peer) -> bool:
        """Adds a member (admins and the owner only); ``False`` if already a member."""
        native = await self._client()
        added = await native.add_group_members(_group(group), [_peer(user, "user")])
        return bool(added)

    async def remove_group_member(self, group: GroupRef, user: Peer) -> bool:
        """Removes a member (admins and the owner only; never the owner)."""
        native = await self._client()
        return await native.remove_group_member(_group(group), _peer(user, "user"))

    async def leave_group(self, group: GroupRef) -> bool:
        """Leaves a group (the owner cannot)."""
        native = await self._client()
        return await native.leave_group(_group(group))

    async def send_group_typing(self, group: GroupRef, typing: bool = True) -> None:
        """Tells a group this user is (or stopped) typing."""
        native = await self._client()
        await native.set_group_typing(_group(group), bool(typing))

    def __repr__(self) -> str:
        user = self.user
        who = "not logged in" if user is None else user.username
        return f"<WhatsAppClient {self._server_url} {who}>"


Client = WhatsAppClient
"""The same class as :class:`WhatsAppClient`."""

AsyncClient = WhatsAppClient
"""The same class as :class:`WhatsAppClient` (an ``async with`` context manager)."""

Handler = Callable[..., Union[None, Awaitable[None]]]
