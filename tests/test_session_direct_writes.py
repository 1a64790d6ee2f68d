"""Events written from the caller's task (the sender idle, nothing queued) and events queued
for the sender reach the server once each, in the order they were sent."""

from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing
from fake_server import ServerConnection, client, fake_server, session_created


async def recorder(conn: ServerConnection) -> None:
    await conn.send(session_created())
    async for _ in conn.events():
        pass


async def test_direct_and_queued_sends_keep_their_order() -> None:
    async with fake_server(recorder) as server:
        async with client(server, outbound_queue_size=4) as session:
            ws = session._p.transport.ws
            assert ws.writes_directly  # loopback TCP: the direct path is in play
            direct = calls = 0
            try_send_now = ws.try_send_now

            def counting(message: str) -> bool:
                # Every ninth direct attempt finds the socket "full", as a slow peer would
                # make it: that event and what follows it while the sender works are queued,
                # so both paths run however fast the kernel drains loopback.
                nonlocal direct, calls
                calls += 1
                if calls % 9 == 0:
                    return False
                written = try_send_now(message)
                direct += written
                return written

            ws.try_send_now = counting  # type: ignore[method-assign]

            async def burst(tag: str) -> None:
                for index in range(200):
                    await session.append_audio(bytes(480))
                    await session.commit_audio(event_id=f"{tag}{index}")
                    if index % 7 == 0:
                        await trio.lowlevel.checkpoint()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(burst, "a")
                nursery.start_soon(burst, "b")
        stats = session.statistics()
    received = server.connections[0].received
    assert len(received) == stats.events_sent == 800
    assert 0 < direct < 800  # both paths were taken
    for tag in "ab":
        ids = [e["event_id"] for e in received if e["event_id"].startswith(tag)]
        assert ids == [f"{tag}{index}" for index in range(200)]
    appends = [e for e in received if e["type"] == "input_audio_buffer.append"]
    assert len(appends) == 400
    assert stats.audio_ms_sent == 400 * 10.0


def task_names(session: object) -> set[str]:
    nursery = session._p.nursery  # type: ignore[attr-defined]
    return {task.name for task in nursery.child_tasks}


async def test_an_idle_session_has_no_sender_task_until_a_send_must_wait() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        await session.commit_audio(event_id="first")  # written from this task
        assert "trio_realtime.sender" not in task_names(session)
        assert "trio_realtime.receiver" in task_names(session)

        session._p.transport.ws.try_send_now = lambda message: False  # type: ignore[method-assign]
        await session.commit_audio(event_id="queued")  # the socket "is full": queued
        assert "trio_realtime.sender" in task_names(session)
        await session.commit_audio(event_id="after")  # the sender is busy or not idle
    connection = server.connections[0]
    assert [e["event_id"] for e in connection.received] == ["first", "queued", "after"]
    assert connection.close_code == 1000


async def test_a_session_that_never_queued_closes_cleanly() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        await session.commit_audio(event_id="only")
        assert "trio_realtime.sender" not in task_names(session)
    connection = server.connections[0]
    assert [e["event_id"] for e in connection.received] == ["only"]
    assert connection.close_code == 1000


async def test_a_stream_without_direct_writes_starts_the_sender_at_once() -> None:
    async with fake_server(recorder, transport="memory") as server, client(server) as session:
        assert not session._p.transport.ws.writes_directly
        assert "trio_realtime.sender" in task_names(session)
        await session.commit_audio(event_id="queued")
    connection = server.connections[0]
    assert [e["event_id"] for e in connection.received] == ["queued"]
    assert connection.close_code == 1000


async def test_one_sender_however_often_its_queue_empties() -> None:
    # An empty queue once read as "no queue yet" (an empty mailbox is falsy): a send made
    # while the sender was busy started a second sender, and the two could reorder events.
    async with (
        fake_server(recorder) as server,
        client(server, outbound_queue_size=4) as session,
    ):
        ws = session._p.transport.ws
        ws.try_send_now = lambda message: False  # type: ignore[method-assign]
        for index in range(30):
            await session.commit_audio(event_id=f"e{index}")
            if index % 3 == 0:
                await trio.testing.wait_all_tasks_blocked()  # the sender empties it
        senders = [
            task for task in session._p.nursery.child_tasks if task.name == "trio_realtime.sender"
        ]
        assert len(senders) == 1
    received = server.connections[0].received
    assert [e["event_id"] for e in received] == [f"e{index}" for index in range(30)]
