"""One connection's queue of deferred engine work, between the state machine and its shell.

The state machine (sans-I/O) :meth:`~EngineWork.submit`\\ s each :class:`~._engine_api.Deferred`
an engine hands it, with what to do with the result. The shell's engine-work task
(:func:`~._engine_worker.run_engine_work`) takes them in order with :meth:`~EngineWork.next`,
awaits each, and reports the outcome with :meth:`~EngineWork.finish`; the state machine
applies outcomes on its own clock with :meth:`~EngineWork.apply` (from
:meth:`ConnectionState.advance` and every other call), so the events they cause go out in the
order the state machine makes them.

**Bounds.** One deferred runs at a time per connection, and the next one is not handed out
while an outcome waits to be applied: per connection there is at most one result in memory,
and a deferred always sees the effects of the ones before it. What piles up while a slow
engine works is the queue of deferreds (one per response or turn) and whatever audio the
engine buffers; :attr:`EngineWork.saturated` tells the shell to stop reading the client
until the engine catches up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final, final

from .._core._events import ServerEvent
from ._engine_api import Deferred

__all__ = ["Done", "EngineWork", "Outcome", "Task"]

#: Queued deferreds beyond which the shell stops reading the client (see ``saturated``).
SATURATED_TASKS: Final = 64

#: What a deferred produced: ``(True, result)`` or ``(False, exception)``.
Outcome = tuple[bool, Any]
#: What to do with an outcome, on the state machine's clock: the events it causes.
Done = Callable[[Outcome, float], list[ServerEvent]]


@final
class Task:
    """One submitted deferred and what its outcome does.

    Attributes:
        deferred: The work.
        done: Applies the outcome (``None``: the outcome is dropped; the deferred ran for
            its side effects).
        skip: Asked just before the work starts: ``True`` skips it (the response it would
            plan was cancelled meanwhile); ``done`` is then not called either.
    """

    __slots__ = ("deferred", "done", "skip")

    def __init__(
        self, deferred: Deferred[Any], done: Done | None, skip: Callable[[], bool] | None
    ) -> None:
        self.deferred = deferred
        self.done = done
        self.skip = skip


@final
class EngineWork:
    """The deferreds of one connection, in order, and the outcomes waiting to be applied.

    Args:
        backlog: Reports how far behind the engine is, in milliseconds of audio it holds
            unheard (``None``: the engine buffers nothing).
        backlog_limit_ms: Above this backlog the connection counts as :attr:`saturated`.
        close: Called once by :meth:`close`, when the connection's work has stopped.
    """

    __slots__ = (
        "_backlog",
        "_backlog_limit_ms",
        "_close",
        "_outcome",
        "_queue",
        "_running",
        "wake",
    )

    def __init__(
        self,
        backlog: Callable[[], float] | None = None,
        backlog_limit_ms: float = 30_000.0,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._queue: deque[Task] = deque()
        self._running: Task | None = None
        self._outcome: tuple[Task, Outcome] | None = None
        self._backlog = backlog
        self._backlog_limit_ms = backlog_limit_ms
        self._close = close
        #: Called (by the shell's worker, set by the shell) whenever there is something new
        #: to run or to apply; a no-op until a shell attaches.
        self.wake: Callable[[], None] = _nothing

    # -- the state machine's side ---------------------------------------------------------------

    def submit(
        self,
        deferred: Deferred[Any] | None,
        done: Done | None = None,
        *,
        skip: Callable[[], bool] | None = None,
    ) -> None:
        """Queue ``deferred`` (``None`` is ignored, so listener results can be passed as-is)."""
        if deferred is None:
            return
        self._queue.append(Task(deferred, done, skip))
        self.wake()

    @property
    def outcome_ready(self) -> bool:
        """Whether an outcome waits for :meth:`apply`."""
        return self._outcome is not None

    def apply(self, now: float) -> list[ServerEvent]:
        """Apply the waiting outcome, if any; return the events it causes."""
        if self._outcome is None:
            return []
        task, outcome = self._outcome
        self._outcome = None
        self.wake()  # the worker may go on
        assert task.done is not None
        return task.done(outcome, now)

    @property
    def pending(self) -> int:
        """Deferreds queued or running."""
        return len(self._queue) + (self._running is not None)

    @property
    def saturated(self) -> bool:
        """Whether the engine is so far behind that the shell should stop reading input.

        Only while some deferred is queued or running, whose progress ends the pause.
        """
        if not self.pending:
            return False
        if len(self._queue) > SATURATED_TASKS:
            return True
        return self._backlog is not None and self._backlog() > self._backlog_limit_ms

    # -- the shell's side ---------------------------------------------------------------------

    def next(self) -> Task | None:
        """The next deferred to run, or ``None`` while there is none or an outcome waits."""
        if self._outcome is not None or self._running is not None:
            return None
        while self._queue:
            task = self._queue.popleft()
            if task.skip is None or not task.skip():
                self._running = task
                return task
        return None

    def close(self) -> None:
        """The connection's work has stopped for good (the shell's worker ended): drop what is
        queued and let the engine release what it holds."""
        self._queue.clear()
        self._running = None
        self._outcome = None
        close, self._close = self._close, None
        if close is not None:
            close()

    def finish(self, task: Task, outcome: Outcome) -> None:
        """Record the outcome of the running deferred (it waits for :meth:`apply`)."""
        assert task is self._running
        self._running = None
        if task.done is not None:
            self._outcome = (task, outcome)


def _nothing() -> None:
    return None
