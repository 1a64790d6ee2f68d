"""The client WebSocket over in-memory streams: messages, pings, closes and faults.

On the other end of ``trio.testing.memory_stream_pair()`` sits :class:`raw_peer.RawPeer`, a
test-driven server writing raw bytes, for what a well-behaved server never does: a masked
frame, invalid UTF-8, EOF in the middle of things.

Every test runs under ``trio.fail_after`` so a missing wake-up fails instead of hanging.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from raw_peer import raw_handshake, upgrade
from test_frames import server_frame
from websocket_helpers import TIMEOUT, closed_by, receive_until, receive_until_closed

from trio_realtime._wire._frames import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT
from trio_realtime._wire._websocket import CloseInfo, WebSocketClosed


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
