"""A raw client for hostile-input tests: hand-built HTTP and WebSocket frames on a TCP stream.

Unlike ``raw_client`` in ``test_server_wire.py`` (a well-behaved trio-websocket client), this
one writes whatever bytes a test gives it, and reads the server's frames with the client's
own sans-I/O :class:`~trio_realtime._wire._frames.FrameReader`, so a test sees exactly which
frames (and which close code) the server sent, or that it sent none.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import orjson
import trio

from trio_realtime._wire._frames import (
    CLOSE,
    PING,
    PONG,
    ControlFrame,
    FrameReader,
    encode_frame,
    parse_close,
)

KEY = "sk-test-0123456789abcdefWXYZ"


def upgrade_request(
    target: str = "/v1/realtime?model=gpt-realtime",
    *,
    host: bytes = b"127.0.0.1",
    headers: Sequence[tuple[bytes, bytes]] | None = None,
    subprotocols: bytes | None = None,
) -> bytes:
    """The bytes of an upgrade request; by default with a Bearer key and the beta header."""
    if headers is None:
        headers = [(b"Authorization", f"Bearer {KEY}".encode()), (b"OpenAI-Beta", b"realtime=v1")]
    lines = [
        b"GET " + target.encode() + b" HTTP/1.1",
        b"Host: " + host,
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)),
        b"Sec-WebSocket-Version: 13",
        *(name + b": " + value for name, value in headers),
    ]
    if subprotocols is not None:
        lines.append(b"Sec-WebSocket-Protocol: " + subprotocols)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """One frame, as a client would send it unless told otherwise (unmasked, RSV bits, a
    declared ``length`` that is not the payload's, a length in ``length_bytes`` 0, 2 or 8
    bytes whether or not that is its shortest form...)."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if masked else 0
    if length_bytes is None:
        length_bytes = 0 if size < 126 else 2 if size < 65536 else 8
    if length_bytes == 0:
        head = bytes((first, mask_bit | size))
    elif length_bytes == 2:
        head = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def text(message: str | bytes) -> bytes:
    """A masked, final text frame."""
    return encode_frame(0x1, message.encode() if isinstance(message, str) else message)


@attrs.define
class RawConnection:
    """One TCP connection to the server, upgraded or not."""

    stream: trio.SocketStream
    reader: FrameReader = attrs.field(factory=lambda: FrameReader(64 * 1024 * 1024))
    frames: list[str | bytes | ControlFrame] = attrs.field(factory=list)
    eof: bool = False

    async def send(self, data: bytes) -> bool:
        """Write raw bytes; False if the server had already closed the connection."""
        try:
            await self.stream.send_all(data)
            return True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False

    async def _fill(self) -> None:
        try:
            data = await self.stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self.eof = True
            return
        self.frames.extend(self.reader.feed(data))

    async def next_frame(self) -> str | bytes | ControlFrame | None:
        """The next frame from the server (pings answered), or ``None`` at the end of TCP."""
        while True:
            while not self.frames and not self.eof:
                await self._fill()
            if not self.frames:
                return None
            item = self.frames.pop(0)
            if isinstance(item, ControlFrame) and item.opcode == PING:
                await self.send(encode_frame(PONG, item.payload))
                continue
            return item

    async def event(self) -> dict[str, Any]:
        """The next server event (a text frame), which must come."""
        item = await self.next_frame()
        assert isinstance(item, str), item
        event = orjson.loads(item)
        assert isinstance(event, dict)
        return event

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        """Events up to and including the first of ``event_type``."""
        events = [await self.event()]
        while events[-1]["type"] != event_type:
            events.append(await self.event())
        return events

    async def closing(self) -> tuple[list[Any], int | None]:
        """Everything until the server's close frame, which is answered, and its code
        (``None`` if TCP ended without one)."""
        seen = []
        while True:
            item = await self.next_frame()
            if item is None:
                return seen, None
            if isinstance(item, ControlFrame) and item.opcode == CLOSE:
                code, _reason = parse_close(item.payload)
                await self.send(encode_frame(CLOSE, item.payload[:2]))
                return seen, code
            seen.append(item)

    async def http_answer(self) -> bytes:
        """Everything the server sends until it closes (an HTTP answer, say)."""
        answer = b""
        while True:
            try:
                chunk = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return answer
            if not chunk:
                return answer
            answer += chunk


@asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[RawConnection]:
    """A TCP connection to ``127.0.0.1:port``, closed on exit."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        yield RawConnection(stream)
    finally:
        await trio.aclose_forcefully(stream)


@asynccontextmanager
async def upgraded(port: int, request: bytes | None = None) -> AsyncIterator[RawConnection]:
    """A connection whose upgrade succeeded (the 101 read, ``session.created`` not yet)."""
    async with raw_connection(port) as conn:
        await conn.stream.send_all(upgrade_request() if request is None else request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await conn.stream.receive_some(65536)
            assert chunk, f"no upgrade answer: {head!r}"
            head += chunk
        status, rest = head.split(b"\r\n\r\n", 1)
        assert status.startswith(b"HTTP/1.1 101 "), status
        conn.frames.extend(conn.reader.feed(rest))
        yield conn


__all__ = [
    "CLOSE",
    "KEY",
    "PING",
    "RawConnection",
    "frame",
    "raw_connection",
    "text",
    "upgrade_request",
    "upgraded",
]
