"""Pacing many trio tasks on absolute schedules from one timer task.

``trio.sleep_until`` opens a cancel scope for every call and ends the sleep by delivering
``Cancelled`` into the task (an exception, a traceback, a scope unwound). At the standard
workload's 10 appends per second per session that was about a tenth of a trio worker's CPU
in a profile at 300 sessions, paid by the harness rather than by the client under test (the
asyncio peer's ``asyncio.sleep`` is a heap entry and a future). Here a waiting task parks
with :func:`trio.lowlevel.wait_task_rescheduled`; one timer task sleeps until the earliest
due time, rounded up to the next millisecond, and reschedules every task due by then. Never
early, at most one millisecond late (which the report's send lateness includes), and one
``Cancelled`` per millisecond at most instead of one per append.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Final, final

import trio

__all__ = ["Metronome"]

#: Wake-ups are rounded up to this grid, so tasks due close together wake together.
_GRID: Final = 0.001


@final
class _Waiter:
    __slots__ = ("order", "task", "when")

    def __init__(self, when: float, order: int, task: trio.lowlevel.Task) -> None:
        self.when = when
        self.order = order
        self.task: trio.lowlevel.Task | None = task  # None once cancelled: the timer skips it

    def __lt__(self, other: _Waiter) -> bool:
        return (self.when, self.order) < (other.when, other.order)


def _on_grid(when: float) -> float:
    return math.ceil(when / _GRID) * _GRID


@final
class Metronome:
    """Wakes tasks at absolute times (``trio.current_time()`` clock); run :meth:`run` in a
    nursery that outlives every :meth:`sleep_until`."""

    def __init__(self) -> None:
        self._heap: list[_Waiter] = []
        self._order = itertools.count()
        self._timer: trio.CancelScope | None = None

    async def sleep_until(self, when: float) -> None:
        """Sleep until ``when`` (at most a millisecond after it); a checkpoint either way."""
        if when <= trio.current_time():
            await trio.lowlevel.checkpoint()
            return
        waiter = _Waiter(when, next(self._order), trio.lowlevel.current_task())
        heapq.heappush(self._heap, waiter)
        timer = self._timer
        if timer is not None and when < timer.deadline:
            timer.deadline = _on_grid(when)

        def abort(_: object) -> trio.lowlevel.Abort:
            waiter.task = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    async def run(self) -> None:
        """The timer task: wake whoever is due, sleep until the next one, forever."""
        heap = self._heap
        while True:
            now = trio.current_time()
            while heap and heap[0].when <= now:
                task = heapq.heappop(heap).task
                if task is not None:
                    trio.lowlevel.reschedule(task)
            with trio.move_on_at(_on_grid(heap[0].when) if heap else math.inf) as timer:
                self._timer = timer
                await trio.sleep_forever()
            self._timer = None
