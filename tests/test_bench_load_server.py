"""The load server: its frames, its hand-rolled WebSocket wire, and the server on a socket.

The frames must be events this library (and so the peer) decodes and keeps conversation state
from without a single anomaly, each stamped with the send time. The wire is checked against
wsproto, an independent RFC 6455 implementation, in both directions. The server runs on a
loopback port with the real client: handshake, refusals, the idle-until-first-append rule,
the stream, pings and the close handshake.
"""

from __future__ import annotations

import base64
import socket
import struct
from functools import partial

import orjson
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from waiting import wait_until
from wsproto.frame_protocol import FrameProtocol, Opcode

import trio_realtime as rt
from trio_realtime._bench._load_frames import (
    STAMP_FIELD,
    LoadStream,
    audio_payloads,
    finish,
)
from trio_realtime._bench._load_server import LoadServerStats, serve_load
from trio_realtime._bench._load_wire import (
    CLOSE,
    PING,
    FrameSkipper,
    ProtocolViolation,
    accept_response,
    close_frame,
    error_response,
    parse_upgrade,
    text_frame,
)
from trio_realtime._core._dialects import GA
from trio_realtime.audio import silence

KEY = "sk-test-load-server"
SDK_GA = TypeAdapter(RealtimeServerEvent)

# --- frames ----------------------------------------------------------------------------------


def _frames(ticks: int, response_ticks: int) -> list[str]:
    stream = LoadStream(audio_payloads(3), response_ticks, seed=1)
    return [finish(p, 1000.0 + k) for k in range(ticks) for p in stream.tick(k)]


def test_one_response_is_the_reference_servers_event_sequence_every_event_stamped() -> None:
    events = [rt.decode(text) for text in _frames(4, 4)]
    assert [e.type for e in events] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.delta",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert all(not isinstance(e, rt.UnknownEvent) for e in events)
    assert all(type(e.extra[STAMP_FIELD]) is float for e in events)
    assert [e.extra[STAMP_FIELD] for e in events][4:6] == [1000.0, 1000.0]
    assert len({e.event_id for e in events}) == len(events)


def test_audio_deltas_carry_100_ms_of_pcm16_in_about_6_6_kb_of_json() -> None:
    frames = _frames(2, 50)
    audio = [f for f in frames if '"response.audio.delta"' in f]
    assert len(audio) == 2
    for text in audio:
        delta = rt.decode(text)
        assert isinstance(delta, rt.ResponseAudioDelta)
        assert len(base64.b64decode(delta.delta)) == 4800  # 100 ms at 24 kHz, 16-bit
        assert 6400 < len(text) < 6800


def test_a_conversation_follows_the_stream_without_anomalies() -> None:
    conversation = rt.Conversation(keep_audio_seconds=0)
    for text in _frames(12, 4):  # three whole responses
        conversation.apply(rt.decode(text))  # type: ignore[arg-type]
    assert conversation.anomaly_count == 0
    assert len(conversation.responses) == 3
    assert conversation.active_response is None
    items = conversation.items
    assert len(items) == 3
    assert all(item.status == "completed" for item in items)
    done = [rt.decode(t) for t in _frames(4, 4)][11]
    assert isinstance(done, rt.ResponseAudioTranscriptDone)
    assert done.transcript == "Sure, here "


