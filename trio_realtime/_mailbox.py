"""A small bounded queue between a session's own tasks, lighter than a memory channel.

The control task's queue carries a handful of items most sessions never see (truncations,
tool outputs, pokes to send a queued request), yet lives as long as the session. A trio memory
channel pair costs about 1.8 KB and a receive parked on it about 1 KB more, per idle session;
this is a list, and a :class:`trio.Event` made only while a task has to wait.
"""

from __future__ import annotations

from typing import Generic, TypeVar, final

import trio

__all__ = ["Mailbox"]

_T = TypeVar("_T")


@final
class Mailbox(Generic[_T]):
    """A bounded FIFO queue with the send/receive semantics of a trio memory channel.

    Args:
        limit: Items it holds at most; :meth:`put` waits (and :meth:`put_nowait` raises
            :exc:`trio.WouldBlock`) while it is full.
    """

    __slots__ = ("_arrived", "_closed", "_items", "_limit", "_room")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        self._items: list[_T] = []
        self._limit = limit
        self._closed = False
        self._arrived: trio.Event | None = None  # a getter waits on it
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
        arrived = self._arrived
        if arrived is not None:
            self._arrived = None
            arrived.set()

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

    async def get(self) -> _T:
        """The oldest item, waiting for one (a checkpoint).

        Raises:
            trio.EndOfChannel: The mailbox is closed and empty.
        """
        await trio.lowlevel.checkpoint()
        items = self._items
        while not items:
            if self._closed:
                raise trio.EndOfChannel
            arrived = self._arrived
            if arrived is None:
                arrived = self._arrived = trio.Event()
            await arrived.wait()
        item = items.pop(0)  # a few items at most: cheaper than a deque's 600-byte block
        room = self._room
        if room is not None:
            self._room = None
            room.set()
        return item

    def close(self) -> None:
        """No more puts; getters drain what is queued, then get :exc:`trio.EndOfChannel`."""
        self._closed = True
        for event in (self._arrived, self._room):
            if event is not None:
                event.set()
        self._arrived = self._room = None
