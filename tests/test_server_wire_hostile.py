"""The reference server against a hostile client: every bad byte answered, nothing kept.

Rules these tests follow: a raw TCP client writes hand-built bytes (``raw_wire.py``) and reads
the server's frames with the client's sans-I/O frame reader, so a test sees the exact close
code the server sent, or that it sent none. Every test runs under a ``trio.fail_after``
deadline. The seeded fuzzer over the same ground is ``test_fuzz_server.py``.
"""

from __future__ import annotations

import logging

import orjson
import pytest
import trio
from raw_wire import KEY, frame, raw_connection, text, upgrade_request, upgraded

from trio_realtime.testing import open_local_server

DEADLINE = 10.0

#: Frames RFC 6455 says a server must fail, and the close code it must send first.
BAD_FRAMES = {
    "unmasked text frame": (frame(0x1, b'{"type":"x"}', masked=False), 1002),
    "reserved bit 1": (frame(0x1, b"{}", rsv=4), 1002),
    "reserved bit 3": (frame(0x1, b"{}", rsv=1), 1002),
    "data opcode 0x3": (frame(0x3, b"{}"), 1002),
    "control opcode 0xB": (frame(0xB, b""), 1002),
    "control frame over 125 bytes": (frame(0x9, b"x" * 126), 1002),
    "fragmented ping": (frame(0x9, b"p", fin=False), 1002),
    "continuation first": (frame(0x0, b"{}"), 1002),
    "new message inside a fragmented one": (
        frame(0x1, b'{"ty', fin=False) + frame(0x1, b"{}"),
        1002,
    ),
    "length not in its shortest form": (frame(0x1, b"{}", length_bytes=2), 1002),
    "64-bit length with its top bit set": (frame(0x1, b"", length=1 << 63), 1002),
    "one-byte close payload": (frame(0x8, b"\x03"), 1002),
    "close code 1005": (frame(0x8, (1005).to_bytes(2, "big")), 1002),
    "close code 999": (frame(0x8, (999).to_bytes(2, "big")), 1002),
    "text that is not UTF-8": (frame(0x1, b'{"type":"\xff"}'), 1007),
    "fragmented text that is not UTF-8": (
        frame(0x1, b'{"type":"\xc3', fin=False) + frame(0x0, b'("}'),
        1007,
    ),
    "close reason that is not UTF-8": (frame(0x8, b"\x03\xe8\xff\xfe"), 1007),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_a_framing_error_gets_its_close_code_before_tcp_ends(name: str) -> None:
    bad, code = BAD_FRAMES[name]
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with upgraded(server.port) as conn:
                await conn.until("session.created")
                await conn.send(bad)
                _seen, closed = await conn.closing()
            assert closed == code
            (info,) = server.connections
            await info.wait_ended()
            assert info.close_code == code
            async with upgraded(server.port) as conn:  # a new connection is served
                assert (await conn.event())["type"] == "session.created"
            assert server.errors == ()


async def test_frames_before_a_bad_one_in_the_same_read_are_still_answered() -> None:
    clear = text('{"type":"input_audio_buffer.clear"}')
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, upgraded(server.port) as conn:
            await conn.until("session.created")
            await conn.send(clear + frame(0x1, b"{}", rsv=2))
            seen, closed = await conn.closing()
            assert [orjson.loads(m)["type"] for m in seen] == ["input_audio_buffer.cleared"]
            assert closed == 1002


async def test_a_message_over_the_limit_in_small_fragments_gets_1009() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(max_message_size=4096) as server:
            async with upgraded(server.port) as conn:
                await conn.until("session.created")
                pieces = [frame(0x1, b"[" * 100, fin=False)]
                pieces += [frame(0x0, b"[" * 100, fin=False) for _ in range(60)]
                await conn.send(b"".join(pieces))
                _seen, closed = await conn.closing()
            assert closed == 1009


async def test_endless_empty_fragments_cost_no_memory_and_the_message_still_counts() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, upgraded(server.port) as conn:
            await conn.until("session.created")
            await conn.send(frame(0x1, b'{"type":"input_audio_buffer', fin=False))
            await conn.send(frame(0x0, b"", fin=False) * 20_000)
            await conn.send(frame(0x0, b'.clear"}'))
            assert (await conn.event())["type"] == "input_audio_buffer.cleared"


async def test_a_close_the_session_asks_for_after_a_violation_waits_for_no_answer() -> None:
    # No model: the session refuses at once (4000), while the bytes after the upgrade request
    # are not a frame. Nothing reads the client's answer to the close any more: waiting for
    # it would hold the connection for the whole close timeout.
    request = upgrade_request("/v1/realtime") + b"OpenAI-Beta: realtime=v1\r\n\r\n"
    with trio.fail_after(DEADLINE):
        async with open_local_server(close_timeout=3 * DEADLINE) as server:
            async with upgraded(server.port, request) as conn:
                seen, closed = await conn.closing()
            assert closed == 4000
            assert [orjson.loads(m)["error"]["code"] for m in seen] == ["missing_model"]
            await server.connections[0].wait_ended()


# --- The opening handshake -------------------------------------------------------------------

#: Requests that are not valid upgrades: what the server must answer.
BAD_REQUESTS = {
    "non-ASCII byte in a key subprotocol": (
        upgrade_request(
            headers=[],
            subprotocols=b"realtime, openai-insecure-api-key." + KEY.encode() + b"\xe9",
        ),
        400,
        "invalid Sec-WebSocket-Protocol header",
    ),
    "non-ASCII byte in the Authorization header": (
        upgrade_request(headers=[(b"Authorization", b"Bearer " + KEY.encode() + b"\xff")]),
        400,
        "invalid Authorization header",
    ),
    "non-ASCII byte in Connection": (
        upgrade_request().replace(b"Connection: Upgrade", b"Connection: Upgrade\xe9"),
        400,
        "invalid Connection header",
    ),
    "invalid IDNA Host": (upgrade_request(host=b"xn--zz.example"), 400, "invalid Host header"),
    "empty IDNA label in Host": (upgrade_request(host=b"xn--"), 400, "invalid Host header"),
    "Host that is not a host": (upgrade_request(host=b"a b/c"), 400, "invalid Host header"),
    "two Host headers": (upgrade_request(headers=[(b"Host", b"other")]), 400, "malformed"),
    "bad Sec-WebSocket-Key": (
        upgrade_request().replace(b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: x"),
        400,
        "invalid Sec-WebSocket-Key header",
    ),
    "WebSocket version 8": (
        upgrade_request().replace(b"Version: 13", b"Version: 8"),
        426,
        "unsupported WebSocket version",
    ),
    "POST": (upgrade_request().replace(b"GET ", b"POST ", 1), 405, "a WebSocket upgrade is a GET"),
    "not HTTP at all": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "malformed"),
    "a head over 16 KiB": (
        upgrade_request(headers=[(b"X-Filler", b"x" * 17_000)]),
        431,
        "request head too large",
    ),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
async def test_a_bad_upgrade_request_gets_an_http_error_and_nothing_is_kept(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    request, status, reason = BAD_REQUESTS[name]
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(DEADLINE):
        # raise_server_errors is on: the block would raise if the handle had recorded a bug.
        async with open_local_server() as server:
            async with raw_connection(server.port) as conn:
                await conn.send(request)
                answer = await conn.http_answer()
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 %d " % status)
            assert reason in orjson.loads(body)["error"]["message"]
            (info,) = server.connections
            await info.wait_ended()
            assert (info.http_status, info.handshake, info.close_code) == (status, None, None)
            assert KEY not in repr(info)
            assert server.errors == ()
            async with upgraded(server.port) as conn:  # and the server goes on serving
                assert (await conn.event())["type"] == "session.created"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"HTTP {status}" in logged
    assert KEY not in logged
    assert "xn--zz" not in logged
    assert "\\xe9" not in logged
    assert "\xe9" not in logged


async def test_a_request_cut_short_is_dropped_quietly() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with raw_connection(server.port) as conn:
                await conn.send(upgrade_request()[:40])
                await conn.stream.send_eof()
                assert await conn.http_answer() == b""
            (info,) = server.connections
            await info.wait_ended()
            assert info.http_status is None
            assert server.errors == ()


async def test_frames_sent_with_the_upgrade_request_are_served() -> None:
    clear = text('{"type":"input_audio_buffer.clear"}')
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with upgraded(server.port, upgrade_request() + clear) as conn:
                events = await conn.until("input_audio_buffer.cleared")
            assert [e["type"] for e in events] == ["session.created", "input_audio_buffer.cleared"]
