"""Event-loop stalls: how long each scheduler pass kept the loop from its I/O wait, and why.

A **pass** is what an event loop does between two waits for I/O: run every task (trio) or
callback (asyncio) that is ready, expire timers. While a pass runs, no socket is looked at, so
an event that arrives then waits for the pass to end: a long pass is a latency spike for
every session of the worker at once. The harness times every pass inside the window, the
same way for trio (an instrument's ``after_io_wait``/``before_io_wait``) and for asyncio (a
selector whose ``select`` marks the ends of the passes), and keeps the longest few with what
made them long:

* ``cpu_ms``: CPU the thread used in the pass (``time.thread_time``);
* ``gc_ms``: the cyclic collector's pauses in the pass (wall time; ``gc_cpu_ms`` the CPU
  part), and the oldest generation it ran;
* ``off_cpu_ms``: wall time minus CPU time: the process was runnable but not running
  (another process had the core: a busy machine), or blocked in a system call;
* with ``--trace-stalls``, the longest single task step (trio) or callback (asyncio) in the
  pass and which task it was, with its await chain where it stopped (the step's own work
  sits above that point). Off by default: it times every step, which costs a little.

Also the **oversleep** of each I/O wait: how much longer than asked the loop slept (the
kernel woke the process late: a busy machine again).

:class:`StallMeter` is sans-I/O (numbers in, JSON out); the trio instrument and the asyncio
selector around it are the thin shells.
"""

from __future__ import annotations

import asyncio
import heapq
import selectors
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, final

import trio

from ._stats import Histogram

__all__ = [
    "STALL_MS",
    "StallMeter",
    "TimedSelector",
    "TrioStallInstrument",
    "merge_stalls",
    "timed_event_loop",
]

#: A pass at least this long counts as a stall in the report.
STALL_MS: Final = 10.0
#: How many of the longest passes each worker keeps, with their causes.
KEEP: Final = 8


@final
class StallMeter:
    """Scheduler passes and I/O-wait oversleeps, timed only while :attr:`active`."""

    def __init__(self, trace_steps: bool = False) -> None:
        self.trace_steps = trace_steps
        self.active = False
        self.passes_ms = Histogram()
        self.oversleep_ms = Histogram()
        self.stalls = 0  # passes of STALL_MS or more
        self.stall_ms = 0.0
        self.off_cpu_ms = 0.0  # in stalls: wall minus CPU
        self.gc_in_stalls_ms = 0.0
        self._longest: list[tuple[float, int, dict[str, Any]]] = []  # a min-heap of KEEP
        self._order = 0
        self._wall0 = self._cpu0 = 0.0
        self._in_pass = False
        self._gc_ms = self._gc_cpu_ms = 0.0
        self._gc_generation = -1
        self._steps = 0
        self._step0 = 0.0
        self._step_ms = 0.0
        self._step_what = ""
        self._wait0 = 0.0
        self._wait_asked = 0.0

    # -- the loop's side ----------------------------------------------------------------------

    def start(self) -> None:
        """Begin timing (the window opened)."""
        self.active = True

    def stop(self) -> None:
        """Stop timing (the window closed)."""
        self.active = False
        self._in_pass = False

    def wait_begins(self, timeout: float) -> None:
        """The loop is about to wait for I/O for at most ``timeout`` seconds: a pass ended."""
        if not self.active:
            return
        now = time.perf_counter()
        if self._in_pass:
            self._pass_ended(now)
        self._wait0, self._wait_asked = now, timeout

    def wait_ended(self) -> None:
        """The I/O wait returned: a pass begins."""
        if not self.active:
            return
        now = time.perf_counter()
        if self._wait0:
            self.oversleep_ms.record(max(0.0, now - self._wait0 - self._wait_asked) * 1000.0)
        self._in_pass = True
        self._wall0, self._cpu0 = now, time.thread_time()
        self._gc_ms, self._gc_cpu_ms, self._gc_generation = 0.0, 0.0, -1
        self._steps, self._step_ms, self._step_what = 0, 0.0, ""

    def step_begins(self) -> None:
        """A task step or callback begins (``--trace-stalls`` only)."""
        self._step0 = time.perf_counter()

    def step_ended(self, what: Callable[[], str]) -> None:
        """The step that began last ended; ``what`` names it (called only for a new longest)."""
        ms = (time.perf_counter() - self._step0) * 1000.0
        self._steps += 1
        if ms > self._step_ms:
            self._step_ms = ms
            self._step_what = what()

    def gc_pause(self, generation: int, ms: float, cpu_ms: float) -> None:
        """The collector paused the loop for ``ms``, ``cpu_ms`` of them on the CPU (called by
        the GC meter)."""
        if self._in_pass:
            self._gc_ms += ms
            self._gc_cpu_ms += cpu_ms
            self._gc_generation = max(self._gc_generation, generation)

    def _pass_ended(self, now: float) -> None:
        self._in_pass = False
        ms = (now - self._wall0) * 1000.0
        self.passes_ms.record(ms)
        if ms < STALL_MS and len(self._longest) >= KEEP and ms <= self._longest[0][0]:
            return
        cpu_ms = (time.thread_time() - self._cpu0) * 1000.0
        off_cpu = max(0.0, ms - cpu_ms)
        if ms >= STALL_MS:
            self.stalls += 1
            self.stall_ms += ms
            self.off_cpu_ms += off_cpu
            self.gc_in_stalls_ms += self._gc_ms
        record: dict[str, Any] = {
            "ms": ms,
            "cpu_ms": cpu_ms,
            "off_cpu_ms": off_cpu,
            "gc_ms": self._gc_ms,
            "gc_cpu_ms": self._gc_cpu_ms,
            "gc_generation": self._gc_generation if self._gc_ms else None,
        }
        if self.trace_steps:
            record["steps"] = self._steps
            record["longest_step_ms"] = self._step_ms
            record["longest_step"] = self._step_what
        self._order += 1
        entry = (ms, self._order, record)
        if len(self._longest) < KEEP:
            heapq.heappush(self._longest, entry)
        elif ms > self._longest[0][0]:
            heapq.heapreplace(self._longest, entry)

    # -- the report ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The figures, JSON-ready; :func:`merge_stalls` adds several up."""
        return {
            "passes_ms": self.passes_ms.to_json(),
            "oversleep_ms": self.oversleep_ms.to_json(),
            "stalls": self.stalls,
            "stall_ms": self.stall_ms,
            "off_cpu_ms": self.off_cpu_ms,
            "gc_in_stalls_ms": self.gc_in_stalls_ms,
            "longest": [r for _, _, r in sorted(self._longest, key=lambda e: -e[0])],
        }


