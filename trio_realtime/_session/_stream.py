"""The session's own event stream (``async for event in session``) and when it holds the receiver.

Every received event reaches the conversation, response handles, ``wait_for`` waiters and
pending requests *before* the stream; the stream is only the last stop. Its policy decides
whether a full stream stops the receiver (and so the socket reads: backpressure):

* **Read, and nobody else waiting: backpressure.** Once the application has read the stream
  (called ``receive()`` or iterated), a stream holding ``capacity`` unread events stops the
  receiver until it is read. A slow reader slows the socket; nothing is dropped.
* **Someone else waiting: elastic.** While any task waits for something only the receiver
  brings (a response handle's deltas or result, ``wait_for``, ``request``, ``next_response``,
  a response watch), the stream never stops the receiver: it grows past ``capacity``, up to
  ``max_events`` events and ``max_bytes`` bytes of frames, and beyond that drops its oldest
  events (counted in :attr:`EventStream.dropped`). So a task reading the stream slowly, or
  not at all any more, never starves a handle.
* **Never read: a window.** Until the application first reads it, the stream keeps the
  newest ``capacity`` events and lets older ones go (counted in :attr:`EventStream.skipped`).
  A program that reads only handles, only ``wait_for`` or only the conversation, or nothing,
  never stalls and holds at most ``capacity`` events here.

**A reader that keeps reading gets the socket.** On a plain ``ws://`` socket, once the
application reads the stream as fast as events come and nobody else waits, the receiver
*lends* the socket to the stream's readers and parks: a reader finding the stream empty reads
the socket itself and routes what came (conversation, handles, waiters, the stream) in its
own task. That saves a task switch per event, the receiver's. Routing a lent read never
waits; anything that must (answering a ping or a close, the library's own sends after an
event, a framing error, a stream filled to ``capacity`` by one read: the reader fell
behind, and the receiver holds as above) goes back to the receiver, which takes the
socket back. So does
anyone starting to wait for something only the receiver brings, the session closing, and a
reader that has not come back for :data:`LEND_CHECK_SECONDS` (the watchdog looks): the
socket is never left unread long for an application that stopped reading.

The stream counts the receiver's waits in :class:`~._keepalive.ReceiverStalls`, and the
times a lent socket is left unread between reads: meanwhile no pong can be read, and the
keepalive must not blame the peer for that.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final, final

import trio

from ._keepalive import ReceiverStalls
from ._support import SCHEDULE
from ._types import ReceivedEvent

__all__ = ["LEND_CHECK_SECONDS", "EventStream", "Pull"]

_CLOSED: Final = "closed"
_RELEASED: Final = "released"

#: How often the watchdog checks that a lent socket is still read: a socket nobody read for
#: that long goes back to the receiver (so within two of these).
LEND_CHECK_SECONDS: Final = 5.0

#: What a reader the socket is lent to calls: wait until readable, read once, route what
#: came without waiting; False when the receiver must take the socket back.
Pull = Callable[[], Awaitable[bool]]


@final
class EventStream:
    """The stream's buffer, its readers, and the receiver's hold (see the module docstring).

    Args:
        capacity: Unread events at which a read stream holds the receiver, and the size of
            the never-read window.
        max_events: The elastic bound, in events.
        max_bytes: The elastic bound, in bytes of frames.
        stalls: Where the receiver's waits are recorded.

    Attributes:
        skipped: Events the never-read window let go.
        dropped: Events dropped past the elastic bounds.
    """

    __slots__ = (
        "_bytes",
        "_capacity",
        "_gaps_seen",
        "_held",
        "_items",
        "_lend_check",
        "_lender",
        "_max_bytes",
        "_max_events",
        "_pulling",
        "_readers",
        "_reading",
        "_receiver",
        "_reclaim_wanted",
        "_state",
        "_waiting",
        "_woke",
        "deadline_moved",
        "dropped",
        "skipped",
        "stalls",
    )

    def __init__(
        self, capacity: int, max_events: int, max_bytes: int, stalls: ReceiverStalls
    ) -> None:
        self._capacity = capacity
        self._max_events = max(max_events, capacity)
        self._max_bytes = max_bytes
        # Each event followed by the size of its frame: one deque (a deque's first block is
        # about 600 bytes, and an idle session holds a few unread events).
        self._items: deque[ReceivedEvent | int] = deque()
        self._bytes = 0
        self._readers: list[trio.lowlevel.Task] = []  # parked in receive()
        self._held: trio.lowlevel.Task | None = None  # the receiver, parked in wait_room()
        self._reading = False
        self._waiting = 0
        self._state: str | None = None
        # Lending the socket (see the module docstring).
        self._woke = False  # offer() woke a parked reader since the receiver last looked
        self._lender: Pull | None = None  # set while the socket is lent
        self._receiver: trio.lowlevel.Task | None = None  # parked while it is lent
        self._pulling = False  # a reader is reading the lent socket
        self._reclaim_wanted = False  # give it back once that read is over
        self._lend_check = math.inf
        self._gaps_seen = 0
        self.skipped = 0
        self.dropped = 0
        self.stalls = stalls
        self.deadline_moved: Callable[[], None] = _nothing  # the watchdog's poke

    def __len__(self) -> int:
        return len(self._items) >> 1

    @property
    def waiting(self) -> int:
        """Tasks waiting for something only the receiver brings."""
        return self._waiting

    # --- the receiver's side -----------------------------------------------------------------

    def offer(self, event: ReceivedEvent, size: int) -> bool:
        """Add ``event`` (``size`` bytes of frame); False if the receiver must now
        :meth:`wait_room` before reading on."""
        items = self._items
        items.append(event)
        items.append(size)
        self._bytes += size
        if self._readers:
            trio.lowlevel.reschedule(self._readers.pop(0))
            self._woke = True
        if len(items) < self._capacity << 1:
            return True
        return self._over()

    def _over(self) -> bool:
        if self._state is not None:
            return True  # closed: nobody waits on it any more
        if not self._reading:
            while len(self) > self._capacity:
                self._drop()
                self.skipped += 1
            return True
        if self._waiting:
            while len(self) > self._max_events or (self._bytes > self._max_bytes and len(self) > 1):
                self._drop()
                self.dropped += 1
            return True
        return False

    def _drop(self) -> None:
        items = self._items
        items.popleft()
        self._bytes -= items.popleft()  # type: ignore[operator]

    def _holds(self) -> bool:
        return (
            self._reading
            and not self._waiting
            and self._state is None
            and len(self) >= self._capacity
        )

    def stop_holding(self) -> None:
        """The session is closing: its close handshake needs the receiver to read on, so the
        stream holds it no more (it keeps what it can within the elastic bounds)."""
        self._waiting += 1  # as if someone waited, for good
        self._release_hold()
        self._reclaim()

    async def wait_room(self) -> None:
        """Wait while the stream holds the receiver (the application is behind)."""
        stalls = self.stalls
        stalls.begin()
        try:
            while self._holds():
                self._held = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(self._abort_hold)
        finally:
            stalls.end()
        self._over()  # released by a waiter: trim to the elastic bounds

    def _abort_hold(self, _: object) -> trio.lowlevel.Abort:
        self._held = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _release_hold(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            trio.lowlevel.reschedule(held)

    # --- the gauge of other waiters ----------------------------------------------------------

    def enter(self) -> None:
        """A task starts waiting for something only the receiver brings: stop holding it (and
        give it the socket back)."""
        self._waiting += 1
        self._release_hold()
        self._reclaim()

    def exit(self) -> None:
        """It stopped waiting."""
        self._waiting -= 1

    # --- lending the socket ------------------------------------------------------------------

    def may_lend(self) -> bool:
        """The receiver, after routing a read: whether to lend the socket to the readers now
        (one was waiting for what came, nobody else waits, nothing holds)."""
        woke, self._woke = self._woke, False
        return (
            woke
            and self._reading
            and not self._waiting
            and self._state is None
            and self._held is None
        )

    async def lend(self, pull: Pull) -> None:
        """The receiver: lend the socket to the stream's readers, and park until it is taken
        back (when the session ends, cancel the receiver)."""
        self._lender = pull
        self._receiver = trio.lowlevel.current_task()
        self.stalls.lent_idle = True  # until a reader reads
        self._gaps_seen = self.stalls.gaps
        self._lend_check = trio.current_time() + LEND_CHECK_SECONDS
        self.deadline_moved()
        await trio.lowlevel.wait_task_rescheduled(self._abort_lend)

    def _abort_lend(self, _: object) -> trio.lowlevel.Abort:
        self._lender = self._receiver = None  # the receiver is cancelled: the session ends
        self.stalls.lent_idle = False
        self._lend_check = math.inf
        return trio.lowlevel.Abort.SUCCEEDED

    def take_back(self) -> None:
        """Give the socket back to the receiver (now, or once the read in progress is over):
        a connection being left must be read by the receiver, whatever the readers do."""
        self._reclaim()

    def _reclaim(self) -> None:
        """Give the socket back to the receiver: now, or when the read in progress is over."""
        if self._receiver is None:
            return
        if self._pulling:
            self._reclaim_wanted = True
            return
        receiver = self._receiver
        self._lender = self._receiver = None
        self._reclaim_wanted = False
        self.stalls.lent_idle = False
        self._lend_check = math.inf
        trio.lowlevel.reschedule(receiver)

    @property
    def deadline(self) -> float:
        """When the watchdog should next check that the lent socket is read (``inf``: not
        lent)."""
        return self._lend_check

    def expire(self, now: float) -> None:
        """The watchdog's check: a lent socket nobody read since the last check goes back."""
        if self._receiver is None:
            self._lend_check = math.inf
        elif self._pulling or self.stalls.gaps != self._gaps_seen:
            self._gaps_seen = self.stalls.gaps
            self._lend_check = now + LEND_CHECK_SECONDS
        else:
            self._reclaim()

    # --- the application's side --------------------------------------------------------------

    async def receive(self) -> ReceivedEvent:
        """The next event, waiting for one.

        Raises:
            trio.EndOfChannel: Closed, and every event read.
            trio.ClosedResourceError: Released (the session's block is over).
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        self._reading = True
        items = self._items
        if items:  # a cancel point, and now and then a schedule point (see SCHEDULE)
            event = self._take()
            if SCHEDULE.due():
                await trio.lowlevel.cancel_shielded_checkpoint()
            return event
        while not items:
            if self._state is _RELEASED:
                raise trio.ClosedResourceError("the session is closed")
            if self._state is _CLOSED:
                raise trio.EndOfChannel
            pull = self._lender
            if pull is None or self._pulling:
                await self._park_reader()
                continue
            # Read the lent socket once, in this task.
            stalls = self.stalls
            self._pulling = True
            stalls.lent_idle = False
            stalls.gaps += 1  # an unread spell ends
            keep = False
            try:
                keep = await pull()
            finally:
                self._pulling = False
                stalls.lent_idle = self._receiver is not None  # still lent: unread till next
                if not keep or self._reclaim_wanted or self._waiting or self._state is not None:
                    self._reclaim()
        return self._take()

    async def _park_reader(self) -> None:
        task = trio.lowlevel.current_task()
        readers = self._readers
        readers.append(task)

        def abort(_: object) -> trio.lowlevel.Abort:
            if task in readers:  # not woken by an event yet: it takes nothing
                readers.remove(task)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _take(self) -> ReceivedEvent:
        items = self._items
        event: ReceivedEvent = items.popleft()  # type: ignore[assignment]
        self._bytes -= items.popleft()  # type: ignore[operator]
        if self._held is not None and len(items) < self._capacity << 1:
            self._release_hold()
        return event

    # --- the end -----------------------------------------------------------------------------

    def close(self) -> None:
        """No more events: readers get what is buffered, then :exc:`trio.EndOfChannel`."""
        if self._state is None:
            self._state = _CLOSED
        self._wake_all()

    def release(self) -> None:
        """The session is over: drop what is buffered; reads raise ``ClosedResourceError``."""
        self._state = _RELEASED
        self._items.clear()
        self._bytes = 0
        self._wake_all()

    def _wake_all(self) -> None:
        self._reclaim()
        readers, self._readers = self._readers, []
        for task in readers:
            trio.lowlevel.reschedule(task)
        self._release_hold()


def _nothing() -> None:
    pass
