"""Waiting for one kind of event without taking it from anyone else.

The receiver hands every event to the registered waiters *and* to the inbound channel. A
waiter is one-shot: it keeps the first event that matches and leaves the registry, so it needs
exactly one slot and can never fill up, block the receiver or lose an event. Any number of
waiters can match the same event; each gets it, and the inbound channel still gets it too.

The receiver's cost when nobody waits is one truth test of a list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, final, overload

import trio

from ._types import ReceivedEvent

__all__ = ["EventMatch", "WaitMethods", "Waiter", "Waiters", "compile_match"]

_E = TypeVar("_E")

#: What ``wait_for`` accepts: a wire ``type`` string, an event class, a tuple of either
#: (any may match), or a predicate called with each received event.
EventMatch: TypeAlias = str | type | tuple[str | type, ...] | Callable[[ReceivedEvent], bool]


def compile_match(match: EventMatch) -> Callable[[ReceivedEvent], bool]:
    """Turn an :data:`EventMatch` into a predicate.

    Raises:
        TypeError: ``match`` is none of the accepted forms.
    """
    if isinstance(match, str):
        return lambda event: event.type == match
    if isinstance(match, type):
        return lambda event: isinstance(event, match)
    if isinstance(match, tuple):
        names = frozenset(m for m in match if isinstance(m, str))
        classes = tuple(m for m in match if isinstance(m, type))
        if len(names) + len(classes) != len(match) or not match:
            raise TypeError("a tuple to match must hold only event type strings and event classes")
        return lambda event: event.type in names or isinstance(event, classes)
    if callable(match):
        return match
    raise TypeError(
        f"match must be an event type string, an event class, a tuple of those, or a "
        f"predicate; got {type(match).__name__}"
    )


@final
class Waiter:
    """One pending ``wait_for``: a predicate and the single slot it fills."""

    __slots__ = ("done", "error", "event", "matches")

    def __init__(self, matches: Callable[[ReceivedEvent], bool]) -> None:
        self.matches = matches
        self.done = trio.Event()
        self.event: ReceivedEvent | None = None
        self.error: BaseException | None = None


@final
class Waiters:
    """The registry the receiver dispatches to.

    Attributes:
        pending: The waiters not yet satisfied, oldest first. The receiver tests this list
            for truth before calling :meth:`dispatch`.
    """

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: list[Waiter] = []

    def add(self, matches: Callable[[ReceivedEvent], bool]) -> Waiter:
        """Register a waiter; it sees events dispatched from now on."""
        waiter = Waiter(matches)
        self.pending.append(waiter)
        return waiter

    def discard(self, waiter: Waiter) -> None:
        """Forget ``waiter`` (it timed out or was cancelled); no error if already gone."""
        try:
            self.pending.remove(waiter)
        except ValueError:
            pass

    def dispatch(self, event: ReceivedEvent) -> None:
        """Give ``event`` to every waiter it matches.

        A predicate that raises does not hurt the receiver: its exception is handed to that
        waiter, which raises it in the task that called ``wait_for``.
        """
        for waiter in tuple(self.pending):
            try:
                hit = waiter.matches(event)
            except Exception as exc:
                waiter.error = exc
                hit = True
            if hit:
                waiter.event = event
                self.pending.remove(waiter)
                waiter.done.set()

    def fail_all(self, make_error: Callable[[], BaseException]) -> None:
        """Wake every waiter with a fresh exception from ``make_error`` (the session ended)."""
        pending = self.pending[:]
        self.pending.clear()  # in place: the receiver holds this list
        for waiter in pending:
            waiter.error = make_error()
            waiter.done.set()


class WaitMethods:
    """:meth:`wait_for` for :class:`~trio_realtime.RealtimeSession`, which provides the state."""

    __slots__ = ()

    _waiters: Waiters

    def _raise_closed(self) -> None:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    # A timeout argument (ASYNC109) because the issue asks for one, and because it can do what
    # an enclosing fail_after cannot: return an event that matched just as time ran out.
    @overload
    async def wait_for(  # type: ignore[overload-overlap]
        self,
        match: type[_E],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> _E: ...
    @overload
    async def wait_for(
        self,
        match: EventMatch,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ReceivedEvent: ...

    async def wait_for(
        self,
        match: EventMatch,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        """Wait for the next received event that matches, without taking it from anyone.

        Semantics, precisely:

        * The waiter is registered when the call starts, before it first yields; it sees
          events the receiver handles from then on, never earlier ones (even if they are
          still buffered unread). Calling it right after the ``send`` that provokes the reply
          is safe: the reply cannot be received within the same scheduling step.
        * It returns the first matching event. The event is *also* delivered to the inbound
          channel as usual (``receive`` / ``async for``): waiting never consumes, steals,
          reorders or drops events, and any number of concurrent waiters may match the same
          event, each getting it.
        * Each waiter holds one slot, filled once, so waiters never block the receiver. The
          inbound channel still does: if nothing reads the session and the channel fills up,
          the receiver stops (that is the backpressure) and the wait can end only by its
          timeout. Keep a reader running, or read events yourself until the one you want.

        Args:
            match: A wire type (``"session.updated"``), an event class
                (:class:`~trio_realtime.SessionUpdated`), a tuple of those (any matches), or a
                predicate called with each event (an exception it raises is raised here).
            timeout: Seconds to wait; ``None`` waits as long as the session lives.

        Returns:
            The matching event (typed as the class when ``match`` is a class).

        Raises:
            trio.TooSlowError: ``timeout`` passed first.
            ConnectionClosed: The connection ended first (after a normal close too, since the
                event can no longer come).
            trio.ClosedResourceError: The session was closed by this side.
        """
        self._raise_closed()
        waiter = self._waiters.add(compile_match(match))
        try:
            with trio.fail_after(float("inf") if timeout is None else timeout):
                await waiter.done.wait()
        except trio.TooSlowError:
            if waiter.event is None and waiter.error is None:
                raise
        finally:
            self._waiters.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.event
