"""Events written from the caller's task (the sender idle, nothing queued) and events queued
for the sender reach the server once each, in the order they were sent."""

from __future__ import annotations

import trio
import trio.lowlevel
from fake_server import ServerConnection, client, fake_server, session_created


async def recorder(conn: ServerConnection) -> None:
    await conn.send(session_created())
    async for _ in conn.events():
        pass


async def test_direct_and_queued_sends_keep_their_order() -> None:
    async with fake_server(recorder) as server:
        async with client(server, outbound_queue_size=4) as session:
            ws = session._ws
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
