"""Waiting for one kind of event without taking it from anyone else (``wait_for``).

The receiver hands every event to the registered waiters *and* to the session's stream. A
waiter is one-shot: it keeps the first event that matches and leaves the registry, so it needs
exactly one slot and can never fill up, block the receiver or lose an event. Any number of
waiters can match the same event; each gets it, and the stream still gets it too. While a
task waits, it is counted in the wait gauge, so the stream does not hold the receiver.

The receiver's cost when nobody waits is one truth test of a list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeAlias, final

import trio

from ._requests import WaitGauge
from ._types import ReceivedEvent

__all__ = ["EventMatch", "Waiter", "Waiters", "compile_match", "describe_match"]

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


def describe_match(match: EventMatch) -> str:
    """``match`` in words, for timeout messages."""
    if isinstance(match, str):
        return match
    if isinstance(match, type):
        return str(getattr(match, "type", match.__name__))
    if isinstance(match, tuple):
        return " or ".join(describe_match(m) for m in match)
    name = getattr(match, "__name__", "")
    return f"an event matching {name}" if name and name != "<lambda>" else "a matching event"


class State(Protocol):
    """What :class:`Waiters` needs of the session's lifecycle."""

    def raise_if_closed(self) -> None:
        """Raise if the session can no longer receive."""

    def last_error_note(self) -> str:
        """``"; last server error: ..."`` or ``""``."""
        ...


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
    """The registry the receiver dispatches to, and ``wait_for`` itself.

    Args:
        gauge: Told while a task waits.
        state: The session's lifecycle.

    Attributes:
        pending: The waiters not yet satisfied, oldest first. The receiver tests this list
            for truth before calling :meth:`dispatch`.
    """

    __slots__ = ("_gauge", "_state", "pending")

    def __init__(self, gauge: WaitGauge, state: State) -> None:
        self._gauge = gauge
        self._state = state
        self.pending: list[Waiter] = []

    # A timeout argument (ASYNC109): it can return an event that matched as time ran out,
    # and its message says what was awaited.
    async def wait_for(
        self,
        match: EventMatch,
        timeout: float | None,  # noqa: ASYNC109
    ) -> ReceivedEvent:
        """Wait for the next event that matches (``RealtimeSession.wait_for``).

        Raises:
            trio.TooSlowError: ``timeout`` passed first (the message says what was awaited
                and the last server error).
        """
        self._state.raise_if_closed()
        waiter = self.add(compile_match(match))
        self._gauge.enter()
        try:
            with trio.move_on_after(float("inf") if timeout is None else timeout):
                await waiter.done.wait()
        finally:
            self._gauge.exit()
            self.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        if waiter.event is None:
            raise trio.TooSlowError(
                f"no {describe_match(match)} within {timeout:g} s{self._state.last_error_note()}"
            )
        return waiter.event

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
