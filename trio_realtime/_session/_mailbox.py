"""A small bounded queue between a session's own tasks, lighter than a memory channel.

The session's outbound queue lives as long as the session, and most of the time holds
nothing. A trio memory channel pair costs about 1.8 KB and a receive parked on it about 1 KB
more; this is a list, and its one getter parks with :func:`trio.lowlevel.wait_task_rescheduled`
(a :class:`trio.Event` would be another 600 bytes for as long as the session is idle).

One property the session relies on: a :meth:`Mailbox.put` that had to wait for room queues
its item itself, in its own task, and returns without another checkpoint. So whoever put an
item runs on before any reader of the queue could have acted on it.
"""

from __future__ import annotations

from typing import Generic, TypeVar, final

import trio

__all__ = ["Mailbox"]

_T = TypeVar("_T")


@final
class Mailbox(Generic[_T]):
    """A bounded FIFO queue with the send/receive semantics of a trio memory channel, for one
    consumer: :meth:`get` from a second task while one waits raises
    :exc:`trio.BusyResourceError`, as a stream's ``receive_some`` does.

    Args:
        limit: Items it holds at most; :meth:`put` waits (and :meth:`put_nowait` raises
            :exc:`trio.WouldBlock`) while it is full.
    """

    __slots__ = ("_closed", "_getter", "_items", "_limit", "_room")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        self._items: list[_T] = []
        self._limit = limit
        self._closed = False
        self._getter: trio.lowlevel.Task | None = None  # parked in get()
        self._room: trio.Event | None = None  # a putter waits on it

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: _T) -> None:
        """Queue ``item`` now.

        Raises:
            trio.ClosedResourceError: The mailbox is closed.
            trio.WouldBlock: It is full.
        """
        if self._closed:
            raise trio.ClosedResourceError("the mailbox is closed")
        if len(self._items) >= self._limit:
            raise trio.WouldBlock
        self._items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            trio.lowlevel.reschedule(getter)

    def push_front(self, items: list[_T]) -> None:
        """Queue ``items`` before everything queued, even past the limit (a resumed session's
        few events that must go first); closed or not.

        The limit still holds for :meth:`put`: a putter waits until the queue is below it.
        """
        if not items:
            return
        self._items[0:0] = items
        getter = self._getter
        if getter is not None:
            self._getter = None
            trio.lowlevel.reschedule(getter)

    @property
    def items(self) -> tuple[_T, ...]:
        """What is queued, oldest first (a copy)."""
        return tuple(self._items)

    async def put(self, item: _T) -> None:
        """Queue ``item``, waiting while the mailbox is full (a checkpoint).

        Raises:
            trio.ClosedResourceError: The mailbox is closed (before or while waiting).
        """
        await trio.lowlevel.checkpoint()
        while True:
            try:
                self.put_nowait(item)
                return
            except trio.WouldBlock:
                pass
            room = self._room
            if room is None:
                room = self._room = trio.Event()
            await room.wait()

    @property
    def getter_waiting(self) -> bool:
        """Whether a task is parked in :meth:`get` (so the mailbox is empty)."""
        return self._getter is not None

    def get_nowait(self) -> _T:
        """The oldest item, now.

        Raises:
            trio.WouldBlock: The mailbox is empty.
            trio.EndOfChannel: The mailbox is closed and empty.
        """
        if self._items:
            return self._take()
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def get(self) -> _T:
        """The oldest item, waiting for one (a checkpoint, as a channel's ``receive`` is).

        Raises:
            trio.EndOfChannel: The mailbox is closed and empty.
            trio.BusyResourceError: Another task is waiting in :meth:`get`.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        items = self._items
        if items:
            item = self._take()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while not items:  # empty after a wake-up: closed, or a get from another task was first
            if self._closed:
                raise trio.EndOfChannel
            if self._getter is not None:
                raise trio.BusyResourceError("another task is already waiting for this mailbox")
            self._getter = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort_get)
        return self._take()

    def _abort_get(self, _: object) -> trio.lowlevel.Abort:
        self._getter = None  # the get was cancelled: it takes nothing
        return trio.lowlevel.Abort.SUCCEEDED

    def _take(self) -> _T:
        item = self._items.pop(0)  # a few items at most: cheaper than a deque's 600-byte block
        room = self._room
        if room is not None:
            self._room = None
            room.set()
        return item

    def close(self) -> None:
        """No more puts; getters drain what is queued, then get :exc:`trio.EndOfChannel`."""
        self._closed = True
        getter, room = self._getter, self._room
        self._getter = self._room = None
        if getter is not None:
            trio.lowlevel.reschedule(getter)
        if room is not None:
            room.set()
