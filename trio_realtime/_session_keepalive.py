"""Noticing a peer that vanished without a close frame: pings, and a receiver that may stall.

A ping goes out every ``keepalive / 2`` seconds and must be answered within
``keepalive / 2`` seconds, so a vanished peer is noticed within ``keepalive`` seconds of its
last pong. One subtlety: while the session's receiver waits on a full inbound channel (the
application is behind), nothing reads the socket and no pong can be seen. Such a round
proves nothing about the peer and is not held against it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import final

import trio

from ._websocket import ClientWebSocket, WebSocketClosed

__all__ = ["ReceiverStalls", "keepalive"]


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


async def keepalive(
    ws: ClientWebSocket,
    keepalive: float,
    stalls: ReceiverStalls,
    peer_gone: Callable[[str], Awaitable[None]],
) -> None:
    """Ping ``ws`` until it closes, or until a pong is missed: then await ``peer_gone(why)``."""
    half = keepalive / 2
    while True:
        await trio.sleep(half)
        count = stalls.count
        with trio.move_on_after(half) as scope:
            try:
                await ws.ping()
            except WebSocketClosed:
                return
        if scope.cancelled_caught and not stalls.stalled and stalls.count == count:
            await peer_gone(f"no answer to a keepalive ping within {half:g} s: the peer is gone")
            return
