"""The client WebSocket's opening handshake over in-memory streams, byte by byte.

On the other end of ``trio.testing.memory_stream_pair()`` sits :class:`raw_peer.RawPeer`, a
test-driven server writing raw bytes: a refusal, a bad accept token, an answer cut short.

Every test runs under ``trio.fail_after`` so a missing wake-up fails instead of hanging.
"""

from __future__ import annotations

import base64

import pytest
import trio
import trio.testing
from raw_peer import Respond, accept_token, raw_handshake, upgrade
from test_frames import server_frame
from websocket_helpers import TIMEOUT, handshake_args, receive_until

from trio_realtime._wire._frames import BINARY, CLOSE, TEXT
from trio_realtime._wire._handshake import HandshakeFailed, HandshakeRefused, client_handshake
from trio_realtime._wire._websocket import WebSocketClosed


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
