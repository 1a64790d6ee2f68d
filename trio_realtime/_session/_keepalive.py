"""Noticing a peer that vanished without a close frame: pings, and a receiver that may stall.

A ping goes out every ``keepalive / 2`` seconds and must be answered before the next one is
due, so a vanished peer is noticed within ``keepalive`` seconds of its last pong. One
subtlety: while the session's receiver waits on a full inbound channel (the application is
behind), nothing reads the socket and no pong can be seen. Such a round proves nothing about
the peer and is not held against it.

:class:`Heartbeat` has no task of its own: the session's control task, which spends its life
waiting for the receiver's rare hand-overs, waits with the heartbeat's deadline and calls
:meth:`Heartbeat.beat` when it passes. One task fewer per session is about 3 KiB fewer per
idle session (``benchmarks/README.rst``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import final

import trio

from .._wire._websocket import ClientWebSocket, WebSocketClosed

__all__ = ["Heartbeat", "ReceiverStalls"]


@final
class ReceiverStalls:
    """Whether the receiver is waiting on a full inbound channel, and how often it has.

    Attributes:
        stalled: True while the receiver waits for room in the inbound channel.
        count: Times it has had to wait.
    """

    __slots__ = ("count", "stalled")

    def __init__(self) -> None:
        self.stalled = False
        self.count = 0


@final
class Heartbeat:
    """Keepalive pings on a schedule kept by whoever calls :meth:`beat` at :attr:`due`.

    Args:
        ws: The WebSocket to ping.
        keepalive: Seconds within which a vanished peer is noticed.
        stalls: The receiver's stall record.
        peer_gone: Awaited with the reason once a ping went unanswered.

    Attributes:
        due: When :meth:`beat` should next be called (``trio.current_time()`` clock).
    """

    __slots__ = ("_answered", "_half", "_peer_gone", "_stall_count", "_stalls", "_ws", "due")

    def __init__(
        self,
        ws: ClientWebSocket,
        keepalive: float,
        stalls: ReceiverStalls,
        peer_gone: Callable[[str], Awaitable[None]],
    ) -> None:
        self._ws = ws
        self._half = keepalive / 2
        self._stalls = stalls
        self._peer_gone = peer_gone
        self._answered: trio.Event | None = None
        self._stall_count = 0
        self.due = trio.current_time() + self._half

    async def beat(self) -> bool:
        """Judge the last ping and send the next one.

        Returns:
            False once the heartbeat is over: the peer is gone (``peer_gone`` was awaited) or
            the connection has closed.
        """
        answered, stalls = self._answered, self._stalls
        if (
            answered is not None
            and not answered.is_set()
            and not stalls.stalled
            and stalls.count == self._stall_count
        ):
            await self._peer_gone(
                f"no answer to a keepalive ping within {self._half:g} s: the peer is gone"
            )
            return False
        self._stall_count = stalls.count
        try:
            self._answered = await self._ws.send_ping()
        except WebSocketClosed:
            return False
        self.due = trio.current_time() + self._half
        return True
