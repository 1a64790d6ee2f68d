"""The HTTP side of the server's opening handshake, sans-I/O: the upgrade request and answers.

:class:`UpgradeReader` is fed the bytes a client sends first and returns an :class:`Upgrade`
once a whole, valid WebSocket upgrade request has arrived (RFC 6455 4.2.1), or raises
:class:`BadUpgrade` with the HTTP status to answer. h11 parses the HTTP; this module checks
what the WebSocket handshake reads. Everything it reads must be ASCII: a stray non-ASCII byte
in a subprotocol or an ``Authorization`` header is a 400, never a ``UnicodeError`` (and never a
key decoded into something stored). The ``Host`` header must be a valid host, its
internationalised labels included (RFC 7230 5.4: a 400 otherwise).

Nothing here puts a header value into an exception, a reason or a response: h11's own error
messages quote the offending bytes, so they are dropped and a fixed reason stands in.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Final, final

import attrs
import h11
import orjson

from .._wire._handshake import accept_token

__all__ = [
    "MAX_REQUEST_HEAD",
    "BadUpgrade",
    "Upgrade",
    "UpgradeReader",
    "accept_response",
    "error_body",
    "error_response",
]

MAX_REQUEST_HEAD: Final = 16 * 1024
"""Largest request head accepted (h11's default); a larger one gets HTTP 431."""
_TOO_LARGE: Final = "request head too large"
#: Headers the handshake reads: their values must be ASCII.
_READ_HEADERS: Final = {
    b"host": "Host",
    b"upgrade": "Upgrade",
    b"connection": "Connection",
    b"sec-websocket-key": "Sec-WebSocket-Key",
    b"sec-websocket-version": "Sec-WebSocket-Version",
    b"sec-websocket-protocol": "Sec-WebSocket-Protocol",
    b"authorization": "Authorization",
    b"openai-beta": "OpenAI-Beta",
}
#: Headers not kept in :attr:`Upgrade.headers`: the subprotocols (which may hold a key) are
#: in :attr:`Upgrade.subprotocols`; the others say nothing a record needs.
_NOT_KEPT: Final = frozenset({b"host", b"sec-websocket-protocol", b"sec-websocket-extensions"})
#: RFC 7230 ``token`` (a subprotocol is one).
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: RFC 3986 ``host [":" port]``: an IP literal, or a reg-name (IPv4 addresses are reg-names).
_HOST: Final = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+(?:%25[0-9A-Za-z._~\-]+)?\]|[0-9A-Za-z\-._~!$&'()*+,;=%]*)"
    rb"(?::[0-9]*)?"
)


class BadUpgrade(Exception):
    """The request cannot be upgraded; answer it with :func:`error_response` and close.

    The reason names what was wrong (a header's *name* at most), never a value, so it may be
    logged and sent back.

    Attributes:
        status: The HTTP status to answer with.
        reason: A short reason.
        headers: Extra response headers (``Sec-WebSocket-Version`` for a 426).
    """

    def __init__(
        self, status: int, reason: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)


@final
@attrs.frozen(kw_only=True)
class Upgrade:
    """A valid WebSocket upgrade request.

    Attributes:
        target: The request target (path and query), ASCII.
        headers: The request headers as sent, ``(name, value)`` bytes.
        subprotocols: The offered ``Sec-WebSocket-Protocol`` tokens, in order.
        key: The ``Sec-WebSocket-Key``.
        rest: Bytes the client sent after the request head (its first frames).
    """

    # Not in the repr: an Authorization header or a key subprotocol holds a credential.
    target: str
    headers: tuple[tuple[bytes, bytes], ...] = attrs.field(repr=False)
    subprotocols: tuple[str, ...] = attrs.field(repr=False)
    key: bytes
    rest: bytes = attrs.field(repr=False)


