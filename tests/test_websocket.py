"""The client WebSocket over in-memory streams: the upgrade, messages, pings, closes and faults.

On the other end of ``trio.testing.memory_stream_pair()`` sits :class:`RawPeer`, a test-driven server writing raw bytes, for what a well-behaved server
  never does: a bad accept token, a masked frame, invalid UTF-8, EOF in the middle of things.

Every test runs under ``trio.fail_after`` so a missing wake-up fails instead of hanging.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import outcome
import pytest
import trio
import trio.testing
from test_frames import server_frame, unmask_client_frame
from websocket_helpers import (
    TIMEOUT,
    closed_by,
    handshake_args,
    receive_until,
    receive_until_closed,
)

from trio_realtime._wire._frames import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT
from trio_realtime._wire._websocket import (
    ClientWebSocket,
    CloseInfo,
    HandshakeFailed,
    HandshakeRefused,
    WebSocketClosed,
    client_handshake,
)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# --- A raw, scripted server -------------------------------------------------------------------


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


# --- The handshake, byte by byte --------------------------------------------------------------


async def test_the_upgrade_request_is_a_websocket_get() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(
            upgrade,
            subprotocols=("realtime", "openai-beta.realtime-v1"),
            headers=((b"Authorization", b"Bearer sk-test"),),
        )
    assert peer.request_line == b"GET /v1/realtime?model=test-model HTTP/1.1"
    assert peer.headers[b"host"] == b"example.test"
    assert peer.headers[b"upgrade"].lower() == b"websocket"
    assert peer.headers[b"connection"].lower() == b"upgrade"
    assert peer.headers[b"sec-websocket-version"] == b"13"
    assert len(base64.b64decode(peer.headers[b"sec-websocket-key"], validate=True)) == 16
    assert peer.headers[b"sec-websocket-protocol"] == b"realtime, openai-beta.realtime-v1"
    assert peer.headers[b"authorization"] == b"Bearer sk-test"
    assert b"sec-websocket-extensions" not in peer.headers  # nothing we could not honour
    assert ws.closed is None
    assert ws.subprotocol is None  # offered, but the server chose none
    assert repr(ws) == "<ClientWebSocket open>"


async def test_each_handshake_uses_a_fresh_key() -> None:
    with trio.fail_after(TIMEOUT):
        _, first = await raw_handshake(upgrade)
        _, second = await raw_handshake(upgrade)
    assert first.headers[b"sec-websocket-key"] != second.headers[b"sec-websocket-key"]


async def test_frames_in_the_same_write_as_the_101_are_returned_by_the_first_receive() -> None:
    frames = server_frame(TEXT, b"first") + server_frame(BINARY, b"\x00second")
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(lambda peer: peer.upgrade() + frames)
        assert await ws.receive_messages() == ["first", b"\x00second"]
        assert ws.bytes_received == len(peer.upgrade()) + len(frames)
        assert ws.bytes_sent == peer.bytes_read  # the whole request, nothing more
        await peer.send(server_frame(TEXT, b"third"))
        assert await ws.receive_messages() == ["third"]


async def test_a_frame_split_between_the_101_and_the_next_read_is_reassembled() -> None:
    frame = server_frame(TEXT, b"x" * 300)
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(lambda peer: peer.upgrade() + frame[:100])
        await peer.send(frame[100:])
        assert await receive_until(ws, 1) == ["x" * 300]


async def test_a_protocol_error_right_after_the_101_closes_on_the_first_receive() -> None:
    bad = server_frame(TEXT, b"hi", mask=b"\x01\x02\x03\x04")
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(lambda peer: peer.upgrade() + bad)
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive_messages()
        assert info.value.closed.code == 1002
        [(opcode, payload)] = await peer.frames(1)
    assert opcode == CLOSE
    assert payload[:2] == (1002).to_bytes(2, "big")


async def test_a_handshake_read_a_few_bytes_at_a_time_keeps_the_frames_after_it() -> None:
    frames = server_frame(TEXT, b"one") + server_frame(BINARY, bytes(300))
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(lambda peer: peer.upgrade() + frames, receive_buffer_size=7)
        assert await receive_until(ws, 2) == ["one", bytes(300)]
        assert ws.bytes_received == len(peer.upgrade()) + len(frames)


async def test_upgrade_headers_are_matched_without_regard_to_case_or_other_tokens() -> None:
    with trio.fail_after(TIMEOUT):
        ws, _ = await raw_handshake(
            lambda peer: peer.upgrade(
                b"upgrade: WebSocket", b"CONNECTION: keep-alive, UPGRADE", base=False
            )
        )
    assert ws.closed is None


async def test_a_refusal_is_handshake_refused_with_status_headers_and_body() -> None:
    body = b'{"error": {"type": "invalid_request_error", "code": "forbidden"}}'
    response = (
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeRefused) as info:
        await raw_handshake(lambda peer: response)
    assert info.value.status_code == 403
    assert (b"content-type", b"application/json") in info.value.headers
    assert info.value.body == body
    assert str(info.value) == "HTTP 403"


async def test_a_refusal_body_ended_by_eof_is_kept() -> None:
    response = b"HTTP/1.1 500 Internal Server Error\r\n\r\nsomething broke"
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeRefused) as info:
        await raw_handshake(lambda peer: response, eof=True)
    assert (info.value.status_code, info.value.body) == (500, b"something broke")


async def test_a_refusal_body_is_capped_at_64_kib() -> None:
    body = bytes(range(256)) * 400  # 100 KiB
    response = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 102400\r\n\r\n" + body
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeRefused) as info:
        await raw_handshake(lambda peer: response, receive_buffer_size=4096)
    assert info.value.status_code == 429
    assert info.value.body == body[: 64 * 1024]


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        pytest.param(
            lambda peer: peer.upgrade(accept=base64.b64encode(b"x" * 20)),
            "Sec-WebSocket-Accept",
            id="bad-accept",
        ),
        pytest.param(
            lambda peer: peer.upgrade(accept=accept_token(b"dGhlIHNhbXBsZSBub25jZQ==")),
            "Sec-WebSocket-Accept",
            id="accept-for-another-key",
        ),
        pytest.param(
            lambda peer: peer.upgrade(b"Connection: Upgrade", base=False),
            "upgrade",
            id="no-upgrade-header",
        ),
        pytest.param(
            lambda peer: peer.upgrade(b"Upgrade: h2c", b"Connection: Upgrade", base=False),
            "does not upgrade to websocket",
            id="upgrade-to-something-else",
        ),
        pytest.param(
            lambda peer: peer.upgrade(b"Upgrade: websocket", base=False),
            "Connection: Upgrade",
            id="no-connection-header",
        ),
        pytest.param(
            lambda peer: peer.upgrade(b"Sec-WebSocket-Extensions: permessage-deflate"),
            "extension",
            id="extension-not-offered",
        ),
        pytest.param(
            lambda peer: peer.upgrade(b"Sec-WebSocket-Protocol: chat"),
            "subprotocol",
            id="subprotocol-not-offered",
        ),
    ],
)
async def test_an_invalid_upgrade_answer_is_handshake_failed(
    respond: Respond, message: str
) -> None:
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeFailed, match=message):
        await raw_handshake(respond, subprotocols=("realtime",))


async def test_the_chosen_subprotocol_must_be_one_offered() -> None:
    with trio.fail_after(TIMEOUT):
        ws, _ = await raw_handshake(
            lambda peer: peer.upgrade(b"Sec-WebSocket-Protocol: realtime"),
            subprotocols=("openai-insecure-api-key.sk-SECRET", "realtime"),
        )
    assert ws.subprotocol == "realtime"
    secret_offered = "openai-insecure-api-key.sk-SECRET"
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeFailed) as info:
        await raw_handshake(
            lambda peer: peer.upgrade(b"Sec-WebSocket-Protocol: " + b"other"),
            subprotocols=(secret_offered,),
        )
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(b"HTTP/1.1 101 Swi", id="status-line"),
        pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", id="headers"),
    ],
)
async def test_eof_during_the_handshake_is_handshake_failed(partial: bytes) -> None:
    with (
        trio.fail_after(TIMEOUT),
        pytest.raises(HandshakeFailed, match="closed the connection during the handshake"),
    ):
        await raw_handshake(lambda peer: partial, eof=True)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 101 Switching\r\nno colon here\r\n\r\n", id="bad-header"),
    ],
)
async def test_a_malformed_answer_is_handshake_failed(garbage: bytes) -> None:
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeFailed, match="not valid HTTP"):
        await raw_handshake(lambda peer: garbage)


async def test_a_broken_stream_during_the_handshake_is_handshake_failed() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    await server_stream.aclose()
    await client_stream.send_stream.aclose()  # writing the request now fails
    with trio.fail_after(TIMEOUT), pytest.raises(HandshakeFailed, match="broke"):
        await client_handshake(client_stream, **handshake_args())


# --- Messages and control frames against a raw peer ------------------------------------------


async def test_messages_are_written_as_single_masked_frames() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        before = ws.bytes_sent
        await ws.send_message("héllo")
        await ws.send_message(b"\x00\xff" * 100)
        await ws.send_message("")
        frames = await peer.frames(3)
    assert frames == [(TEXT, "héllo".encode()), (BINARY, b"\x00\xff" * 100), (TEXT, b"")]
    assert ws.bytes_sent == peer.bytes_read
    assert ws.bytes_sent - before == (2 + 4 + 6) + (4 + 4 + 200) + (2 + 4)


async def test_binary_messages_are_bytes_and_text_messages_str() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(BINARY, b"\x01\x02") + server_frame(TEXT, b"t"))
        messages = await ws.receive_messages()
    assert messages == [b"\x01\x02", "t"]
    assert [type(m) for m in messages] == [bytes, str]


async def test_a_server_ping_is_answered_with_its_payload() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(PING, b"are you there") + server_frame(TEXT, b"after"))
        assert await ws.receive_messages() == ["after"]
        assert await peer.frames(1) == [(PONG, b"are you there")]


async def test_fragmented_server_messages_are_reassembled() -> None:
    stream = (
        server_frame(TEXT, "d€".encode()[:2], fin=False)
        + server_frame(PING, b"mid")
        + server_frame(CONTINUATION, "d€".encode()[2:])
    )
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(stream)
        assert await ws.receive_messages() == ["d€"]
        assert await peer.frames(1) == [(PONG, b"mid")]


async def test_ping_waits_for_its_pong_and_a_later_pong_answers_earlier_pings() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        done: list[int] = []

        async def ping(index: int) -> None:
            await ws.ping()
            done.append(index)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ping, 1)
            [(opcode, first)] = await peer.frames(1)
            assert opcode == PING
            nursery.start_soon(ping, 2)
            [(opcode, second)] = await peer.frames(1)
            assert opcode == PING
            assert first != second
            nursery.start_soon(receive_until, ws, 2)
            # A pong that answers no ping of ours wakes nobody.
            await peer.send(server_frame(PONG, b"unsolicited") + server_frame(TEXT, b"1"))
            await trio.testing.wait_all_tasks_blocked()
            assert done == []
            # The second ping's pong answers both.
            await peer.send(server_frame(PONG, second) + server_frame(TEXT, b"2"))
        assert sorted(done) == [1, 2]
        assert ws.closed is None


async def test_ping_is_woken_with_websocket_closed_when_the_stream_ends() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        pinged: list[CloseInfo] = []

        async def ping() -> None:
            pinged.append(await closed_by(ws.ping))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_until_closed, ws, [])
            nursery.start_soon(ping)
            [(opcode, _)] = await peer.frames(1)
            assert opcode == PING
            await peer.eof()
        assert pinged == [CloseInfo(1006, None)]


async def test_a_server_close_returns_earlier_messages_then_raises_and_is_echoed() -> None:
    close = server_frame(CLOSE, (4001).to_bytes(2, "big") + "au revoir, ça va".encode())
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(TEXT, b"last") + close + server_frame(TEXT, b"ignored"))
        assert await ws.receive_messages() == ["last"]
        assert ws.closed == CloseInfo(4001, "au revoir, ça va")
        assert await peer.frames(1) == [(CLOSE, (4001).to_bytes(2, "big"))]
        for _ in range(2):  # and keeps raising
            with pytest.raises(WebSocketClosed) as info:
                await ws.receive_messages()
            assert info.value.closed == CloseInfo(4001, "au revoir, ça va")
        with pytest.raises(WebSocketClosed):
            await ws.send_message("too late")
        with pytest.raises(WebSocketClosed):
            await ws.ping()
        await ws.aclose()  # already closed: returns at once
    assert repr(ws) == "<ClientWebSocket closed 4001>"


async def test_an_empty_server_close_is_1005_and_echoed_empty() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(CLOSE, b""))
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive_messages()
        assert info.value.closed == CloseInfo(1005, None)
        assert await peer.frames(1) == [(CLOSE, b"")]


async def test_aclose_sends_our_close_and_waits_for_the_peers() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        received: list[str | bytes] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_until_closed, ws, received)
            nursery.start_soon(ws.aclose, 1001, "going away")
            assert await peer.frames(1) == [(CLOSE, (1001).to_bytes(2, "big") + b"going away")]
            with pytest.raises(WebSocketClosed):
                await ws.send_message("after close")
            await peer.send(server_frame(TEXT, b"in flight") + server_frame(CLOSE, b"\x03\xe9"))
        assert received == ["in flight"]
        assert ws.closed == CloseInfo(1001, None)
        # Nothing more was written: no echo of the peer's answer to our close.
        await peer.eof()
        assert ws.bytes_sent == peer.bytes_read


async def test_aclose_returns_when_the_stream_ends_instead_of_a_close() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_until_closed, ws, [])
            nursery.start_soon(ws.aclose)
            await peer.frames(1)
            await peer.eof()
        assert ws.closed == CloseInfo(1006, None)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        pytest.param(server_frame(TEXT, b"hi", mask=b"\x01\x02\x03\x04"), 1002, id="masked"),
        pytest.param(server_frame(BINARY, b"x", rsv=0x40), 1002, id="reserved-bit"),
        pytest.param(server_frame(CONTINUATION, b"x"), 1002, id="lone-continuation"),
        pytest.param(server_frame(CLOSE, b"\x03"), 1002, id="one-byte-close"),
        pytest.param(server_frame(CLOSE, (1006).to_bytes(2, "big")), 1002, id="close-1006"),
        pytest.param(server_frame(TEXT, b"caf\xe9"), 1007, id="invalid-utf8"),
        pytest.param(server_frame(CLOSE, b"\x03\xe8\xff"), 1007, id="close-reason-not-utf8"),
        pytest.param(server_frame(BINARY, bytes(1001)), 1009, id="too-big"),
        pytest.param(bytes((0x82, 127)) + (1 << 40).to_bytes(8, "big"), 1009, id="header-only"),
    ],
)
async def test_a_protocol_error_closes_with_its_code_and_raises(bad: bytes, code: int) -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade, max_message_size=1000)
        await peer.send(bad)
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive_messages()
        assert info.value.closed.code == code
        assert ws.closed == info.value.closed
        [(opcode, payload)] = await peer.frames(1)
        assert opcode == CLOSE
        assert int.from_bytes(payload[:2], "big") == code
        assert len(payload) <= 125
        with pytest.raises(WebSocketClosed):
            await ws.receive_messages()
        with pytest.raises(WebSocketClosed):
            await ws.send_message("no")


async def test_a_protocol_error_after_the_peer_hung_up_still_raises_websocket_closed() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(TEXT, b"\xff"))
        await peer.eof()  # our close frame has nowhere to go
        assert (await closed_by(ws.receive_messages)).code == 1007


async def test_a_server_close_after_the_peer_hung_up_still_records_its_code() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(CLOSE, (1001).to_bytes(2, "big")))
        await peer.eof()
        assert await closed_by(ws.receive_messages) == CloseInfo(1001, None)


async def test_concurrent_sends_never_interleave_their_frames() -> None:
    messages = [bytes([i]) * 70_000 for i in range(3)] + ["text" * 1000]
    with trio.fail_after(TIMEOUT):
        # Lockstep: every write waits for the reader, so writers really overlap.
        ws, peer = await raw_handshake(upgrade, pair=trio.testing.lockstep_stream_pair)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_until, ws, 1)  # to see the pong
            for message in messages:
                nursery.start_soon(ws.send_message, message)
            nursery.start_soon(ws.ping)
            frames = await peer.frames(len(messages) + 1)
            [ping] = [payload for opcode, payload in frames if opcode == PING]
            await peer.send(server_frame(PONG, ping) + server_frame(TEXT, b"done"))
    sent = sorted((TEXT, m.encode()) if isinstance(m, str) else (BINARY, m) for m in messages)
    assert sorted(f for f in frames if f[0] != PING) == sent


async def test_a_write_cancelled_half_way_ends_the_connection() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade, pair=trio.testing.lockstep_stream_pair)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.send_message, bytes(100_000))
            assert len(await peer.stream.receive_some(1000)) <= 1000
            nursery.cancel_scope.cancel()
        assert ws.closed == CloseInfo(1006, "a write was cancelled")
        assert (await closed_by(lambda: ws.send_message("more"))).code == 1006
        assert (await closed_by(ws.receive_messages)).code == 1006


async def test_eof_without_a_close_frame_is_1006() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(TEXT, b"bye"))
        await peer.eof()
        received: list[str | bytes] = []
        assert await receive_until_closed(ws, received) == CloseInfo(1006, None)
        assert received == ["bye"]
        with pytest.raises(WebSocketClosed) as info:
            await ws.send_message("anyone?")
        assert info.value.closed.code == 1006


async def test_eof_in_the_middle_of_a_frame_is_1006() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(TEXT, b"x" * 200)[:50])
        await peer.eof()
        assert await receive_until_closed(ws, []) == CloseInfo(1006, None)


async def test_messages_before_a_bad_frame_in_the_same_read_are_delivered_first() -> None:
    with trio.fail_after(TIMEOUT):
        ws, peer = await raw_handshake(upgrade)
        await peer.send(server_frame(TEXT, b"valid") + server_frame(TEXT, b"\xff"))
        assert await ws.receive_messages() == ["valid"]
        assert await closed_by(ws.receive_messages) == CloseInfo(
            1007, "invalid UTF-8 in a text message"
        )
