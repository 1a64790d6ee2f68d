"""Small shared pieces: the private-constructor metaclass, the sent-event log, base64 sizes."""

from __future__ import annotations

from typing import Any, TypeVar, final

from .._core._events import ClientEvent, UnknownEvent

__all__ = ["NoPublicConstructor", "SentLog", "base64_payload_bytes"]

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