@final
class UpgradeReader:
    """Reads one upgrade request from the bytes a client sends first."""

    def __init__(self) -> None:
        self._http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        self._upgrade: Upgrade | None = None

    @property
    def unread(self) -> bool:
        """Whether bytes beyond what was parsed have arrived (answering an error then
        should drain them first, or closing resets the connection and loses the answer)."""
        data, _closed = self._http.trailing_data
        return bool(data)

    def feed(self, data: bytes) -> Upgrade | None:
        """Take the next bytes read (``b""`` once the client closed its side).

        Returns:
            The upgrade once its whole head arrived; ``None`` while more is needed, or if the
            client closed the connection first.

        Raises:
            BadUpgrade: Not an acceptable upgrade request.
        """
        http = self._http
        http.receive_data(data)
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                if not data:  # the client gave up half-way: nobody to answer
                    return None
                status = exc.error_status_hint
                raise BadUpgrade(
                    status,
                    _TOO_LARGE
                    if status == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                    else "malformed HTTP request",
                ) from None
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                # h11 bounds a head that arrives in pieces; one that arrives whole is
                # bounded here.
                size = len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
                if size > MAX_REQUEST_HEAD:
                    raise BadUpgrade(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, _TOO_LARGE)
                # Checked whole before any body is read: a valid one has an Upgrade header
                # and no body, so h11 pauses right after it.
                self._upgrade = _upgrade(event)
            elif event is h11.PAUSED:
                assert self._upgrade is not None
                rest, _closed = http.trailing_data
                return attrs.evolve(self._upgrade, rest=bytes(rest))
            elif not isinstance(event, h11.EndOfMessage):  # a body: refused already
                raise BadUpgrade(400, "malformed HTTP request")


def _upgrade(request: h11.Request) -> Upgrade:
    """The upgrade ``request`` asks for (without the bytes after it yet), once checked."""
    if request.method != b"GET":
        raise BadUpgrade(405, "a WebSocket upgrade is a GET", [(b"Allow", b"GET")])
    if request.http_version != b"1.1":
        raise BadUpgrade(400, "a WebSocket upgrade needs HTTP/1.1")
    for name, value in request.headers:
        if name in (b"content-length", b"transfer-encoding") and value.strip() != b"0":
            raise BadUpgrade(400, "a WebSocket upgrade has no body")
        label = _READ_HEADERS.get(name)
        if label is not None and not value.isascii():
            raise BadUpgrade(400, f"invalid {label} header")
    headers: dict[bytes, list[bytes]] = {}
    for name, value in request.headers:
        headers.setdefault(name, []).append(value)
    hosts = headers.get(b"host", [])
    if len(hosts) != 1 or not _valid_host(hosts[0]):
        raise BadUpgrade(400, "invalid Host header")
    if not _has_token(headers.get(b"upgrade", []), b"websocket"):
        raise BadUpgrade(400, "missing 'Upgrade: websocket'")
    if not _has_token(headers.get(b"connection", []), b"upgrade"):
        raise BadUpgrade(400, "missing 'Connection: Upgrade'")
    if headers.get(b"sec-websocket-version") != [b"13"]:
        raise BadUpgrade(426, "unsupported WebSocket version", [(b"Sec-WebSocket-Version", b"13")])
    keys = headers.get(b"sec-websocket-key", [])
    if len(keys) != 1 or not _valid_key(keys[0]):
        raise BadUpgrade(400, "invalid Sec-WebSocket-Key header")
    subprotocols = []
    for value in headers.get(b"sec-websocket-protocol", []):
        for token in value.split(b","):
            token = token.strip(b" \t")
            if not token:
                continue
            if not _TOKEN.fullmatch(token):
                raise BadUpgrade(400, "invalid Sec-WebSocket-Protocol header")
            subprotocols.append(token.decode("ascii"))
    return Upgrade(
        target=request.target.decode("ascii"),  # h11 admits only visible ASCII there
        headers=tuple(
            (bytes(name), bytes(value)) for name, value in request.headers if name not in _NOT_KEPT
        ),
        subprotocols=tuple(subprotocols),
        key=keys[0],
        rest=b"",
    )


def _has_token(values: list[bytes], wanted: bytes) -> bool:
    return any(t.strip().lower() == wanted for v in values for t in v.split(b","))


def _valid_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def _valid_host(host: bytes) -> bool:
    if not _HOST.fullmatch(host):
        return False
    name = host.rsplit(b":", 1)[0] if host.count(b":") == 1 else host
    for label in name.split(b"."):
        if label[:4].lower() == b"xn--":
            try:
                label.decode("idna")
            except UnicodeError:
                return False
    return True


def accept_response(key: bytes, subprotocol: str | None) -> bytes:
    """The ``101 Switching Protocols`` answer to an upgrade with ``key``."""
    accept = accept_token(key)
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + accept,
    ]
    if subprotocol is not None:
        lines.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def error_response(status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
    """A complete HTTP error answer with a JSON ``body``, after which the server closes."""
    phrase = HTTPStatus(status).phrase.encode("ascii")
    lines = [
        b"HTTP/1.1 %d %s" % (status, phrase),
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        b"Connection: close",
        *(name + b": " + value for name, value in headers),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def error_body(message: str) -> bytes:
    """The JSON body of an HTTP error answer, shaped like the API's errors."""
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return orjson.dumps({"error": error})
