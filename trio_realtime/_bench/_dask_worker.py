"""A harness worker as a Dask task: one shard of the sessions on its own event loop.

The coordinator (:mod:`._cluster`) submits :func:`run_shard` once per Dask worker, pinned to
it. The task runs in one of the worker's threads, exactly as a worker process runs
(:func:`~._worker.run_profiled`: a fresh trio loop for ours and the bare trio baseline, a
fresh asyncio loop for the SDK and the asyncio baseline), with a :class:`DaskLink` instead of
pipes:

* ``placement``, ``ready`` and ``progress`` reports go out as Dask events on the run's topic
  (``Worker.log_event``, thread-safe, batched by the worker);
* the start is a ``distributed.Event``: waited for in a thread of the loop's own
  (``trio.to_thread`` with a limiter, or ``asyncio.to_thread``), polled in short slices so
  that cancelling the wait ends the thread promptly; ``T0`` is the instant this worker saw
  the event plus the run's margin, on this process's own ``time.monotonic()``;
* the result (histograms and counters) is the task's return value;
* CPU is the loop thread's (``time.thread_time()``): a Dask worker runs threads of its own
  (heartbeats, a system monitor), which the whole process's CPU, reported beside it,
  includes. (Its sampling profiler, which would walk this loop's stack every 10 ms, is
  stopped by the coordinator before each run.)

A Dask worker outlives the task: what the meter changes process-wide (the collector's
thresholds, frozen objects, collector callbacks) is put back afterwards.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final, final

import attrs
import trio

from ._environment import clock_id
from ._worker import WorkerSpec, run_profiled

__all__ = ["Aborted", "DaskLink", "HiddenKey", "RunPlan", "distributed", "run_shard"]

_POLL_SECONDS: Final = 0.25  # a slice of the start wait; an abort is seen within 4 of them


def distributed() -> Any:
    """The ``distributed`` package, imported on first use (an optional extra; typed loosely,
    the same whether or not it is installed where the types are checked)."""
    return importlib.import_module("distributed")


class Aborted(Exception):
    """The coordinator stopped the run before it started, or went away."""


@final
class HiddenKey:
    """The API key on its way to a task: pickled with it, never shown by a repr or a log."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "HiddenKey(<hidden>)"

    def __reduce__(self) -> tuple[type[HiddenKey], tuple[str]]:
        return (HiddenKey, (self._value,))

    def reveal(self) -> str:
        """The key itself."""
        return self._value


@attrs.frozen
class RunPlan:
    """How one run's tasks meet the coordinator.

    Attributes:
        topic: The Dask event topic their reports go to.
        go: The ``distributed.Event`` that starts them.
        abort: The event that tells them to give up before the start.
        margin: Seconds between seeing ``go`` and ``T0``, so every worker hears it in time.
        patience: Seconds a task waits for ``go`` before giving up on the coordinator.
    """

    topic: str
    go: str
    abort: str
    margin: float
    patience: float

    @classmethod
    def new(cls, run_id: str, margin: float, patience: float) -> RunPlan:
        """Fresh names for run ``run_id``."""
        base = f"trio-realtime-bench-{run_id}"
        return cls(base, f"{base}-go", f"{base}-abort", margin, patience)


@final
class DaskLink:
    """A worker's link to the coordinator through the Dask scheduler (see the module)."""

    def __init__(self, worker: Any, plan: RunPlan, number: int) -> None:
        self._worker = worker
        self._plan = plan
        self._number = number
        self._go = distributed().Event(plan.go)
        self._abort = distributed().Event(plan.abort)
        self.result: dict[str, Any] | None = None

    @property
    def cpu_clock(self) -> Callable[[], float]:
        """The loop thread's CPU (the task's thread runs the loop)."""
        return time.thread_time

    def emit(self, tag: str, payload: dict[str, Any]) -> None:
        """Send a report as a Dask event; keep the result (the task returns it)."""
        if tag == "result":
            self.result = payload
            return
        # (The scheduler stamps a ``worker`` key with the sender's address.)
        self._worker.log_event(
            self._plan.topic, {"tag": tag, "number": self._number, "payload": payload}
        )

    def _wait(self, check: Callable[[], None]) -> float:
        """Block until the start event (in a thread); ``T0`` on this host's clock."""
        deadline = time.monotonic() + self._plan.patience
        slices = 0
        while not self._go.wait(_POLL_SECONDS):
            check()
            slices += 1
            if slices % 4 == 0 and self._abort.is_set():
                raise Aborted("the coordinator stopped the run before it started")
            if time.monotonic() > deadline:
                raise Aborted(f"no start signal within {self._plan.patience:.0f} s")
        return time.monotonic() + self._plan.margin

    async def go_trio(self) -> float:
        """Wait for the start on a trio loop (a thread of its own, cancellable)."""
        return await trio.to_thread.run_sync(
            self._wait, trio.from_thread.check_cancelled, limiter=trio.CapacityLimiter(1)
        )

    async def go_asyncio(self) -> float:
        """Wait for the start on an asyncio loop (a thread that ends soon after a cancel)."""
        abandoned = threading.Event()

        def check() -> None:
            if abandoned.is_set():
                raise Aborted("the wait for the start was cancelled")

        try:
            return await asyncio.to_thread(self._wait, check)
        finally:
            abandoned.set()


def run_shard(spec_json: str, key: HiddenKey, plan: RunPlan) -> dict[str, Any]:
    """The task: run one worker's sessions here; return its result with where it ran.

    Raises:
        Aborted: The run was stopped before it started, or no start came in time.
        RuntimeError: The driver ended without a result.
    """
    worker = distributed().get_worker()
    spec = WorkerSpec.from_json(spec_json)
    profiler = worker.periodic_callbacks.get("profile")
    placement = {
        "host": socket.gethostname(),
        "ip": worker.ip,
        "address": worker.address,
        "pid": os.getpid(),
        "clock": clock_id(),
        # Dask's sampling profiler walks this thread's stack every 10 ms (the coordinator
        # stops it before each run; the report says if it could not).
        "dask_profiler": bool(profiler is not None and profiler.is_running()),
    }
    link = DaskLink(worker, plan, spec.worker)
    link.emit("placement", placement)
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    try:
        run_profiled(spec, key.reveal(), link)
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks[:] = callbacks
        gc.unfreeze()  # --gc-threshold froze the sessions' objects; they are gone now
    if link.result is None:
        raise RuntimeError(f"worker {spec.worker} ended without a result")
    return {**link.result, "placement": placement}
