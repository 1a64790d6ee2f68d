"""A raw, scripted server for the client WebSocket tests: the far end of a memory stream.

:class:`RawPeer` reads the client's upgrade request and writes whatever bytes a test tells it
to, for what a well-behaved server never does: a bad accept token, a masked frame, invalid
UTF-8, EOF in the middle of things. It unmasks the client's frames with the test module's own
reference reader (:func:`test_frames.unmask_client_frame`), not the code under test.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import outcome
import trio
import trio.testing
from test_frames import unmask_client_frame
from websocket_helpers import handshake_args

from trio_realtime._wire._handshake import client_handshake
from trio_realtime._wire._websocket import ClientWebSocket

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_token(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def split_client_frames(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Whole client frames at the start of ``data`` (unmasked), and the bytes after them."""
    frames: list[tuple[int, bytes]] = []
    pos = 0
    while len(data) - pos >= 2:
        length = data[pos + 1] & 0x7F
        head = {126: 4, 127: 10}.get(length, 2)
        if len(data) - pos < head:
            break
        if head > 2:
            length = int.from_bytes(data[pos + 2 : pos + head], "big")
        end = pos + head + 4 + length
        if end > len(data):
            break
        opcode, fin, payload = unmask_client_frame(data[pos:end])
        assert fin, "the client sends every message as one final frame"
        frames.append((opcode, payload))
        pos = end
    return frames, data[pos:]


class RawPeer:
    """The server end of a memory stream, writing whatever bytes a test tells it to."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.request_line = b""
        self.headers: dict[bytes, bytes] = {}
        self.bytes_read = 0
        self._buffer = b""

    async def read_request(self) -> None:
        while b"\r\n\r\n" not in self._buffer:
            chunk = await self.stream.receive_some()
            assert chunk, "the client hung up during its request"
            self.bytes_read += len(chunk)
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        self.request_line, *lines = head.split(b"\r\n")
        for line in lines:
            name, _, value = line.partition(b":")
            assert name.lower() not in self.headers, name
            self.headers[name.lower()] = value.strip()

    def upgrade(self, *extra: bytes, accept: bytes | None = None, base: bool = True) -> bytes:
        """A ``101`` answering the request read (``extra`` header lines added)."""
        lines = [b"HTTP/1.1 101 Switching Protocols"]
        if base:
            lines += [b"Upgrade: websocket", b"Connection: Upgrade"]
        token = accept_token(self.headers[b"sec-websocket-key"]) if accept is None else accept
        lines += [b"Sec-WebSocket-Accept: " + token, *extra]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def frames(self, count: int) -> list[tuple[int, bytes]]:
        """The next ``count`` frames the client writes, unmasked."""
        got: list[tuple[int, bytes]] = []
        while True:
            frames, self._buffer = split_client_frames(self._buffer)
            got += frames
            if len(got) >= count:
                assert len(got) == count, got
                return got
            chunk = await self.stream.receive_some()
            assert chunk, f"the client hung up after {got}"
            self.bytes_read += len(chunk)
            self._buffer += chunk

    async def eof(self) -> None:
        await self.stream.aclose()


Respond = Callable[[RawPeer], bytes]


async def raw_handshake(
    respond: Respond,
    *,
    eof: bool = False,
    pair: Callable[[], tuple[trio.abc.Stream, trio.abc.Stream]] = trio.testing.memory_stream_pair,
    **overrides: Any,
) -> tuple[ClientWebSocket, RawPeer]:
    """``client_handshake`` against a :class:`RawPeer` that reads the request, then writes
    ``respond(peer)`` (and then ends the stream, with ``eof``), over streams from ``pair``."""
    client_stream, server_stream = pair()
    peer = RawPeer(server_stream)

    async def serve() -> None:
        await peer.read_request()
        await peer.send(respond(peer))
        if eof:
            await peer.eof()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        result = await outcome.acapture(
            client_handshake, client_stream, **handshake_args(**overrides)
        )
    return result.unwrap(), peer


def upgrade(peer: RawPeer) -> bytes:
    return peer.upgrade()
