"""The session's small parts: options, how it ended, outgoing events, the sent-event log."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, final

import attrs
import trio

from .._core._audio_format import AudioFormat
from .._core._codec import encode
from .._core._events import ClientEvent, ErrorDetails, UnknownEvent
from .._core._events._client import InputAudioBufferAppend
from .._core._tools import FunctionTool
from .._core._unset import UNSET
from .._wire._connection import close_error
from ._pump import MAX_APPEND_EVENT_CHARS

__all__ = [
    "Ending",
    "NoPublicConstructor",
    "Outgoing",
    "SentLog",
    "SessionOptions",
    "base64_payload_bytes",
    "ending_for_close",
    "local_close",
    "prepare_outgoing",
]

_T = TypeVar("_T")

#: One outbound item: the event, its encoded text frame, and the milliseconds of audio it
#: carries.
Outgoing: TypeAlias = tuple[ClientEvent | UnknownEvent, str, float]


@attrs.frozen(kw_only=True)
class SessionOptions:
    """The session's sizes and timeouts (the arguments of :func:`trio_realtime.connect`)."""

    outbound_queue_size: int = 64
    inbound_queue_size: int = 64
    close_timeout: float = 5.0
    keepalive: float | None = 20.0
    sent_log_events: int = 1024
    sent_log_bytes: int = 1024 * 1024
    track_conversation: bool = True
    keep_audio_seconds: float | None = None
    tools: tuple[FunctionTool, ...] = ()
    tool_timeout: float = 30.0
    #: ``None``: on when the conversation is tracked (barge-in needs it).
    handle_interruptions: bool | None = None
    max_queued_responses: int = 32

    def __attrs_post_init__(self) -> None:
        for name in (
            "outbound_queue_size",
            "inbound_queue_size",
            "sent_log_events",
            "sent_log_bytes",
            "max_queued_responses",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not self.close_timeout > 0:
            raise ValueError(f"close_timeout must be positive, got {self.close_timeout!r}")
        if self.keepalive is not None and not self.keepalive > 0:
            raise ValueError(f"keepalive must be positive or None, got {self.keepalive!r}")
        if not (math.isfinite(self.tool_timeout) and self.tool_timeout > 0):
            raise ValueError(f"tool_timeout must be positive, got {self.tool_timeout!r}")
        if self.handle_interruptions and not self.track_conversation:
            raise ValueError(
                "handle_interruptions=True needs track_conversation=True (barge-in truncates "
                "at the audio the conversation received)"
            )


@final
class Ending:
    """How a session ended: whether iteration just stops, and the error operations raise.

    Attributes:
        ends_iteration: A normal ending: ``async for`` stops after the buffered events.
        reported: Whether :meth:`error` has handed the application an exception yet.
    """

    __slots__ = ("_make_error", "ends_iteration", "reported")

    def __init__(self, ends_iteration: bool, make_error: Callable[[], Exception]) -> None:
        self.ends_iteration = ends_iteration
        self._make_error = make_error
        self.reported = False

    def error(self) -> Exception:
        """A fresh exception for an operation that cannot succeed now (never re-raise one)."""
        self.reported = True
        return self._make_error()


def ending_for_close(
    code: int, reason: str | None, error: ErrorDetails | None, api_key: str
) -> Ending:
    """How a close by the peer ends the session: 1000 ends iteration, anything else fails it.

    Either way, operations that can no longer succeed raise :func:`close_error`'s exception.
    """
    return Ending(code == 1000, functools.partial(close_error, code, reason, error, api_key))


def local_close() -> Ending:
    """The ending of a session this side closed."""
    return Ending(True, lambda: trio.ClosedResourceError("the session is closed"))


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


def prepare_outgoing(
    event: ClientEvent | UnknownEvent, new_id: Callable[[], str], fmt: AudioFormat
) -> tuple[ClientEvent | UnknownEvent, str, float]:
    """An event ready for the outbound channel: with an ``event_id``, encoded, and the
    milliseconds of ``fmt`` audio it carries (0.0 for anything but an append).

    Raises:
        TypeError: Not a client event, or not encodable.
        ValueError: An append over the 15 MiB limit.
    """
    if isinstance(event, ClientEvent):
        if event.event_id is UNSET:
            event = attrs.evolve(event, event_id=new_id())
    elif isinstance(event, UnknownEvent):
        if "event_id" not in event.raw:
            event = UnknownEvent(raw={**event.raw, "event_id": new_id()})
    else:
        raise TypeError(f"send() takes a client event, not {type(event).__name__}")
    text = encode(event)
    if type(event) is not InputAudioBufferAppend:
        return event, text, 0.0
    if len(text) > MAX_APPEND_EVENT_CHARS:
        raise ValueError(
            f"an input_audio_buffer.append of {len(text)} characters exceeds the 15 MiB "
            "limit; append_audio() splits audio into appends that fit"
        )
    return event, text, base64_payload_bytes(event.audio) / fmt.bytes_per_ms
