"""Sends and receives that need no waiting: always a cancel point, a schedule point now and then.

A send whose frame the socket takes at once, or a receive of an event already buffered, does
not yield to the scheduler every time (that trip cost about as much CPU as the send), but a
cancelled caller never gets past it, and a task that sends or reads in a tight loop still
lets every other task run at least every 16 calls.
"""

from __future__ import annotations

import pytest
import trio
from fake_server import ServerConnection, audio_delta, client, fake_server, session_created

from trio_realtime._session._support import SchedulePoints

PCM = b"\x00\x01" * 2400  # 100 ms of pcm16


async def recorder(conn: ServerConnection) -> None:
    await conn.send(session_created())
    async for _ in conn.events():
        pass


def test_schedule_points_come_every_nth_call() -> None:
    points = SchedulePoints(4)
    assert [points.due() for _ in range(9)] == [False, False, False, True] * 2 + [False]


async def test_a_tight_send_loop_lets_other_tasks_run() -> None:
    runs = 0

    async def other() -> None:
        nonlocal runs
        while True:
            runs += 1
            await trio.lowlevel.checkpoint()

    async with (
        fake_server(recorder) as server,
        client(server) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(other)
        await trio.lowlevel.checkpoint()
        before = runs
        for _ in range(64):
            await session.append_audio(PCM)
            await session.commit_audio()
        assert runs - before >= 128 // 16 - 1
        nursery.cancel_scope.cancel()
    assert len(server.connections[0].received) == 128


async def test_a_cancelled_send_sends_nothing() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        for _ in range(20):  # whichever of them is a schedule point
            with trio.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(trio.Cancelled):
                    await session.append_audio(PCM)
                with pytest.raises(trio.Cancelled):
                    await session.commit_audio()
        await session.clear_audio()
    assert [event["type"] for event in server.connections[0].received] == [
        "input_audio_buffer.clear"
    ]


async def test_a_cancelled_receive_of_a_buffered_event_takes_nothing() -> None:
    async def burst(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for index in range(40):
            await conn.send(audio_delta(index))
        async for _ in conn.events():
            pass

    async with fake_server(burst) as server, client(server) as session:
        first = await session.receive()
        assert first.type == "session.created"
        await session.wait_for(
            lambda e: (
                getattr(e, "delta", None) is not None and session.statistics().events_received >= 41
            ),
            timeout=10,
        )
        for _ in range(20):
            with trio.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(trio.Cancelled):
                    await session.receive()
        deltas = [await session.receive() for _ in range(40)]
    assert [d.type for d in deltas] == ["response.audio.delta"] * 40
