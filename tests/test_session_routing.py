"""Events reach whoever asked for them, and reading only what you asked for never stalls.

On the wire, against the reference server with long spoken replies (hundreds of events,
far more than the 64 the session's stream holds before it pushes back): a program that
reads only a response handle, only ``wait_for``, only the conversation, or nothing at all
makes progress with bounded memory; a program that reads ``async for event in session`` gets
backpressure and every event; and the combinations. Then the stream's policy on its own,
without a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime._session._keepalive import ReceiverStalls
from trio_realtime._session._stream import EventStream
from trio_realtime.server import ServerHandle, SimulatedEngine
from trio_realtime.testing import open_local_server

QUESTION = "What is trio?"
REPLY = f"You said: {QUESTION}"
SECONDS = 30
#: 30 s of spoken reply: 300 audio deltas of 100 ms, and the transcript's.
ENGINE = SimulatedEngine(ms_per_char=SECONDS * 1000 / len(REPLY))
MANUAL_TURNS = rt.Session(turn_detection=None)  # the default modalities: text and audio


def audio_seconds(deltas: list[Any]) -> float:
    return sum(len(d.pcm) for d in deltas if isinstance(d, rt.ResponseAudioDelta)) / 48_000


@asynccontextmanager
async def spoken_session(**kwargs: Any) -> AsyncIterator[tuple[ServerHandle, rt.RealtimeSession]]:
    async with (
        open_local_server(engine=ENGINE) as server,
        rt.connect(
            model="gpt-4o-realtime-preview", url=server.url, api_key="sk-local", **kwargs
        ) as session,
    ):
        await session.update_session(MANUAL_TURNS)
        await session.wait_for(rt.SessionUpdated, timeout=10)
        await session.create_item(rt.ConversationItem.user_text(QUESTION))
        yield server, session


# --- Reading only what you asked for ---------------------------------------------------------


async def test_the_first_program_completes_with_a_30_second_spoken_reply_reading_only_the_handle() -> (
    None
):
    # README.rst's first program, with the default audio modality and a long reply: it reads
    # its ResponseHandle and nothing else. (The 64-event inbound channel used to fill, stop
    # the receiver, and starve the handle.)
    with trio.fail_after(30):
        async with spoken_session() as (_server, session):
            reply = await session.create_response()
            deltas = [delta async for delta in reply]
            result = await reply.done()
            stats = session.statistics()
    assert result.status == "completed"
    assert result.transcript == REPLY
    assert audio_seconds(deltas) == pytest.approx(SECONDS, abs=0.1)
    assert stats.inbound_buffer_used <= stats.inbound_max_buffer_size  # a window, not a pile
    assert stats.inbound_skipped > 0  # the unread stream let the oldest go, and said so
    assert stats.receiver_stalls == 0


async def test_next_response_then_done_with_a_spoken_reply() -> None:
    with trio.fail_after(30):
        async with spoken_session() as (_server, session):
            await session.send(rt.ResponseCreate())  # a raw request: no handle of its own
            handle = await session.next_response(timeout=10)
            result = await handle.done()
    assert result.status == "completed"
    assert len(result.audio) == SECONDS * 48_000


async def test_reading_only_wait_for_makes_progress() -> None:
    with trio.fail_after(30):
        async with spoken_session() as (_server, session):
            for _ in range(3):
                await session.send(rt.ResponseCreate())
                done = await session.wait_for(rt.ResponseDone, timeout=10)
                assert done.response.status == "completed"
            assert session.statistics().inbound_buffer_used <= 64


async def test_reading_only_the_conversation_makes_progress() -> None:
    with trio.fail_after(30):
        async with spoken_session() as (_server, session):
            await session.create_response()  # the handle is dropped: nobody reads anything
            conversation = session.conversation
            # Such a program polls the conversation now and then; nothing tells it more.
            while not (conversation.responses and conversation.responses[-1].done):  # noqa: ASYNC110
                await trio.sleep(0.01)
            (item,) = conversation.responses[-1].output
            assert item.transcript == REPLY
            assert len(item.audio) == SECONDS * 48_000


async def test_reading_nothing_and_awaiting_done_makes_progress() -> None:
    with trio.fail_after(30):
        async with spoken_session() as (_server, session):
            reply = await session.create_response(max_deltas=0)
            result = await reply.done()
    assert result.transcript == REPLY


async def test_a_stream_reader_gets_backpressure_and_every_event() -> None:
    # The voice agent's way: read the session. A slow reader slows the socket (the receiver
    # waits on the stream); nothing is dropped or skipped.
    events: list[Any] = []
    with trio.fail_after(60):
        async with spoken_session(inbound_queue_size=8) as (_server, session):
            await session.create_response()
            async for event in session:
                events.append(event)
                if len(events) % 16 == 0:
                    await trio.sleep(0.005)  # a slow reader
                if isinstance(event, rt.ResponseDone):
                    break
            stats = session.statistics()
    assert stats.receiver_stalls > 0
    assert stats.inbound_dropped == stats.inbound_skipped == 0
    assert audio_seconds(events) == pytest.approx(SECONDS, abs=0.1)
    assert len(events) + stats.inbound_buffer_used == stats.events_received  # every one


# --- Combinations ------------------------------------------------------------------------------


async def test_a_slow_stream_reader_does_not_hold_back_a_handle_reader() -> None:
    # One task reads the stream (slowly: it stops for a while), another awaits a handle.
    streamed: list[Any] = []
    with trio.fail_after(30):
        async with spoken_session(inbound_queue_size=8) as (_server, session):
            reply = await session.create_response()
            first = trio.Event()

            async def read_stream() -> None:
                async for event in session:
                    streamed.append(event)
                    first.set()
                    await trio.sleep(0.5 if len(streamed) == 1 else 0)  # stops, then catches up
                    if isinstance(event, rt.ResponseDone):
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_stream)
                await first.wait()
                deltas = [delta async for delta in reply]
                assert audio_seconds(deltas) == pytest.approx(SECONDS, abs=0.1)
                assert not any(isinstance(e, rt.ResponseDone) for e in streamed)  # still behind
            stats = session.statistics()
    assert len(streamed) + stats.inbound_buffer_used == stats.events_received
    assert stats.inbound_dropped == 0


async def test_reading_the_stream_for_a_while_then_only_a_handle() -> None:
    with trio.fail_after(30):
        async with spoken_session(inbound_queue_size=4) as (_server, session):
            async for event in session:  # a reader of the stream...
                if isinstance(event, rt.SessionUpdated):
                    break
            reply = await session.create_response()  # ...that now reads only this handle
            deltas = [delta async for delta in reply]
            assert audio_seconds(deltas) == pytest.approx(SECONDS, abs=0.1)
            stats = session.statistics()
    assert stats.inbound_buffer_used > 4  # the stream grew while the handle was read
    assert stats.inbound_dropped == 0  # below its bounds: nothing lost


async def test_a_stream_reader_and_wait_for_in_another_task() -> None:
    seen: list[Any] = []
    with trio.fail_after(30):
        async with spoken_session(inbound_queue_size=4) as (_server, session):

            async def read_stream() -> None:
                async for event in session:
                    seen.append(event)
                    await trio.sleep(0.001)
                    if isinstance(event, rt.ResponseDone):
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_stream)
                await session.send(rt.ResponseCreate())
                done = await session.wait_for(rt.ResponseDone, timeout=10)
            assert seen[-1] is done


# --- The stream's policy, without a socket -----------------------------------------------------


def stream(capacity: int = 4, max_events: int = 10, max_bytes: int = 1000) -> EventStream:
    return EventStream(capacity, max_events, max_bytes, ReceiverStalls())


def event(index: int) -> rt.ResponseTextDelta:
    return rt.ResponseTextDelta(
        event_id=f"e{index}",
        response_id="r",
        item_id="i",
        output_index=0,
        content_index=index,
        delta="x",
    )


async def test_a_never_read_stream_keeps_the_newest_events_and_counts_the_rest() -> None:
    s = stream()
    for index in range(10):
        assert s.offer(event(index), 10)  # the receiver never waits
    assert (len(s), s.skipped, s.dropped) == (4, 6, 0)
    assert [(await s.receive()).content_index for _ in range(4)] == [6, 7, 8, 9]  # type: ignore[union-attr]


async def test_a_read_stream_holds_the_receiver_until_read() -> None:
    s = stream()
    s.offer(event(0), 10)
    await s.receive()  # the application reads the stream now
    assert [s.offer(event(i), 10) for i in range(1, 5)] == [True, True, True, False]
    released = []

    async def receiver() -> None:
        await s.wait_room()
        released.append(True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        assert released == []
        assert s.stalls.since is not None
        await s.receive()
    assert released == [True]
    assert (s.stalls.count, s.skipped, s.dropped) == (1, 0, 0)


async def test_a_waiting_handle_releases_the_receiver_and_the_stream_grows_to_its_bounds() -> None:
    s = stream(capacity=2, max_events=5, max_bytes=1000)
    s.offer(event(0), 10)
    await s.receive()
    s.offer(event(1), 10)
    assert not s.offer(event(2), 10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.wait_room)
        await trio.testing.wait_all_tasks_blocked()
        s.enter()  # someone starts waiting on a handle
    assert all(s.offer(event(i), 10) for i in range(3, 9))  # elastic now
    assert (len(s), s.dropped) == (5, 3)  # bounded in events: 8 offered, the oldest 3 dropped
    assert s.offer(event(9), 2000)  # and in bytes: only the newest event is left
    assert (len(s), s.dropped) == (1, 8)
    s.exit()
    assert not s.offer(event(10), 10)  # nobody waits any more: it holds again


async def test_a_closed_stream_gives_its_events_then_ends_and_a_released_one_refuses() -> None:
    s = stream()
    s.offer(event(0), 10)
    s.close()
    await s.receive()
    with pytest.raises(trio.EndOfChannel):
        await s.receive()
    s.release()
    with pytest.raises(trio.ClosedResourceError):
        await s.receive()
