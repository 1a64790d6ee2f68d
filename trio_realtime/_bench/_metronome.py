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


def _on_grid(when: float) -> float:
    return math.ceil(when / _GRID) * _GRID


@final
class Metronome:
    """Wakes tasks at absolute times (``trio.current_time()`` clock); run :meth:`run` in a
    nursery that outlives every :meth:`sleep_until`."""

    def __init__(self) -> None:
        # The heap holds (due, order) pairs of numbers, which the garbage collector stops
        # tracking: a sleeper lives 100 ms, long enough to be promoted to the oldest
        # generation, and thousands of tracked ones a second made full collections frequent.
        self._heap: list[tuple[float, int]] = []
        self._sleepers: dict[int, trio.lowlevel.Task] = {}
        self._order = itertools.count()
        self._timer: trio.CancelScope | None = None

    async def sleep_until(self, when: float) -> None:
        """Sleep until ``when`` (at most a millisecond after it); a checkpoint either way."""
        if when <= trio.current_time():
            await trio.lowlevel.checkpoint()
            return
        order = next(self._order)
        self._sleepers[order] = trio.lowlevel.current_task()
        heapq.heappush(self._heap, (when, order))
        timer = self._timer
        if timer is not None and when < timer.deadline:
            timer.deadline = _on_grid(when)
        sleepers = self._sleepers

        def abort(_: object) -> trio.lowlevel.Abort:
            del sleepers[order]  # the timer skips its heap entry
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    async def run(self) -> None:
        """The timer task: wake whoever is due, sleep until the next one, forever."""
        heap, sleepers = self._heap, self._sleepers
        while True:
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                task = sleepers.pop(heapq.heappop(heap)[1], None)
                if task is not None:
                    trio.lowlevel.reschedule(task)
            with trio.move_on_at(_on_grid(heap[0][0]) if heap else math.inf) as timer:
                self._timer = timer
                await trio.sleep_forever()
            self._timer = None
