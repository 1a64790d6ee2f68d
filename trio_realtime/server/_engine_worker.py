"""The shell's side of deferred engine work: one task per connection that awaits each deferred.

:class:`EngineWorker` is attached to a connection's :class:`~._engine_work.EngineWork` by the
connection shell (:mod:`._connection`). Its task starts only when the first deferred is
submitted, so connections served by a plain engine never pay for it. It runs the deferreds
one at a time, in order, in the connection's nursery (so they end with the connection), and
wakes the shell's timer task when an outcome is ready to apply: the timer owns the state
machine, and only it turns outcomes into events.
"""

from __future__ import annotations

import logging
from typing import final

import trio

from ._engine_work import EngineWork, Outcome

__all__ = ["EngineWorker"]

_log = logging.getLogger("trio_realtime.server")


@final
class EngineWorker:
    """Runs one connection's deferred engine work; wakes its timer.

    Args:
        work: The connection's queue (its ``wake`` hook is taken over).
        nursery: The connection's session nursery; the worker task starts there on demand.
        label: What to call the connection in logs.
    """

    # Every connection has one, most never use it: slots and no event until the task starts.
    __slots__ = ("_label", "_nursery", "_paused", "_ready", "_wait", "_work")

    def __init__(self, work: EngineWork, nursery: trio.Nursery, label: str) -> None:
        self._work = work
        self._nursery = nursery
        self._label = label
        self._ready: trio.Event | None = None  # set when there is something to do
        #: The timer's current wait for input, while it waits (see :meth:`interruptible`).
        self._wait: trio.CancelScope | None = None
        self._paused = False  # the timer stopped reading input: the engine is saturated
        work.wake = self._wake

    def _wake(self) -> None:
        if self._ready is None:
            self._ready = trio.Event()
            self._nursery.start_soon(self._run)
        self._ready.set()

    def interruptible(self, scope: trio.CancelScope | None, *, paused: bool = False) -> None:
        """Register the timer's wait (``None`` when it stops waiting): a ready outcome cancels
        it, and so does any progress while ``paused`` (the timer reads no input because the
        engine is saturated)."""
        self._wait = scope
        self._paused = paused and scope is not None

    def _poke(self) -> None:
        if self._wait is not None:
            self._wait.cancel()

    async def _run(self) -> None:
        try:
            await self._loop()
        finally:
            self._work.close()

    async def _loop(self) -> None:
        work = self._work
        while True:
            task = work.next()
            if task is None:
                self._ready = ready = trio.Event()
                await ready.wait()
                continue
            outcome: Outcome
            try:
                outcome = (True, await task.deferred.compute())
            except Exception as exc:  # the engine's failure ends that plan, not the connection
                _log.warning("%s: %s failed: %r", self._label, task.deferred.what, exc)
                outcome = (False, exc)
            work.finish(task, outcome)
            if task.done is not None or self._paused:
                self._poke()
