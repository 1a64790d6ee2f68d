"""RealtimeSession endings: backpressure, every way a session closes, and cancellation.

Wire tests run whole sessions against ``fake_server`` on loopback port 0; tests that wait
for a timeout use in-memory streams and ``autojump_clock``. No test asserts on speed. Tests
that can leak a socket end with ``gc.collect()``: an unclosed socket then raises
``ResourceWarning``, an error under ``filterwarnings = error``.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest
import trio
import trio.testing
from fake_server import (
    FakeServer,
    ServerConnection,
    audio_delta,
    client,
    drain,
    error_event,
    fake_server,
    session_created,
)

import trio_realtime as rt
from trio_realtime._wire._errors import ConnectionClosed


async def recorder(conn: ServerConnection) -> None:
    """Say ``session.created``, then take what the client sends without answering."""
    await conn.send(session_created())
    async for _ in conn.events():
        pass


# --- Backpressure ----------------------------------------------------------------------------------


def _firehose(total: int) -> Any:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for index in range(total):
            await conn.send(audio_delta(index))
        async for _ in conn.events():
            pass

    return script


async def test_a_slow_reader_keeps_memory_bounded_while_the_server_sends_10000_deltas() -> None:
    total = 10_000
    async with (
        fake_server(_firehose(total)) as server,
        client(server, inbound_queue_size=16) as session,
    ):
        assert isinstance(await session.receive(), rt.SessionCreated)
        # The application reads nothing now. The socket was lent to its reader (it kept up),
        # so nobody reads it at all: once everything settles, the server is stuck.
        await trio.testing.wait_all_tasks_blocked()
        conn = server.connections[0]
        assert session.statistics().inbound_buffer_used <= 16
        assert conn.sending
        # The watchdog's check finds the lent socket unread, and gives it back to the
        # receiver, which reads ahead to the stream's capacity and holds.
        session._p.stream.expire(trio.current_time())
        await trio.testing.wait_all_tasks_blocked()
        stats = session.statistics()
        assert stats.inbound_buffer_used == stats.inbound_max_buffer_size == 16
        assert stats.receiver_stalls >= 1
        assert conn.sending  # the server is stuck inside a send: TCP pushes back
        assert conn.sent < total // 2  # what the kernel's socket buffers hold, no more
        stalled_at = conn.sent
        await trio.testing.wait_all_tasks_blocked()
        assert conn.sent == stalled_at  # and it stays stuck while nobody reads
        for index in range(total):  # then everything arrives, in order, nothing dropped
            event = await session.receive()
            assert isinstance(event, rt.ResponseAudioDelta)
            assert event.content_index == index
        await trio.testing.wait_all_tasks_blocked()  # the server's task counts its last send
        assert conn.sent == total + 1


async def test_backpressure_bound_is_tight_over_an_unbuffered_stream() -> None:
    total, queue = 400, 8
    async with (
        fake_server(_firehose(total), transport="lockstep") as server,
        client(server, inbound_queue_size=queue, keepalive=None) as session,
    ):
        conn = server.connections[0]
        for read in range(1, 6):
            await session.receive()
            await trio.testing.wait_all_tasks_blocked()
            # Unread events: the inbound channel, the one the receiver holds, trio-websocket's
            # one-slot queue and the one its reader holds. Nothing else is buffered anywhere.
            assert conn.sending
            assert conn.sent - read <= queue + 3
            assert session.statistics().inbound_buffer_used == queue
        assert conn.sent < total


# --- Endings ----------------------------------------------------------------------------------------


async def test_leaving_the_block_sends_what_was_queued_then_closes_with_1000() -> None:
    async with fake_server(recorder) as server:
        async with client(server) as session:
            for _ in range(10):
                await session.commit_audio()
        stats = session.statistics()
    assert len(server.connections[0].received) == 10 == stats.events_sent
    assert server.connections[0].close_code == 1000
    gc.collect()


async def test_a_normal_close_by_the_server_ends_iteration() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for index in range(3):
            await conn.send(audio_delta(index))
        await conn.close(1000, "done")

    async with fake_server(script) as server, client(server) as session:
        events = [event async for event in session]
        assert len(events) == 4
        with pytest.raises(ConnectionClosed) as info:
            await session.commit_audio()
        assert (info.value.code, info.value.reason) == (1000, "done")
    # The socket is closed after a server-initiated close (trio-websocket used to leak it).
    stream = session._p.transport.stream
    assert isinstance(stream, trio.SocketStream)
    assert stream.socket.fileno() == -1


async def test_an_abnormal_close_raises_after_the_buffered_events() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.send(audio_delta(0))
        await conn.send(
            error_event(
                "Your session hit the maximum duration of 30 minutes.", code="session_expired"
            )
        )
        await conn.close(4000, "invalid_request_error.session_expired")

    events: list[Any] = []
    async with fake_server(script) as server:
        with pytest.raises(ConnectionClosed) as info:
            await drain(server, events)
    assert [type(event) for event in events] == [
        rt.SessionCreated,
        rt.ResponseAudioDelta,
        rt.ErrorEvent,
    ]
    assert (info.value.code, info.value.reason) == (4000, "invalid_request_error.session_expired")
    assert info.value.error is not None
    assert info.value.error.code == "session_expired"
    assert "maximum duration" in str(info.value)


async def test_a_dropped_connection_raises_1006() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.send(audio_delta(0))
        await conn.drop()

    async with fake_server(script) as server:
        with pytest.raises(ConnectionClosed) as info:
            await drain(server, [])
    assert info.value.code == 1006
    gc.collect()


async def test_a_vanished_peer_is_detected_by_the_keepalive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.vanish()  # no close frame, no pongs, the connection stays open

    async with fake_server(script, transport="memory") as server:
        start = trio.current_time()
        with pytest.raises(ConnectionClosed, match="keepalive") as info:
            await drain(server, [], keepalive=20)
    assert info.value.code == 1006
    assert trio.current_time() - start <= 20


async def test_the_keepalive_does_not_blame_the_peer_for_a_slow_application(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        fake_server(_firehose(200), transport="memory") as server,
        client(server, keepalive=2, inbound_queue_size=4) as session,
    ):
        assert isinstance(await session.receive(), rt.SessionCreated)  # a reader of the stream
        await trio.sleep(60)  # not reading now: the socket is not read, pongs are not seen
        assert session.statistics().receiver_stalls >= 1
        for _ in range(200):
            await session.receive()
        await trio.sleep(10)  # reading again: pings are answered
        await session.commit_audio()


async def test_closing_gives_up_after_close_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.vanish()

    async with fake_server(script, transport="memory") as server:
        async with client(server, keepalive=None, close_timeout=3):
            start = trio.current_time()
        assert trio.current_time() - start == pytest.approx(3)


async def test_an_unobserved_failure_is_raised_when_the_block_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.close(4000, "invalid_request_error.beta_api_shape_disabled")

    async with fake_server(script, transport="memory") as server:
        with pytest.raises(ConnectionClosed, match="beta_api_shape_disabled"):
            async with client(server):
                await trio.sleep(1)  # the application never touches the session


async def test_the_applications_own_exception_comes_out_unwrapped() -> None:
    async with fake_server() as server:
        with pytest.raises(ValueError, match="mine") as info:
            async with client(server):
                raise ValueError("mine")
    assert type(info.value) is ValueError
    assert server.connections[0].close_code == 1000


async def test_aclose_ends_iteration_for_every_reader() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        seen: list[Any] = []

        async def read() -> None:
            async for event in session:
                seen.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            await session.aclose()
            await session.aclose()  # idempotent
        assert [type(event) for event in seen] == [rt.SessionCreated]
        with pytest.raises(trio.ClosedResourceError):
            await session.commit_audio()
        with pytest.raises(trio.ClosedResourceError):
            await session.wait_for("x")
    assert server.connections[0].close_code == 1000


async def test_the_session_cannot_be_used_after_its_block() -> None:
    async with fake_server() as server:
        async with client(server) as session:
            pass
        assert "closed" in repr(session)
        with pytest.raises(trio.ClosedResourceError):
            await session.commit_audio()
        with pytest.raises(trio.ClosedResourceError):
            await session.receive()
        with pytest.raises(TypeError, match="no public constructor"):
            type(session)()  # type: ignore[call-arg]


# --- Cancellation at every await point ------------------------------------------------------------


async def _silent(stream: trio.abc.Stream) -> None:
    await trio.sleep_forever()


async def _created_then_silent(conn: ServerConnection) -> None:
    await conn.send(session_created())
    await trio.sleep_forever()


async def _created_then_vanish(conn: ServerConnection) -> None:
    await conn.send(session_created())
    await conn.vanish()


async def _no_created(conn: ServerConnection) -> None:
    await trio.sleep_forever()


async def _body_receive(session: Any) -> None:
    await session.receive()
    await session.receive()


async def _body_send(session: Any) -> None:
    chunk = b"\x00" * (1 << 20)
    while True:  # the server reads nothing: the socket, then the outbound channel, fill up
        await session.append_audio(chunk)


async def _body_wait_for(session: Any) -> None:
    await session.wait_for("never.happens")


async def _body_stream_audio(session: Any) -> None:
    stream = await session.stream_audio(b"\x00" * 48_000 * 10)
    await stream.wait()


async def _body_nothing(session: Any) -> None:
    pass  # the close then waits for a server that never answers


CANCEL_POINTS = {
    "handshake": (_silent, None, None),
    "session.created": (None, _no_created, None),
    "receive": (None, _created_then_silent, _body_receive),
    "send with backpressure": (None, _created_then_vanish, _body_send),
    "wait_for": (None, _created_then_silent, _body_wait_for),
    "stream_audio pacing": (None, recorder, _body_stream_audio),
    "close": (None, _created_then_vanish, _body_nothing),
}


@pytest.mark.parametrize("point", list(CANCEL_POINTS))
async def test_cancelling_at_any_await_point_leaves_nothing_behind(point: str) -> None:
    raw, handler, body = CANCEL_POINTS[point]
    sessions: list[Any] = []
    scope = trio.CancelScope()

    async def run(server: FakeServer) -> None:
        with scope:
            async with client(server, outbound_queue_size=2, close_timeout=60) as session:
                sessions.append(session)
                if body is not None:
                    await body(session)
            await trio.sleep_forever()  # pragma: no cover

    async with fake_server(handler or recorder, raw=raw) as server:
        with trio.fail_after(10):  # cancelling must not hang
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run, server)
                await trio.testing.wait_all_tasks_blocked()
                if point == "send with backpressure":  # really blocked on a full channel
                    assert sessions[0].statistics().outbound_buffer_used == 2
                scope.cancel()
        assert scope.cancelled_caught  # Cancelled, not some other exception, came out
    for session in sessions:
        stream = session._p.transport.stream
        assert stream.socket.fileno() == -1  # the socket is closed
    gc.collect()  # an unclosed socket would raise ResourceWarning (an error) here
