"""The client side of the WebSocket upgrade (RFC 6455 4.1): an HTTP request by h11, its 101 checked.

h11 is the HTTP parser under wsproto and trio-websocket; it reads the answer whatever its
framing, so a refusal's status, headers and (bounded) body reach the caller intact, which is
how an authentication failure is told from a rate limit or a missing model.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Final

import h11
import trio

from ._frames import load_numpy
from ._websocket import ClientWebSocket

__all__ = [
    "HandshakeFailed",
    "HandshakeRefused",
    "accept_token",
    "client_handshake",
]

#: Bytes of a rejection's body kept; the rest is read and dropped.
_MAX_REJECT_BODY: Final = 64 * 1024
_ACCEPT_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_token(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value that answers ``Sec-WebSocket-Key`` ``key``."""
    return base64.b64encode(hashlib.sha1(key + _ACCEPT_GUID).digest())


class HandshakeRefused(Exception):
    """The server answered the upgrade with an HTTP status other than 101.

    Attributes:
        status_code: The HTTP status.
        headers: The response headers (names lower-cased, as h11 gives them).
        body: The response body, at most 64 KiB of it.
    """

    def __init__(
        self, status_code: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes
    ) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers
        self.body = body


class HandshakeFailed(Exception):
    """The upgrade failed without an HTTP answer: the stream ended, or the answer was invalid."""


def _check_upgrade(
    response: h11.InformationalResponse, key: bytes, subprotocols: tuple[str, ...]
) -> str | None:
    """The chosen subprotocol, once the 101 is checked (RFC 6455 4.2.2 / 4.1 step 5)."""
    headers: dict[bytes, list[bytes]] = {}
    for name, value in response.headers:
        headers.setdefault(name, []).append(value)

    def one(name: bytes) -> bytes:
        values = headers.get(name, [])
        if len(values) != 1:
            raise HandshakeFailed(f"the upgrade answer has {len(values)} {name.decode()} headers")
        return values[0]

    if one(b"upgrade").strip().lower() != b"websocket":
        raise HandshakeFailed("the upgrade answer does not upgrade to websocket")
    tokens = {t.strip().lower() for v in headers.get(b"connection", []) for t in v.split(b",")}
    if b"upgrade" not in tokens:
        raise HandshakeFailed("the upgrade answer has no 'Connection: Upgrade'")
    expected = accept_token(key)
    if one(b"sec-websocket-accept").strip() != expected:
        raise HandshakeFailed("the upgrade answer has a wrong Sec-WebSocket-Accept")
    if headers.get(b"sec-websocket-extensions"):
        raise HandshakeFailed("the server chose an extension that was not offered")
    chosen = headers.get(b"sec-websocket-protocol")
    if not chosen:
        return None
    protocol = one(b"sec-websocket-protocol").strip().decode("latin-1")
    if protocol not in subprotocols:
        # Named only when it is not the credential-bearing one we offered.
        raise HandshakeFailed("the server chose a subprotocol that was not offered")
    return protocol


async def client_handshake(
    stream: trio.abc.Stream,
    *,
    host: str,
    target: str,
    subprotocols: tuple[str, ...],
    headers: tuple[tuple[bytes, bytes], ...],
    receive_buffer_size: int | None,
    max_message_size: int,
) -> ClientWebSocket:
    """Run the client side of the HTTP upgrade on ``stream``.

    Returns:
        The open WebSocket; bytes the server sent after its ``101`` are already in it.

    Raises:
        HandshakeRefused: The server answered with another HTTP status.
        HandshakeFailed: The stream ended or broke first, or the answer was not a valid
            upgrade (bad accept token, a subprotocol not offered, malformed HTTP).
    """
    key = base64.b64encode(os.urandom(16))
    fields = [
        (b"Host", host.encode("ascii")),
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", key),
        (b"Sec-WebSocket-Version", b"13"),
    ]
    if subprotocols:
        fields.append((b"Sec-WebSocket-Protocol", ", ".join(subprotocols).encode("latin-1")))
    fields.extend(headers)
    http = h11.Connection(h11.CLIENT)
    request = http.send(h11.Request(method=b"GET", target=target.encode("ascii"), headers=fields))
    assert request is not None
    received = 0
    refused: HandshakeRefused | None = None
    try:
        await stream.send_all(request)
        while True:
            data = await stream.receive_some(receive_buffer_size)
            received += len(data)
            http.receive_data(bytes(data))
            while True:
                try:
                    event = http.next_event()
                except h11.RemoteProtocolError as exc:
                    if not data:  # h11 calls an answer cut short malformed
                        raise HandshakeFailed(
                            "the server closed the connection during the handshake"
                        ) from None
                    raise HandshakeFailed(f"the server's answer is not valid HTTP: {exc}") from None
                if event is h11.NEED_DATA:
                    break
                if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                    protocol = _check_upgrade(event, key, subprotocols)
                    load_numpy()  # for masking audio appends, before the session starts
                    ws = ClientWebSocket(stream, receive_buffer_size, max_message_size)
                    ws.bytes_sent, ws.bytes_received = len(request), received
                    ws.subprotocol = protocol
                    trailing, _closed = http.trailing_data
                    ws.take_trailing(trailing)
                    return ws
                if isinstance(event, h11.Response | h11.InformationalResponse):
                    refused = HandshakeRefused(event.status_code, tuple(event.headers), b"")
                    if isinstance(event, h11.InformationalResponse):
                        raise refused
                elif isinstance(event, h11.Data) and refused is not None:
                    room = _MAX_REJECT_BODY - len(refused.body)
                    refused.body += bytes(event.data[:room])
                elif isinstance(event, h11.EndOfMessage) and refused is not None:
                    raise refused
                elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                    break
            if not data:
                if refused is not None:
                    raise refused
                raise HandshakeFailed("the server closed the connection during the handshake")
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise HandshakeFailed(f"the connection broke during the handshake: {exc}") from exc