def merge_stalls(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several workers' :meth:`StallMeter.to_json` as one: histograms and totals added up, the
    longest passes of all kept."""
    parts = [p for p in parts if p]
    longest = sorted((r for p in parts for r in p["longest"]), key=lambda r: -r["ms"])[:KEEP]
    return {
        "passes_ms": Histogram.merged(Histogram.from_json(p["passes_ms"]) for p in parts).to_json(),
        "oversleep_ms": Histogram.merged(
            Histogram.from_json(p["oversleep_ms"]) for p in parts
        ).to_json(),
        "stalls": sum(p["stalls"] for p in parts),
        "stall_ms": sum(p["stall_ms"] for p in parts),
        "off_cpu_ms": sum(p["off_cpu_ms"] for p in parts),
        "gc_in_stalls_ms": sum(p["gc_in_stalls_ms"] for p in parts),
        "longest": longest,
    }


# --- trio ------------------------------------------------------------------------------------


def _chain(coro: Any) -> str:
    """The coroutine's await chain, outermost first: ``main > sleep > __sleep0``."""
    names = []
    while coro is not None:
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is not None:
            names.append(code.co_qualname)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(names[:6])


def _task_name(task: trio.lowlevel.Task) -> str:
    """The task's name and where it is suspended."""
    return f"{task.name}: {_chain(task.coro)}"


class _PassInstrument(trio.abc.Instrument):
    """Times the passes only (two calls per pass)."""

    def __init__(self, meter: StallMeter) -> None:
        self.meter = meter

    def before_io_wait(self, timeout: float) -> None:
        self.meter.wait_begins(timeout)

    def after_io_wait(self, timeout: float) -> None:
        self.meter.wait_ended()


class _StepInstrument(_PassInstrument):
    """Also times every task step (``--trace-stalls``)."""

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.meter.step_begins()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.meter.step_ended(lambda: _task_name(task))


def TrioStallInstrument(meter: StallMeter) -> trio.abc.Instrument:
    """The trio instrument feeding ``meter`` (per-step hooks only when it traces steps, so
    the untraced instrument costs two calls per pass and nothing per task step)."""
    return _StepInstrument(meter) if meter.trace_steps else _PassInstrument(meter)


# --- asyncio -----------------------------------------------------------------------------------


_SELECTOR: Final[type[selectors.BaseSelector]] = selectors.DefaultSelector


class TimedSelector(_SELECTOR):  # type: ignore[misc, valid-type]
    """The platform's default selector, telling a :class:`StallMeter` when the loop waits."""

    def __init__(self, meter: StallMeter) -> None:
        super().__init__()
        self.stall_meter = meter

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        meter = self.stall_meter
        meter.wait_begins(0.0 if timeout is None or timeout < 0 else timeout)
        try:
            events: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
            return events
        finally:
            meter.wait_ended()


def _callback_name(handle: asyncio.Handle) -> str:
    callback: Any = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        return f"{task.get_name()}: {_chain(task.get_coro())}"
    return getattr(callback, "__qualname__", repr(callback))


def _trace_handles(meter: StallMeter) -> Callable[[], None]:
    """Time every callback the loop runs (``--trace-stalls``, asyncio): wraps ``Handle._run``
    (asyncio has no hook for it). Returns the function that unwraps it."""
    run = asyncio.Handle._run

    def timed(handle: asyncio.Handle) -> None:
        meter.step_begins()
        try:
            run(handle)
        finally:
            meter.step_ended(lambda: _callback_name(handle))

    asyncio.Handle._run = timed  # type: ignore[method-assign, assignment]

    def undo() -> None:
        asyncio.Handle._run = run  # type: ignore[method-assign]

    return undo


class _TimedLoop(asyncio.SelectorEventLoop):
    """A selector loop on a :class:`TimedSelector`; closing it stops tracing its callbacks."""

    def __init__(self, meter: StallMeter) -> None:
        super().__init__(TimedSelector(meter))
        self._untrace = _trace_handles(meter) if meter.trace_steps else None

    def close(self) -> None:
        if self._untrace is not None:
            self._untrace()
            self._untrace = None
        super().close()


def timed_event_loop(meter: StallMeter) -> asyncio.AbstractEventLoop:
    """A new selector event loop whose passes ``meter`` times."""
    return _TimedLoop(meter)
