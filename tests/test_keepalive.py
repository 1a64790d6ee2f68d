"""The keepalive judges the peer on its own clock, whatever the writes do.

First the judgement alone, without a socket (a stand-in WebSocket with the numbers the
heartbeat reads); then whole sessions through a fault-injecting TCP proxy: blackhole, RST
in the middle of a frame, half a frame then silence, while idle, streaming at real time and
streaming as fast as possible. Each fault must be noticed within ``keepalive`` + 1 s, and
every blocked ``send()`` and audio pump must raise ``ConnectionClosed`` (1006).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
from fault_proxy import open_fault_proxy

import trio_realtime as rt
from trio_realtime._session._keepalive import Heartbeat, ReceiverStalls
from trio_realtime.audio import silence
from trio_realtime.testing import open_local_server


class StandInWebSocket:
    """What the heartbeat reads of a WebSocket, set by hand."""

    def __init__(self) -> None:
        self.pongs_received = 0
        self.pings_written = 0
        self.progress_at = -math.inf  # when the socket last took bytes after a wait
        self.asked = 0
        self.writes_pings = True  # False: pings wait behind a stuck write
        self.has_unsent = False

    def request_ping(self) -> int:
        self.asked += 1
        if self.writes_pings:
            self.pings_written = self.asked
        return self.asked

    def answer(self) -> None:
        self.pongs_received = self.pings_written

    def flush_soon(self) -> None:
        pass


def heartbeat(ws: StandInWebSocket, app: ReceiverStalls | None = None) -> Heartbeat:
    return Heartbeat(ws, 10.0, app or ReceiverStalls(), ws)  # type: ignore[arg-type]


async def test_an_answered_ping_keeps_the_peer_alive_and_an_unanswered_one_does_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StandInWebSocket()
    beat = heartbeat(ws)
    assert beat.beat(5.0) is None  # the first ping
    assert beat.due == 10.0
    ws.answer()
    assert beat.beat(10.0) is None  # answered: the next ping
    verdict = beat.beat(15.0)  # not answered within 5 s
    assert verdict is not None
    assert "no answer to a keepalive ping within 5 s" in verdict


async def test_a_ping_stuck_behind_a_write_the_socket_never_takes_is_a_dead_peer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StandInWebSocket()
    beat = heartbeat(ws)
    ws.writes_pings = False  # the socket is full: the ping waits behind the write
    assert beat.beat(5.0) is None
    verdict = beat.beat(10.0)
    assert verdict is not None
    assert "could not be written for 5 s" in verdict


async def test_a_peer_that_still_takes_our_data_is_given_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StandInWebSocket()
    beat = heartbeat(ws)
    ws.writes_pings = False  # a slow link: the ping sits behind audio...
    assert beat.beat(5.0) is None
    ws.progress_at = 8.0  # ...but the socket took bytes 2 s ago
    assert beat.beat(10.0) is None
    assert beat.due == 13.0  # judged again once there was no sign of life for 5 s
    ws.progress_at = 12.5  # taken again
    assert beat.beat(13.0) is None
    assert beat.due == 17.5
    assert beat.beat(17.5) is not None  # nothing since: gone


async def test_a_receiver_held_by_a_slow_application_excuses_the_round(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StandInWebSocket()
    app = ReceiverStalls()
    beat = heartbeat(ws, app)
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None
    app.begin()  # the stream holds the receiver: no pong can be read
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None  # not held against the peer: a new round
    await trio.sleep(5)
    app.end()
    assert beat.beat(trio.current_time()) is None  # the stall overlapped this round too
    ws.answer()
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None


async def test_a_socket_lent_to_the_reader_and_left_unread_excuses_the_round(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws = StandInWebSocket()
    app = ReceiverStalls()
    beat = heartbeat(ws, app)
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None  # a ping asked for
    app.lent_idle = True  # the application's reader got its event and went away
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None  # no pong could be read meanwhile
    app.lent_idle, app.gaps = False, app.gaps + 1  # it reads again
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None  # the unread spell overlapped this round
    app.lent_idle = True  # away for a moment only, between two reads
    app.lent_idle, app.gaps = False, app.gaps + 1
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is None  # even a short spell excuses the round
    await trio.sleep(5)
    assert beat.beat(trio.current_time()) is not None  # read throughout, no pong: gone


# --- Whole sessions through the fault proxy ------------------------------------------------

KEEPALIVE = 1.0


async def endless_silence() -> AsyncIterator[bytes]:
    chunk = silence(100)
    while True:
        yield chunk


async def run_until_detected(mode: str, fault: str) -> tuple[float, list[BaseException]]:
    """A session through the proxy: stream (or not), inject ``fault``, and wait until the
    session notices. Returns the detection time and what the blocked operations raised."""
    raised: list[BaseException] = []
    async with open_local_server() as server, open_fault_proxy(server.port) as proxy:
        with trio.fail_after(KEEPALIVE + 10):
            async with rt.connect(
                model="gpt-realtime", url=proxy.url, api_key="k", keepalive=KEEPALIVE
            ) as session:

                async def pump() -> None:
                    stream = await session.stream_audio(
                        endless_silence(), realtime=mode == "realtime"
                    )
                    try:
                        await stream.wait()
                    except rt.ConnectionClosed as exc:
                        raised.append(exc)

                async def sender() -> None:
                    try:
                        while True:
                            await session.append_audio(silence(100))
                    except rt.ConnectionClosed as exc:
                        raised.append(exc)

                async with trio.open_nursery() as nursery:
                    if mode == "reading":
                        await session.receive()  # read: the socket is lent to this task
                    if mode != "idle":
                        nursery.start_soon(pump)
                    if mode == "fast":
                        nursery.start_soon(sender)
                    await trio.sleep(0.5)
                    getattr(proxy, fault)()
                    try:
                        if mode == "reading":  # the stream's reader reads the socket itself
                            async for _ in session:
                                pass
                        else:
                            await session.wait_for("never.happens")
                    except rt.ConnectionClosed as exc:
                        raised.append(exc)
                        detected = trio.current_time()
        assert proxy.fault_at is not None
        return detected - proxy.fault_at, raised


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["idle", "realtime", "fast", "reading"])
@pytest.mark.parametrize("fault", ["blackhole", "reset_mid_frame", "half_frame"])
async def test_a_dead_network_is_noticed_within_the_keepalive(mode: str, fault: str) -> None:
    detected, raised = await run_until_detected(mode, fault)
    assert detected <= KEEPALIVE + 1
    # The waiter (or the stream's reader), the pump, the blocked send.
    expected = {"idle": 1, "realtime": 2, "fast": 3, "reading": 2}[mode]
    assert len(raised) == expected
    assert all(isinstance(exc, rt.ConnectionClosed) and exc.code == 1006 for exc in raised)
