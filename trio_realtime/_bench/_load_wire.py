"""The load server's WebSocket wire, sans-I/O: the upgrade request and RFC 6455 frames.

Why not trio-websocket here (the reference server ran on it at first): it cost the server
about 70 us per message (wsproto parsing, unmasking and UTF-8 checks of every 6.4 KB append it then throws
away, a lock per send), which saturated the server's core at about 500 sessions, before the
client; and its send lock yields to the scheduler between the moment the server stamps an
event and the moment the bytes reach the socket, which would charge the server's scheduling
delay to the client's latency. This server only ever needs to write whole pre-built text
frames and to skip whole client frames, so it does exactly that:

* :func:`parse_upgrade` reads the HTTP upgrade request; :func:`accept_response` and
  :func:`error_response` answer it;
* :func:`text_frame` builds an unmasked server text frame;
* :class:`FrameSkipper` walks the client's masked frames, counting data messages without
  unmasking or copying them, and returns control frames (ping, close) unmasked.
"""

from __future__ import annotations

import struct
from typing import Final, final
from urllib.parse import urlsplit

import attrs

from .._wire._handshake import accept_token

__all__ = [
    "CLOSE",
    "PING",
    "PONG",
    "FrameSkipper",
    "ProtocolViolation",
    "Upgrade",
    "accept_response",
    "close_frame",
    "error_response",
    "parse_upgrade",
    "text_frame",
]

CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA
_MAX_HEAD: Final = 16 * 1024
_REASONS: Final = {400: "Bad Request", 404: "Not Found", 426: "Upgrade Required"}


class ProtocolViolation(Exception):
    """The client broke RFC 6455 or sent a request this server cannot upgrade."""


@attrs.frozen(kw_only=True)
class Upgrade:
    """A parsed upgrade request.

    Attributes:
        target: The request target (path and query).
        path: The path alone.
        headers: ``(name, value)`` pairs as raw bytes, names as sent.
        subprotocols: The offered ``Sec-WebSocket-Protocol`` tokens.
        key: The ``Sec-WebSocket-Key``.
        rest: Bytes after the request head (frames the client sent early).
    """

    target: str
    path: str
    headers: tuple[tuple[bytes, bytes], ...]
    subprotocols: tuple[str, ...]
    key: bytes
    rest: bytes


def parse_upgrade(buffer: bytes) -> Upgrade | None:
    """The upgrade request at the start of ``buffer``; ``None`` while its head is incomplete.

    Raises:
        ProtocolViolation: Not a WebSocket upgrade (HTTP 400), or a head over 16 KiB.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > _MAX_HEAD:
            raise ProtocolViolation("request head too large")
        return None
    lines = buffer[:end].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or not parts[2].startswith(b"HTTP/1.1"):
        raise ProtocolViolation(f"not an HTTP/1.1 GET: {lines[0][:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ProtocolViolation(f"bad header line: {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    found = {name.lower(): value for name, value in headers}
    if b"websocket" not in found.get(b"upgrade", b"").lower():
        raise ProtocolViolation("no Upgrade: websocket header")
    key = found.get(b"sec-websocket-key")
    if not key or found.get(b"sec-websocket-version") != b"13":
        raise ProtocolViolation("missing Sec-WebSocket-Key or version 13")
    offered = b",".join(
        value for name, value in headers if name.lower() == b"sec-websocket-protocol"
    )
    target = parts[1].decode("latin-1")
    return Upgrade(
        target=target,
        path=urlsplit(target).path,
        headers=tuple(headers),
        subprotocols=tuple(p.strip().decode("latin-1") for p in offered.split(b",") if p.strip()),
        key=key,
        rest=buffer[end + 4 :],
    )


def accept_response(key: bytes, subprotocol: str | None) -> bytes:
    """The ``101 Switching Protocols`` answer for ``Sec-WebSocket-Key`` ``key``."""
    accept = accept_token(key)
    head = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n"
    )
    if subprotocol is not None:
        head += b"Sec-WebSocket-Protocol: " + subprotocol.encode("latin-1") + b"\r\n"
    return head + b"\r\n"


def error_response(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    """An HTTP error answer to the upgrade request (the connection closes after it)."""
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n".encode()
        + b"Content-Type: "
        + content_type
        + f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


def _header(opcode: int, length: int) -> bytes:
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame (servers never mask)."""
    payload = text.encode()
    return _header(0x1, len(payload)) + payload


def control_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked control frame (ping, pong or close; payload at most 125 bytes)."""
    return _header(opcode, len(payload)) + payload


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with ``code`` and ``reason``."""
    return control_frame(CLOSE, struct.pack("!H", code) + reason.encode()[:123])


def _unmask(payload: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@final
class FrameSkipper:
    """Walks client frames: counts data messages, returns control frames, copies nothing big.

    Every client frame must be masked (RFC 6455 5.1). Data payloads are skipped, even when
    they span many reads; control frames come back unmasked as ``(opcode, payload)``.
    """

    __slots__ = ("_buffer", "_skip", "messages")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skip = 0
        self.messages = 0

    def feed(self, data: bytes | bytearray) -> list[tuple[int, bytes]]:
        """Consume ``data``; return the control frames it completed.

        Raises:
            ProtocolViolation: An unmasked frame or a malformed control frame.
        """
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return []
            data = data[self._skip :]
            self._skip = 0
        buffer = self._buffer
        buffer += data
        controls: list[tuple[int, bytes]] = []
        pos = 0
        size = len(buffer)
        while size - pos >= 2:
            b0, b1 = buffer[pos], buffer[pos + 1]
            if not b1 & 0x80:
                raise ProtocolViolation("client frame not masked")
            opcode, length, head = b0 & 0x0F, b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + 4:
                break
            start = pos + head + 4
            if opcode & 0x8:
                if length > 125 or not b0 & 0x80:
                    raise ProtocolViolation("malformed control frame")
                if size - start < length:
                    break
                mask = bytes(buffer[start - 4 : start])
                controls.append((opcode, _unmask(bytes(buffer[start : start + length]), mask)))
                pos = start + length
                continue
            if b0 & 0x80:
                self.messages += 1
            if size - start < length:
                self._skip = length - (size - start)
                pos = size
                break
            pos = start + length
        del buffer[:pos]
        return controls
