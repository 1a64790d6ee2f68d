"""Small shared pieces: the private-constructor metaclass, the sent-event log, base64 sizes,
and how often a send or receive that needs no waiting yields to other tasks."""

from __future__ import annotations

from typing import Any, Final, TypeVar, final

from .._core._events import ClientEvent, UnknownEvent

__all__ = ["SCHEDULE", "NoPublicConstructor", "SchedulePoints", "SentLog", "base64_payload_bytes"]

_T = TypeVar("_T")


@final
class SentLog:
    """The last sent client events by ``event_id``, to find what an ``error`` refers to.

    Bounded by count and by encoded size (a ``conversation.item.create`` can carry audio).
    Audio appends are not kept: they would pin megabytes of audio for little use.
    """

    __slots__ = ("_events", "_max_bytes", "_max_events", "_size")

    def __init__(self, max_events: int, max_bytes: int) -> None:
        self._events: dict[str, tuple[ClientEvent | UnknownEvent, int]] = {}
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._size = 0

    def add(self, event_id: str, event: ClientEvent | UnknownEvent, size: int) -> None:
        old = self._events.pop(event_id, None)
        if old is not None:
            self._size -= old[1]
        self._events[event_id] = (event, size)
        self._size += size
        while self._events and (
            len(self._events) > self._max_events or self._size > self._max_bytes
        ):
            # Dicts keep insertion order: the first key is the oldest.
            self._size -= self._events.pop(next(iter(self._events)))[1]

    def get(self, event_id: str) -> ClientEvent | UnknownEvent | None:
        entry = self._events.get(event_id)
        return None if entry is None else entry[0]


class NoPublicConstructor(type):
    """Metaclass: ``Class(...)`` raises; the library builds instances with ``Class._create``."""

    def __call__(cls, *args: object, **kwargs: object) -> Any:
        raise TypeError(
            f"{cls.__qualname__} has no public constructor; use trio_realtime.connect()"
        )

    def _create(cls: type[_T], *args: object, **kwargs: object) -> _T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]


def base64_payload_bytes(text: str) -> int:
    """Bytes encoded by base64 ``text`` (without decoding it)."""
    return len(text) * 3 // 4 - text.count("=", len(text) - 2)


@final
class SchedulePoints:
    """Which sends and receives that need no waiting also yield to other tasks.

    A send whose frame the socket takes at once, or a receive of an event already buffered,
    is always a cancel point (a cancelled caller raises ``Cancelled`` before anything
    happens) but a schedule point only every ``every``-th time, counted over every session
    of the process. Yielding each time is a trip through trio's scheduler, about as costly
    as the send itself; yielding never would let a loop that sends or reads as fast as it
    can starve every other task (the socket of a fast peer may never fill). So a paced
    sender yields in its own sleeps, and a busy loop still lets others run at least every
    ``every`` calls.

    Args:
        every: Calls per schedule point.
    """

    __slots__ = ("_every", "_left")

    def __init__(self, every: int) -> None:
        self._every = self._left = every

    def due(self) -> bool:
        """Count one call; True when it should also be a schedule point."""
        left = self._left - 1
        if left:
            self._left = left
            return False
        self._left = self._every
        return True


#: The process's schedule points of sends and receives that need no waiting.
SCHEDULE: Final = SchedulePoints(16)
