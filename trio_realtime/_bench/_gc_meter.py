"""Garbage-collector pauses inside the window: how often each generation ran, and for how long.

A cyclic collection stops the whole event loop; a full (generation 2) collection walks every
tracked object in the process, so at a few hundred sessions it is the largest single stall a
worker sees and the usual cause of a p99 above target. The harness reports the pauses next to
the latencies so a tail can be told apart from the client's own per-event cost.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any, final

__all__ = ["GcMeter"]


@final
class GcMeter:
    """Times every collection between :meth:`start` and :meth:`stop` via ``gc.callbacks``,
    telling ``listener`` (generation, wall and CPU milliseconds) about each (the stall meter).
    A pause's wall time includes any time the process was preempted during it.

    ``collected`` counts the unreachable objects each generation freed: garbage that only the
    collector could free (reference cycles), which a client should not be making per event.
    """

    __slots__ = (
        "_began",
        "_began_cpu",
        "_callback",
        "_listener",
        "collected",
        "counts",
        "longest_ms",
        "total_ms",
        "tracked_idle",
    )

    def __init__(self, listener: Callable[[int, float, float], None] | None = None) -> None:
        self._listener = listener
        self.counts = [0, 0, 0]
        self.total_ms = [0.0, 0.0, 0.0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        self.tracked_idle: int | None = None
        self._began = self._began_cpu = 0.0
        self._callback = self._on_phase

    def _on_phase(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()
            return
        ms = (time.perf_counter() - self._began) * 1000.0
        cpu_ms = (time.thread_time() - self._began_cpu) * 1000.0
        generation = info["generation"]
        self.counts[generation] += 1
        self.total_ms[generation] += ms
        self.collected[generation] += info["collected"]
        if ms > self.longest_ms[generation]:
            self.longest_ms[generation] = ms
        if self._listener is not None:
            self._listener(generation, ms, cpu_ms)

    def note_idle(self) -> None:
        """Count the objects the collector tracks, with every session connected and idle."""
        self.tracked_idle = len(gc.get_objects())

    def start(self) -> None:
        """Begin timing collections."""
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        """Stop timing collections."""
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def to_json(self) -> dict[str, Any]:
        """The figures, JSON-ready."""
        return {
            "counts": list(self.counts),
            "total_ms": list(self.total_ms),
            "longest_ms": list(self.longest_ms),
            "collected": list(self.collected),
            "tracked_idle": self.tracked_idle,
        }
