"""A stream reader that keeps up reads the socket itself (the receiver lends it), and loses
nothing by it: every event in order, pings answered, waiters served, cancellation harmless,
and the socket goes back to the receiver when the reader stops reading.

Lending is how a received event costs one task switch instead of two; what the application
sees must not change. Wire tests on loopback (plain ``ws://``, where lending applies).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from fake_server import ServerConnection, audio_delta, client, fake_server, session_created
from waiting import wait_until

import trio_realtime as rt
from trio_realtime._session import _stream
from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server


def lent(session: rt.RealtimeSession) -> bool:
    """Whether the socket is lent to the stream's readers now."""
    return session._p.stream._receiver is not None


def indices(events: list[Any]) -> list[int]:
    return [e.content_index for e in events if isinstance(e, rt.ResponseAudioDelta)]


def paced(count: int, pause: float, *, ping_at: int | None = None) -> Any:
    """A server that sends ``count`` deltas, ``pause`` s apart (a ping after ``ping_at``)."""

    async def handler(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for index in range(count):
            await trio.sleep(pause)
            await conn.send(audio_delta(index))
            if index == ping_at:
                with trio.fail_after(10):
                    await conn.ws.ping(b"are you there")  # returns once the pong is in
                conn.pong_seen = True  # type: ignore[attr-defined]
        async for _ in conn.events():
            pass

    return handler


async def test_a_reader_that_keeps_up_gets_the_socket_and_every_event_in_order() -> None:
    events: list[Any] = []
    seen_lent = False
    with trio.fail_after(20):
        async with fake_server(paced(60, 0.002)) as server, client(server) as session:
            async for event in session:
                events.append(event)
                seen_lent = seen_lent or lent(session)
                if len(events) == 61:
                    break
            stats = session.statistics()
    assert seen_lent
    assert indices(events) == list(range(60))
    assert stats.inbound_dropped == stats.inbound_skipped == 0


async def test_pings_are_answered_while_the_socket_is_lent() -> None:
    events: list[Any] = []
    with trio.fail_after(20):
        async with fake_server(paced(40, 0.002, ping_at=20)) as server, client(server) as session:
            async for event in session:
                events.append(event)
                if len(events) == 41:
                    break
            assert getattr(server.connections[0], "pong_seen", False)
    assert indices(events) == list(range(40))


async def test_a_wait_started_while_the_reader_holds_the_socket_gets_its_event() -> None:
    async def handler(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for index in range(10):
            await trio.sleep(0.002)
            await conn.send(audio_delta(index))
        async for event in conn.events():
            if event["type"] == "input_audio_buffer.clear":
                await trio.sleep(0.05)
                await conn.send({"type": "input_audio_buffer.cleared", "event_id": "ev_x"})

    streamed: list[Any] = []
    with trio.fail_after(20):
        async with fake_server(handler) as server, client(server) as session:

            async def read() -> None:
                async for event in session:
                    streamed.append(event)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await wait_until(lambda: len(streamed) == 11)
                assert lent(session)  # the reader holds the socket, parked in its read
                await session.clear_audio()
                cleared = await session.wait_for(rt.InputAudioBufferCleared, timeout=10)
                assert cleared.event_id == "ev_x"
                nursery.cancel_scope.cancel()
    assert indices(streamed) == list(range(10))


async def test_a_cancelled_read_of_the_lent_socket_loses_nothing() -> None:
    got: list[Any] = []
    with trio.fail_after(30):
        async with fake_server(paced(50, 0.003)) as server, client(server) as session:
            while len(got) < 51:
                with trio.move_on_after(0.001):  # most reads are cancelled while waiting
                    got.append(await session.receive())
    assert indices(got) == list(range(50))


async def test_a_reader_that_stops_gives_the_socket_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "LEND_CHECK_SECONDS", 0.05)
    with trio.fail_after(20):
        async with fake_server(paced(30, 0.01)) as server, client(server) as session:
            await session.receive()  # session.created
            await session.receive()  # a delta: the reader keeps up
            await wait_until(lambda: lent(session), poll=0.005)
            # The reader stops. The watchdog finds the lent socket unread and gives it back:
            # the receiver reads ahead into the stream again.
            await wait_until(lambda: session.statistics().inbound_buffer_used >= 5)
            assert not lent(session)
            rest = [await session.receive() for _ in range(29)]
    assert indices(rest) == list(range(1, 30))


async def test_queued_response_requests_go_out_while_the_reader_holds_the_socket() -> None:
    # A response's end makes the library send the next queued request (the turn queue): an
    # after-event send, which a reader of the lent socket leaves to the receiver.
    engine = SimulatedEngine(ms_per_char=1)
    done: list[rt.ResponseDone] = []
    with trio.fail_after(30):
        async with (
            open_local_server(engine=engine) as server,
            rt.connect(model="gpt-realtime", url=server.url, api_key="k") as session,
        ):
            await session.update_session(rt.Session(turn_detection=None, modalities=["text"]))
            await session.wait_for(rt.SessionUpdated, timeout=10)
            await session.create_item(rt.ConversationItem.user_text("say something"))
            for _ in range(3):
                await session.create_response()  # the 2nd and 3rd wait in the turn queue
            async for event in session:
                if isinstance(event, rt.ResponseDone):
                    done.append(event)
                    if len(done) == 3:
                        break
    assert [d.response.status for d in done] == ["completed"] * 3
