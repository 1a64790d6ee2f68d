"""Noticing a peer that vanished, on the heartbeat's own clock, whatever the writes do.

A ping is asked for every ``keepalive / 2`` seconds and must be answered within
``keepalive / 2``. Asking never waits: :meth:`ClientWebSocket.request_ping` writes the ping
at once when the socket is free, or leaves it to the write in progress to send right after
its frame. So a write stuck on a full socket (nothing is acknowledged: the peer or the
network is gone) cannot hold the verdict back, as it did when the ping waited its turn.

When an unanswered ping is due for judgement:

1. **A slow application is not a dead peer.** If the session's stream held the receiver
   (the application is behind) at any time since the ping was asked for, or the socket was
   lent to the application's reader (:mod:`._stream`) and left unread between its reads, no
   pong could be read: the round proves nothing, and a new ping is asked for.
2. **A peer that still takes our data is alive.** If the socket took bytes after making a
   write wait (the peer acknowledged data) within the last ``keepalive / 2``, the
   connection is slow, not dead: the ping may sit behind megabytes of audio. The verdict
   waits until there has been no such sign for ``keepalive / 2``.
3. **Otherwise the peer is gone**, whether the ping was written and not answered, or could
   not even be written.

So a vanished peer is noticed within ``keepalive`` seconds of its last sign of life, idle or
streaming, whatever the writes do; and the receiver waiting for room in the outbound queue
needs no excuse of its own (that queue drains only while the peer takes data: rule 2).

:class:`Watchdog` is the session's one timer task: it wakes for the heartbeat and for any
other deadline (a response request that the server never answered), and sleeps otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, final

import trio

from .._wire._websocket import ClientWebSocket, WebSocketClosed

__all__ = ["Deadline", "Flusher", "Heartbeat", "PeerGone", "ReceiverStalls", "Watchdog"]


@final
class ReceiverStalls:
    """When the socket goes unread because of the application, and how often.

    Attributes:
        count: Times the receiver has had to wait for the application.
        since: When the current wait began (``None`` while it is not waiting).
        last_end: When the last wait ended.
        gaps: Times a stream reader the socket is lent to started a read: each ends a spell
            in which the socket went unread (between its reads).
        lent_idle: Whether the socket is lent and nobody is reading it now.
    """

    __slots__ = ("count", "gaps", "last_end", "lent_idle", "since")

    def __init__(self) -> None:
        self.count = 0
        self.since: float | None = None
        self.last_end = -math.inf
        self.gaps = 0
        self.lent_idle = False

    def begin(self) -> None:
        """The receiver starts waiting."""
        self.count += 1
        self.since = trio.current_time()

    def end(self) -> None:
        """It reads again."""
        self.since = None
        self.last_end = trio.current_time()

    def during(self, start: float, gaps: int) -> bool:
        """Whether the socket went unread for the application at any time since ``start``,
        when :attr:`gaps` was ``gaps``."""
        return (
            self.since is not None or self.last_end >= start or self.lent_idle or self.gaps != gaps
        )


@final
class Heartbeat:
    """The keepalive's judgement (see the module docstring); :class:`Watchdog` runs it.

    Args:
        ws: The WebSocket.
        keepalive: Seconds within which a vanished peer is noticed.
        app_stalls: Waits of the receiver on the application (the stream is full).
        flusher: Told when a requested ping waits for a flush (no write is in progress).

    Attributes:
        due: When :meth:`beat` should next be called (``trio.current_time()`` clock).
    """

    __slots__ = (
        "_app_stalls",
        "_asked",
        "_asked_at",
        "_flusher",
        "_gaps",
        "_half",
        "_ws",
        "due",
    )

    def __init__(
        self,
        ws: ClientWebSocket,
        keepalive: float,
        app_stalls: ReceiverStalls,
        flusher: Flusher,
    ) -> None:
        self._ws = ws
        self._half = keepalive / 2
        self._app_stalls = app_stalls
        self._flusher = flusher
        self._asked = 0  # the ping awaiting its pong (0: none)
        self._asked_at = 0.0
        self._gaps = 0  # the stalls' gaps when the ping was asked for
        self.due = trio.current_time() + self._half

    def beat(self, now: float) -> str | None:
        """Judge the outstanding ping, or ask for the next one; never waits.

        Returns:
            Why the peer is judged gone, or ``None`` while it is not.
        """
        ws, half = self._ws, self._half
        asked = self._asked
        stalls = self._app_stalls
        if asked and ws.pongs_received < asked and not stalls.during(self._asked_at, self._gaps):
            progress = ws.progress_at
            if now - progress < half:  # the peer still takes our data: slow, not gone
                self.due = progress + half
                return None
            if ws.pings_written >= asked:
                return f"no answer to a keepalive ping within {half:g} s: the peer is gone"
            return (
                f"a keepalive ping could not be written for {half:g} s (the socket took "
                "nothing): the peer is gone"
            )
        try:
            self._asked = ws.request_ping()
        except WebSocketClosed:
            self._asked = 0
            self.due = math.inf
            return None
        self._asked_at = now
        self._gaps = stalls.gaps
        self.due = now + half
        if ws.has_unsent:
            self._flusher.flush_soon()
        return None


class Flusher(Protocol):
    """Whoever writes what the WebSocket holds back."""

    def flush_soon(self) -> None:
        """Have it written (without waiting)."""


class PeerGone(Protocol):
    """Whoever ends the session when the peer is judged gone."""

    async def peer_gone(self, reason: str) -> None:
        """End the session (1006) and close the socket."""


class Deadline(Protocol):
    """Something else the watchdog keeps time for."""

    @property
    def deadline(self) -> float:
        """When :meth:`expire` should next be called (``math.inf``: never)."""
        ...

    def expire(self, now: float) -> None:
        """Act on whatever is overdue at ``now``."""


@final
class Watchdog:
    """The session's timer task: the heartbeat and other deadlines, on one clock.

    Args:
        heartbeat: The keepalive, or ``None`` when it is off.
        deadlines: Other deadlines kept (the response layer's).
        owner: Its ``peer_gone(reason)`` is awaited once the heartbeat judges the peer gone
            (it must not wait long); the watchdog keeps the other deadlines afterwards.
    """

    __slots__ = ("_deadlines", "_heartbeat", "_owner", "_parked")

    def __init__(
        self,
        heartbeat: Heartbeat | None,
        deadlines: Sequence[Deadline],
        owner: PeerGone,
    ) -> None:
        self._heartbeat = heartbeat
        self._deadlines = deadlines
        self._owner = owner
        self._parked: trio.lowlevel.Task | None = None

    def set_heartbeat(self, heartbeat: Heartbeat | None) -> None:
        """Judge another connection from now on (or none, between connections)."""
        self._heartbeat = heartbeat
        self.poke()

    def poke(self) -> None:
        """A deadline moved earlier: look again now."""
        task = self._parked
        if task is not None:
            self._parked = None
            trio.lowlevel.reschedule(task)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._parked = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def run(self) -> None:
        """Run until cancelled (the session's nursery does)."""
        while True:
            heartbeat = self._heartbeat
            wake = heartbeat.due if heartbeat is not None else math.inf
            for other in self._deadlines:
                wake = min(wake, other.deadline)
            with trio.move_on_at(wake):
                self._parked = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(self._abort)
            now = trio.current_time()
            heartbeat = self._heartbeat  # another connection's, if the session moved meanwhile
            if heartbeat is not None and now >= heartbeat.due:
                verdict = heartbeat.beat(now)
                if verdict is not None:
                    self._heartbeat = None
                    await self._owner.peer_gone(verdict)
            for other in self._deadlines:
                if now >= other.deadline:
                    other.expire(now)