def test_a_ga_client_gets_the_same_stream_in_the_ga_dialect() -> None:
    stream = LoadStream(audio_payloads(3), 4, seed=1, dialect=GA)
    frames = [finish(p, 1000.0 + k) for k in range(8) for p in stream.tick(k)]
    for text in frames:  # every frame valid for the SDK's GA client, strictly
        SDK_GA.validate_json(text, strict=True)
    wire = [orjson.loads(text)["type"] for text in frames]
    wire = wire[: wire.index("response.done") + 1]  # the first response
    assert wire[:4] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert wire[4:6] == ["response.output_audio.delta", "response.output_audio_transcript.delta"]
    assert wire[-4:] == [
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    conversation = rt.Conversation(keep_audio_seconds=0)
    for text in frames:  # two whole responses, the same classes as beta
        conversation.apply(GA.decode_server_event(text))  # type: ignore[arg-type]
    assert conversation.anomaly_count == 0
    assert [item.status for item in conversation.items] == ["completed", "completed"]


def test_responses_need_two_ticks_and_audio() -> None:
    with pytest.raises(ValueError, match="response_ticks"):
        LoadStream(audio_payloads(1), 1)
    with pytest.raises(ValueError, match="audio"):
        LoadStream((), 4)


# --- the wire, checked against wsproto ------------------------------------------------------------


def test_upgrade_request_parsing_and_the_rfc_6455_accept_key() -> None:
    head = (
        b"GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: realtime, openai-beta.realtime-v1"
        b"\r\n\r\n"
    )
    assert parse_upgrade(head[:40]) is None
    request = parse_upgrade(head + b"\x81")
    assert request is not None
    assert request.path == "/v1/realtime"
    assert request.target == "/v1/realtime?model=m"
    assert request.subprotocols == ("realtime", "openai-beta.realtime-v1")
    assert request.rest == b"\x81"
    # The example of RFC 6455 section 1.3.
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in accept_response(
        request.key, "realtime"
    )
    assert b"Sec-WebSocket-Protocol: realtime\r\n" in accept_response(request.key, "realtime")
    for bad in (b"POST / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
        with pytest.raises(ProtocolViolation):
            parse_upgrade(bad)
    with pytest.raises(ProtocolViolation, match="too large"):
        parse_upgrade(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5000)
    response = error_response(404, b'{"error":1}')
    assert response.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert response.endswith(b'Content-Length: 11\r\nConnection: close\r\n\r\n{"error":1}')


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_server_text_frames_parse_in_wsproto_at_every_length_boundary(size: int) -> None:
    text = "x" * size
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(text_frame(text) + close_frame(1000, "bye"))
    frames = list(client.received_frames())
    assert frames[0].opcode is Opcode.TEXT
    assert frames[0].payload == text
    assert frames[0].message_finished
    assert frames[1].opcode is Opcode.CLOSE
    assert frames[1].payload == (1000, "bye")


@given(
    st.lists(st.integers(min_value=0, max_value=70000), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=30),
)
def test_frame_skipper_counts_masked_client_messages_split_anywhere(
    sizes: list[int], cuts: list[int]
) -> None:
    client = FrameProtocol(client=True, extensions=[])
    wire = bytearray()
    for i, size in enumerate(sizes):
        wire += client.send_data("a" * size, fin=True)
        if i == 0:
            wire += client.ping(b"hi")
    wire += client.close(1000, "done")
    skipper = FrameSkipper()
    controls = []
    pos = 0
    for cut in cuts * (len(wire) // max(1, sum(cuts)) + 1):
        if pos >= len(wire):
            break
        controls += skipper.feed(bytes(wire[pos : pos + cut]))
        pos += cut
    controls += skipper.feed(bytes(wire[pos:]))
    assert skipper.messages == len(sizes)
    assert controls[0] == (PING, b"hi")
    assert controls[1][0] == CLOSE
    assert controls[1][1][:2] == (1000).to_bytes(2, "big")


def test_frame_skipper_refuses_unmasked_frames() -> None:
    with pytest.raises(ProtocolViolation, match="masked"):
        FrameSkipper().feed(text_frame("server frames are not masked"))


# --- the server on a socket ----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_sessions_idle_until_their_first_append_then_stream_stamped_events(
    dialect: str,
) -> None:
    stats = LoadServerStats()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(
                partial(
                    serve_load, "127.0.0.1", 0, api_keys=[KEY], response_seconds=0.3, stats=stats
                )
            )
            async with rt.connect(
                model="m",
                url=url,
                api_key=KEY,
                keepalive=2,
                dialect=dialect,  # type: ignore[arg-type]
            ) as session:
                assert stats.total == 1
                # Idle: the first keepalive ping (after 1 s) is answered, and nothing streams.
                idle = session.statistics()
                await wait_until(
                    lambda: (
                        session.statistics().bytes_sent > idle.bytes_sent
                        and session.statistics().bytes_received > idle.bytes_received
                    )
                )
                assert stats.open == 0
                assert session.statistics().events_received == 1  # session.created
                stats.mark()
                await session.append_audio(silence(100))
                kinds = []
                async for event in session:
                    kinds.append(event.type)
                    if event.type == "session.created":
                        continue  # the handshake's event, sent before the stream
                    assert type(event.extra[STAMP_FIELD]) is float  # type: ignore[union-attr]
                    if event.type == "response.done" and kinds.count("response.done") == 2:
                        break
                assert stats.open == 1
                # Two whole responses of 3 ticks, the first shortened by its offset.
                assert 3 < kinds.count("response.audio.delta") <= 6
                assert session.conversation.anomaly_count == 0
            await wait_until(lambda: stats.open == 0)  # the close handshake ends the writer
            report = stats.to_json()
            assert report["messages_received"] == 1
            assert report["frames_sent"] >= len(kinds) - 1  # all but session.created
            nursery.cancel_scope.cancel()


async def test_bad_keys_and_paths_are_refused_like_the_reference_server() -> None:
    stats = LoadServerStats()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(
                partial(serve_load, "127.0.0.1", 0, api_keys=[KEY], stats=stats)
            )
            with pytest.raises(rt.AuthenticationError) as caught:
                async with rt.connect(model="m", url=url, api_key="sk-wrong-key-here"):
                    pass
            assert caught.value.code == 3000
            with pytest.raises(rt.ConnectionRejected) as rejected:
                async with rt.connect(
                    model="m", url=url.replace("/v1/realtime", "/v2/x"), api_key=KEY
                ):
                    pass
            assert rejected.value.status_code == 404
            assert stats.refused == 2
            nursery.cancel_scope.cancel()


async def test_a_client_resetting_its_connection_mid_stream_never_stops_the_server() -> None:
    stats = LoadServerStats()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(
                partial(serve_load, "127.0.0.1", 0, response_seconds=0.2, stats=stats)
            )
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(
                b"GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer k\r\n\r\n"
            )
            client = FrameProtocol(client=True, extensions=[])
            await stream.send_all(bytes(client.send_data('{"type":"x"}', fin=True)))
            while stats.open == 0:
                await stream.receive_some(65536)  # the upgrade, session.created, then ticks
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await stream.aclose()  # an RST, not a FIN
            await wait_until(lambda: stats.open == 0)  # the server dropped that connection
            async with rt.connect(model="m", url=url, api_key=KEY) as session:
                await session.append_audio(silence(100))
                await session.wait_for(rt.ResponseAudioDelta, timeout=5)
            nursery.cancel_scope.cancel()


def test_offsets_shift_response_boundaries_but_every_response_is_whole() -> None:
    def boundaries(offset: int) -> list[int]:
        stream = LoadStream(audio_payloads(1), 5, seed=2, offset=offset)
        return [k for k in range(12) if any('"response.done"' in p for p in stream.tick(k))]

    assert boundaries(0) == [4, 9]
    assert boundaries(3) == [1, 6, 11]
    conversation = rt.Conversation(keep_audio_seconds=0)
    stream = LoadStream(audio_payloads(1), 5, seed=2, offset=3)
    for k in range(12):
        for prefix in stream.tick(k):
            conversation.apply(rt.decode(finish(prefix, 1.0)))  # type: ignore[arg-type]
    assert conversation.anomaly_count == 0
    assert len(conversation.responses) == 3


async def test_the_server_closes_tcp_first_once_the_close_handshake_is_done() -> None:
    # RFC 6455 7.1.1: the server closes the TCP connection first. The websockets client (the
    # peer's transport) waits for that EOF before its close() returns; a server waiting for
    # the client's EOF instead held every peer session ten seconds at close.
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(partial(serve_load, "127.0.0.1", 0, api_keys=[KEY]))
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(
                b"GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n"
            )
            client = FrameProtocol(client=True, extensions=[])
            await stream.send_all(bytes(client.close(1000, "done")))
            received = b""
            while data := await stream.receive_some(65536):  # ends at the server's EOF
                received += data
            body = received.split(b"\r\n\r\n", 1)[1]
            client.receive_bytes(body)
            frames = list(client.received_frames())
            assert frames[0].payload.startswith('{"type":"session.created"')  # type: ignore[union-attr]
            assert frames[-1].opcode is Opcode.CLOSE
            await stream.aclose()
            nursery.cancel_scope.cancel()
