"""How far a session is: open, closing, or ended, and how it ended (first cause wins).

:class:`Lifecycle` is the one place that knows. Parts ask it before acting
(:meth:`Lifecycle.raise_if_closed`) and tell it when the connection ends
(:meth:`Lifecycle.connection_closed`, :meth:`Lifecycle.end`); it records the first ending
and tells its one listener (the session's parts, which tell each part).

A normal close (1000 from the server, or our own) ends iteration after the buffered events;
any other ending makes every operation raise its exception. The ``error`` event a server
sends right before closing explains the close (server-behaviour.md 1.5), so the lifecycle
also keeps the last server error: it goes into the :class:`ConnectionClosed`, and into the
message of every timeout the session raises.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Protocol, final

import attrs
import trio

from .._core._events import ErrorDetails, ErrorEvent
from .._wire._connection import close_error, redact
from .._wire._errors import ConnectionClosed
from .._wire._flag import Flag
from .._wire._websocket import CloseInfo

__all__ = ["Ending", "Lifecycle", "ending_for_close", "local_close", "peer_gone"]

logger = logging.getLogger("trio_realtime")


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


def peer_gone(message: str) -> Ending:
    """The ending of a session whose peer the keepalive judged gone (1006)."""
    return Ending(False, functools.partial(ConnectionClosed, 1006, None, message=message))


class EndListener(Protocol):
    """Whoever the lifecycle tells that the session ended."""

    def session_ended(self, ending: Ending) -> None:
        """The session ended so (called once)."""


class LossListener(Protocol):
    """Whoever may carry the session on over a new connection (a resume policy)."""

    def lost(self, ws: object, code: int, reason: str | None, error: ErrorDetails | None) -> bool:
        """The connection ``ws`` ended so; True if the session carries on without it (or
        ``ws`` is not the session's connection any more), False to end the session."""
        ...


@final
class Lifecycle:
    """Open, closing or ended; the ending; the last server error.

    Args:
        url: The session's URL, for log lines.
        api_key: The key, to scrub it from anything the server says.
        listener: Told once, with the ending, when the session ends.

    Attributes:
        ending: How the session ended, or ``None`` while it has not.
        closing: Whether the application has started closing it.
        closed: Set once that close is over.
        last_error: The last ``error`` event the server sent (the key scrubbed).
        events_received: Frames received so far (the receiver counts them).
    """

    __slots__ = (
        "_api_key",
        "_last_error_at",
        "_listener",
        "_url",
        "closed",
        "closing",
        "ending",
        "events_received",
        "last_error",
        "resumer",
    )

    def __init__(self, url: str, api_key: str, listener: EndListener) -> None:
        self._url = url
        self._api_key = api_key
        self._listener = listener
        self.ending: Ending | None = None
        self.closing = False
        self.closed = Flag()  # set once the application's close is over
        self.last_error: ErrorEvent | None = None
        self._last_error_at = -1
        self.events_received = 0
        #: Consulted before a lost connection ends the session (``connect(resume=...)``).
        self.resumer: LossListener | None = None

    @property
    def open(self) -> bool:
        """Whether the session can still send (not ended, not closing)."""
        return self.ending is None and not self.closing

    def raise_if_closed(self) -> None:
        """Raise the error for an operation the ended or closing session cannot do."""
        if self.ending is not None:
            raise self.ending.error()
        if self.closing:
            raise trio.ClosedResourceError("the session is closing")

    def end(self, ending: Ending) -> bool:
        """Record ``ending`` unless the session has ended already; True if it was first."""
        if self.ending is not None:
            return False
        self.ending = ending
        self._listener.session_ended(ending)
        return True

    def server_error(self, event: ErrorEvent) -> ErrorEvent:
        """Remember a server ``error`` (the last frame received); return it with the key
        scrubbed from its message."""
        details = event.error
        if self._api_key and self._api_key in details.message:
            redacted = attrs.evolve(details, message=redact(details.message, self._api_key))
            event = attrs.evolve(event, error=redacted)
        self.last_error, self._last_error_at = event, self.events_received
        return event

    def last_error_note(self) -> str:
        """``"; last server error: CODE: MESSAGE"``, or ``""`` when there was none."""
        event = self.last_error
        if event is None:
            return ""
        details = event.error
        code = details.code if isinstance(details.code, str) else details.type
        return f"; last server error: {code}: {details.message}"

    def connection_closed(self, closed: CloseInfo | None, ws: object = None) -> None:
        """The WebSocket ``ws`` ended (the receiver or the sender found it so): end the
        session, unless the resumer carries it on over a new connection."""
        if self.ending is not None:
            return
        if self.closing:
            self.end(local_close())
            return
        code, reason = (1006, None) if closed is None else (closed.code, closed.reason)
        # The error event sent right before the close explains it.
        last = self.last_error
        error = (
            last.error if last is not None and self._last_error_at == self.events_received else None
        )
        resumer = self.resumer
        if resumer is not None and resumer.lost(ws, code, reason, error):
            return
        logger.debug(
            "%s: closed by the peer: %d %s", self._url, code, redact(reason or "", self._api_key)
        )
        self.end(ending_for_close(code, reason, error, self._api_key))
