"""The audio pump: re-chunking (sans-I/O, property-tested), pacing (autojump_clock), and the
pump as a task of the session nursery: backpressure, sources, cancellation, errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from fake_server import FakeServer, ServerConnection, client, fake_server, session_created
from hypothesis import given
from hypothesis import strategies as st

import trio_realtime as rt
from trio_realtime._core._audio import G711_ULAW, PCM16
from trio_realtime._session._pump import MAX_APPEND_EVENT_CHARS, Pacer, Rechunker, max_append_bytes

# --- Rechunker ----------------------------------------------------------------------------------


@given(
    pieces=st.lists(st.binary(max_size=700), max_size=30),
    frame_samples=st.integers(1, 300),
    width=st.sampled_from([1, 2]),
)
def test_rechunking_gives_exact_frames_and_loses_nothing(
    pieces: list[bytes], frame_samples: int, width: int
) -> None:
    data = b"".join(pieces)
    data = data[: len(data) // width * width]
    pieces = [
        data[sum(map(len, pieces[:i])) : sum(map(len, pieces[: i + 1]))] for i in range(len(pieces))
    ]
    rechunker = Rechunker(frame_samples * width, width)
    frames = [frame for piece in pieces for frame in rechunker.feed(piece)]
    tail = rechunker.flush()
    assert all(len(frame) == frame_samples * width for frame in frames)
    assert len(tail) < frame_samples * width
    assert b"".join(frames) + tail == data
    assert rechunker.pending == 0


def test_a_frame_sized_piece_passes_through_without_a_copy() -> None:
    rechunker = Rechunker(4800, 2)
    piece = bytes(4800)
    assert rechunker.feed(piece)[0] is piece
    assert rechunker.feed(memoryview(piece)) == [piece]


def test_audio_that_ends_mid_sample_is_an_error() -> None:
    rechunker = Rechunker(4, 2)
    assert rechunker.feed(b"\x00" * 5) == [b"\x00" * 4]
    with pytest.raises(rt.AudioFormatError, match="middle of a sample"):
        rechunker.flush()


@pytest.mark.parametrize(("frame", "width"), [(0, 2), (3, 2), (-2, 2)])
def test_frames_must_be_whole_samples(frame: int, width: int) -> None:
    with pytest.raises(ValueError, match="positive multiple"):
        Rechunker(frame, width)


def test_the_largest_append_fits_the_15_mib_limit() -> None:
    limit = max_append_bytes(PCM16)
    assert limit % 6 == 0
    assert limit / PCM16.bytes_per_ms / 1000 > 240
    event = rt.InputAudioBufferAppend.from_pcm(bytes(limit), event_id="e" * 512)
    assert MAX_APPEND_EVENT_CHARS - 1024 < len(rt.encode(event)) <= MAX_APPEND_EVENT_CHARS
    assert max_append_bytes(G711_ULAW) % 3 == 0


# --- Pacer ------------------------------------------------------------------------------------------


def test_the_schedule_is_absolute_and_lateness_does_not_accumulate() -> None:
    pacer = Pacer(bytes_per_ms=48)
    frame = 4800  # 100 ms
    assert pacer.due(now=10.0) == 10.0
    pacer.advance(frame)
    assert pacer.due(now=10.05) == pytest.approx(10.1)
    pacer.advance(frame)
    # The caller was 0.5 s late for this one: it is due in the past, i.e. at once...
    assert pacer.due(now=10.7) == pytest.approx(10.2)
    for _ in range(5):
        pacer.advance(frame)
    # ...and the ones after it keep their own times.
    assert pacer.due(now=10.71) == pytest.approx(10.7)


# --- The pump in a session ------------------------------------------------------------------


def arrivals(conn: ServerConnection) -> list[tuple[float, bytes]]:
    """Each append the server received: when (virtual time) and its audio."""
    return [
        (when, base64.b64decode(event["audio"]))
        for when, event in zip(conn.received_at, conn.received, strict=True)
        if event["type"] == "input_audio_buffer.append"
    ]


async def timed_recorder(conn: ServerConnection) -> None:
    """Say ``session.created``, then take (and time) what the client sends."""
    await conn.send(session_created())
    async for _ in conn.events():
        pass


def pcm(ms: int) -> bytes:
    return bytes(i % 251 for i in range(ms * 48))


async def test_realtime_streaming_follows_the_clock(autojump_clock: trio.testing.MockClock) -> None:
    audio = pcm(1050)
    async with fake_server(timed_recorder, transport="memory") as server:
        async with client(server) as session:
            start = trio.current_time()
            stream = await session.stream_audio(audio)
            assert session.statistics().audio_streams == 1
            await stream.wait()
            assert stream.completed
            assert stream.frames_sent == 11
            assert stream.audio_ms_sent == pytest.approx(1050)
            assert "completed" in repr(stream)
        got = arrivals(server.connections[0])
    assert [when - start for when, _ in got] == pytest.approx([k / 10 for k in range(11)])
    assert [len(frame) for _, frame in got] == [4800] * 10 + [2400]
    assert b"".join(frame for _, frame in got) == audio
    assert session.statistics().audio_ms_sent == pytest.approx(1050)


async def test_a_late_source_sends_at_once_and_the_schedule_holds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def late_microphone() -> AsyncIterator[bytes]:
        for index in range(8):
            if index == 2:
                await trio.sleep(0.35)
            yield pcm(100)

    async with fake_server(timed_recorder, transport="memory") as server:
        async with client(server) as session:
            start = trio.current_time()
            await (await session.stream_audio(late_microphone())).wait()
        got = arrivals(server.connections[0])
    assert [round(when - start, 6) for when, _ in got] == [
        0.0,
        0.1,
        0.45,
        0.45,
        0.45,
        0.5,
        0.6,
        0.7,
    ]


async def test_fast_streaming_is_held_back_only_by_the_bounded_channel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    audio = pcm(10_000)
    async with fake_server(timed_recorder, transport="lockstep") as server:
        async with client(server, outbound_queue_size=3) as session:
            start = trio.current_time()
            stream = await session.stream_audio(audio, realtime=False, chunk_ms=200)
            while not stream.done:
                assert session.statistics().outbound_buffer_used <= 3
                await trio.lowlevel.checkpoint()
        got = arrivals(server.connections[0])
    assert all(when == start for when, _ in got)  # no pacing: no virtual time passed
    assert [len(frame) for _, frame in got] == [9600] * 50
    assert b"".join(frame for _, frame in got) == audio


async def test_pieces_of_any_size_from_a_channel_become_whole_frames() -> None:
    audio = pcm(730)
    sizes = [1, 3, 4799, 4801, 7, 9000, 1]
    send, receive = trio.open_memory_channel[bytes](0)

    async def microphone() -> None:
        async with send:
            offset = 0
            for size in [*sizes, len(audio)]:
                await send.send(audio[offset : offset + size])
                offset += size

    async with fake_server(timed_recorder) as server:
        async with client(server) as session, trio.open_nursery() as nursery:
            nursery.start_soon(microphone)
            stream = await session.stream_audio(receive, realtime=False)
            await stream.wait()
        got = arrivals(server.connections[0])
    assert [len(frame) for _, frame in got] == [4800] * 7 + [1440]
    assert b"".join(frame for _, frame in got) == audio
    with pytest.raises(trio.EndOfChannel):
        receive.receive_nowait()  # the pump left the channel open for its owner


async def test_the_input_format_sets_the_frame_size() -> None:
    async with fake_server(timed_recorder) as server:
        async with client(server) as session:
            await (
                await session.stream_audio(
                    b"\xff" * 800, realtime=False, chunk_ms=20, input_format="g711_ulaw"
                )
            ).wait()
        got = arrivals(server.connections[0])
    assert [len(frame) for _, frame in got] == [160] * 5


@pytest.mark.parametrize("chunk_ms", [0, 0.01, 10_000_000])
async def test_chunk_ms_must_fit_one_append(chunk_ms: float) -> None:
    async with fake_server() as server, client(server) as session:
        with pytest.raises(ValueError, match="chunk_ms"):
            await session.stream_audio(b"", chunk_ms=chunk_ms)


async def test_cancelling_a_stream_closes_its_generator(
    autojump_clock: trio.testing.MockClock,
) -> None:
    closed = trio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield pcm(100)
        finally:
            closed.set()

    async with fake_server(timed_recorder, transport="memory") as server:
        async with client(server) as session:
            stream = await session.stream_audio(endless())
            await trio.sleep(0.55)
            stream.cancel()
            await stream.wait()
            assert closed.is_set()
            assert stream.done
            assert not stream.completed
            assert session.statistics().audio_streams == 0
            await session.commit_audio()  # the session goes on
        got = arrivals(server.connections[0])
    assert len(got) == 6


async def test_leaving_the_block_stops_a_running_stream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fake_server(timed_recorder, transport="memory") as server:
        async with client(server) as session:
            stream = await session.stream_audio(bytes(60_000 * 48))
            await trio.sleep(0.25)
        assert stream.done
        assert not stream.completed
        assert len(arrivals(server.connections[0])) == 3
        assert server.connections[0].close_code == 1000


async def test_a_stream_stops_quietly_when_the_connection_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def hang_up_after_two(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for _ in range(2):
            await conn.receive()
        await conn.close(1000)

    async with (
        fake_server(hang_up_after_two, transport="memory") as server,
        client(server) as session,
    ):
        stream = await session.stream_audio(pcm(5000))
        await stream.wait()
        assert not stream.completed
        assert [type(event) async for event in session] == [rt.SessionCreated]


class MicrophoneUnplugged(Exception):
    pass


async def _failing_source() -> AsyncIterator[Any]:
    yield pcm(100)
    raise MicrophoneUnplugged


async def _odd_source() -> AsyncIterator[Any]:
    yield b"\x00" * 101


async def _wrong_type_source() -> AsyncIterator[Any]:
    yield "not bytes"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (_failing_source, MicrophoneUnplugged),
        (_odd_source, rt.AudioFormatError),
        (_wrong_type_source, TypeError),
    ],
)
async def test_a_failing_source_fails_the_session_block_unwrapped(
    source: Any, error: type[Exception]
) -> None:
    async def stream_forever(server: FakeServer) -> None:
        async with client(server) as session:
            await session.stream_audio(source(), realtime=False)
            await trio.sleep_forever()

    async with fake_server() as server:
        with pytest.raises(error) as info:
            await stream_forever(server)
    assert type(info.value) is error
