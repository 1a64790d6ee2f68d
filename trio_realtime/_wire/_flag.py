"""A one-way flag that makes its :class:`trio.Event` only when someone has to wait for it.

A :class:`trio.Event` holds a set of waiting tasks: about 300 bytes. A session owns several
that are set once, at its end, and waited for only on the way out; an idle session should not
pay for them all its life.
"""

from __future__ import annotations

from typing import final

import trio

__all__ = ["Flag"]


@final
class Flag:
    """Set once; :meth:`wait` returns once it is set. Behaves as a :class:`trio.Event`."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: trio.Event | None = None

    def is_set(self) -> bool:
        """Whether :meth:`set` has been called."""
        return self._set

    def set(self) -> None:
        """Set the flag and wake every waiter (idempotent)."""
        self._set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        """Wait until the flag is set; a checkpoint either way, as ``Event.wait`` is."""
        if self._set:
            await trio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = trio.Event()
        await self._event.wait()
