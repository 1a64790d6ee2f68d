"""When the library's ``response.create`` requests may go out: one at a time, in order.

The server runs one default-conversation response at a time and *refuses* (does not queue)
a ``response.create`` that arrives while one runs (server-behaviour.md 5.9). Applications,
tool follow-ups and server VAD all start responses, so a client that sends as soon as it is
asked collides (client-pitfalls: "already has an active response" races).

:class:`TurnQueue` is the decision, with no I/O: the session tells it what it was asked for
and what the server said, and asks it which request, if any, to send now. It never lets a
request out while, as far as the client knows, the conversation is busy:

* a default-conversation response runs (``response.created`` seen, its ``response.done``
  not yet): the application's, a tool follow-up, one VAD started, or one sent raw;
* a request of ours is in flight (sent; neither its ``response.created`` nor an ``error``
  naming it has come back);
* tool calls are running whose follow-up must be the next response (a *hold*).

A race it cannot see (VAD starts a response while our request is on the wire) ends in a
``conversation_already_has_active_response`` error naming our request; the request goes
back to the front of the queue and is sent again once the conversation is free, up to
``max_attempts`` times. Out-of-band responses (``conversation: "none"``) are outside the
rule and never enter the queue.

Requests are opaque string tags; the session maps them to their configuration.
"""

from __future__ import annotations

from typing import final

__all__ = ["QueueFull", "TurnQueue"]


class QueueFull(Exception):
    """The queue holds ``max_waiting`` requests already (the session waits for room)."""


@final
class TurnQueue:
    """The order and timing of default-conversation ``response.create`` requests.

    Feed it with :meth:`submit`, :meth:`created`, :meth:`done`, :meth:`refused`,
    :meth:`abandon`, :meth:`hold` and :meth:`release`; after each, call :meth:`take_ready`
    and send what it returns. Every method is O(1) except :meth:`withdraw`.

    Args:
        max_waiting: How many requests :meth:`submit` accepts before it raises
            :class:`QueueFull` (follow-ups and retries are not counted against it).
        max_attempts: How many times one request is sent in all, when the server keeps
            refusing it because another response is running.

    Raises:
        ValueError: A bound below 1.
    """

    __slots__ = (
        "_active",
        "_attempts",
        "_holds",
        "_in_flight",
        "_max_attempts",
        "_max_waiting",
        "_waiting",
    )

    def __init__(self, *, max_waiting: int = 32, max_attempts: int = 3) -> None:
        if max_waiting < 1 or max_attempts < 1:
            raise ValueError("max_waiting and max_attempts must be at least 1")
        self._max_waiting = max_waiting
        self._max_attempts = max_attempts
        self._waiting: list[str] = []  # short (max_waiting); a deque costs 600 bytes empty
        self._attempts: dict[str, int] = {}  # tags waiting or in flight -> times sent so far
        self._in_flight: str | None = None
        # Ids of responses running, as dict keys (usually none or one; an empty set is 216 B).
        self._active: dict[str, None] = {}
        self._holds = 0

    def __repr__(self) -> str:
        return (
            f"<TurnQueue {len(self._waiting)} waiting, in flight {self._in_flight!r}, "
            f"active {sorted(self._active)}, {self._holds} holds>"
        )

    # --- what the session is asked -----------------------------------------------------------

    def submit(self, tag: str) -> None:
        """Queue a request at the back.

        Raises:
            QueueFull: ``max_waiting`` requests are already waiting.
            ValueError: ``tag`` is already queued or in flight.
        """
        if len(self._waiting) >= self._max_waiting:
            raise QueueFull(f"{self._max_waiting} responses are already queued")
        self._add(tag)
        self._waiting.append(tag)

    def submit_first(self, tag: str) -> None:
        """Queue a request at the front (a tool follow-up: it belongs to the turn that ran).

        Raises:
            ValueError: ``tag`` is already queued or in flight.
        """
        self._add(tag)
        self._waiting.insert(0, tag)

    def _add(self, tag: str) -> None:
        if tag in self._attempts:
            raise ValueError(f"request {tag!r} is already queued")
        self._attempts[tag] = 0

    def withdraw(self, tag: str) -> bool:
        """Remove a request that has not been sent; False if it is not waiting."""
        try:
            self._waiting.remove(tag)
        except ValueError:
            return False
        del self._attempts[tag]
        return True

    def hold(self) -> None:
        """Keep every request waiting until a matching :meth:`release` (tool calls run)."""
        self._holds += 1

    def release(self) -> None:
        """End one :meth:`hold` (queue the follow-up with :meth:`submit_first` first).

        Raises:
            RuntimeError: Nothing is held.
        """
        if self._holds == 0:
            raise RuntimeError("release() without hold()")
        self._holds -= 1

    # --- what the server says ----------------------------------------------------------------

    def created(self, response_id: str, tag: str | None) -> None:
        """A default-conversation ``response.created``: ours (``tag``) or anyone's (``None``)."""
        if tag is not None and tag == self._in_flight:
            self._in_flight = None
            del self._attempts[tag]
        self._active[response_id] = None

    def done(self, response_id: str) -> None:
        """A ``response.done`` (unknown or out-of-band ids are ignored)."""
        self._active.pop(response_id, None)

    def refused(self, tag: str, *, retry: bool) -> bool:
        """The server answered our request ``tag`` with an ``error``.

        Args:
            tag: The request the error names.
            retry: Whether the refusal was only a collision with a running response
                (``conversation_already_has_active_response``): the request is queued again
                at the front, unless it has been sent ``max_attempts`` times.

        Returns:
            True if the request was queued again; False if it is given up (the caller fails
            it) or was not in flight.
        """
        if tag != self._in_flight:
            return False
        self._in_flight = None
        if retry and self._attempts[tag] < self._max_attempts:
            self._waiting.insert(0, tag)
            return True
        del self._attempts[tag]
        return False

    def abandon(self, tag: str) -> None:
        """A request that :meth:`take_ready` handed out could not be sent (cancelled,
        session closed): forget it, so the queue does not wait for an answer forever."""
        if tag == self._in_flight:
            self._in_flight = None
            del self._attempts[tag]
        else:
            self.withdraw(tag)

    # --- what to send ------------------------------------------------------------------------

    def take_ready(self) -> str | None:
        """The request to send now (marked in flight), or ``None`` while busy or empty."""
        if self._in_flight is not None or self._active or self._holds or not self._waiting:
            return None
        tag = self._waiting.pop(0)
        self._attempts[tag] += 1
        self._in_flight = tag
        return tag

    # --- reading -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a request submitted now would wait (a response runs, one is in flight, or
        tools hold the queue)."""
        return self._in_flight is not None or bool(self._active) or self._holds > 0

    @property
    def full(self) -> bool:
        """Whether :meth:`submit` would raise :class:`QueueFull`."""
        return len(self._waiting) >= self._max_waiting

    @property
    def waiting(self) -> tuple[str, ...]:
        """The requests not yet sent, in the order they will go."""
        return tuple(self._waiting)

    @property
    def in_flight(self) -> str | None:
        """The request sent and not yet answered, if any."""
        return self._in_flight

    @property
    def active(self) -> frozenset[str]:
        """The default-conversation responses running, as far as the client has seen."""
        return frozenset(self._active)

    @property
    def holds(self) -> int:
        """How many :meth:`hold` calls are not yet released."""
        return self._holds
