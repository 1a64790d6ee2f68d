"""``benchmarks/_breakdown/kernel.py`` measures what ``bench_breakdown.py`` subtracts.

Speed is never asserted (it belongs to the benchmark's report); this checks that every limit
is measured on both event loops and comes back as a finite, positive figure, so the breakdown
cannot rot unnoticed between record runs.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from _breakdown.kernel import asyncio_wait, syscalls, trio_switches, trio_wait

FRAME = b"\x81\x7e\x00\xc8" + b"x" * 200  # one unmasked 200-byte text frame
SECONDS = 0.002


def _figure(value: float) -> bool:
    return math.isfinite(value) and value >= 0.0


def test_every_limit_is_measured_on_both_event_loops() -> None:
    calls = syscalls(FRAME, SECONDS)
    assert set(calls) == {"send", "recv"}
    assert all(_figure(v) and v > 0 for v in calls.values())
    assert _figure(trio_wait(FRAME, SECONDS, calls["send"], calls["recv"]))
    assert _figure(asyncio_wait(FRAME, SECONDS, calls["send"]))
    switches = trio_switches(SECONDS)
    assert set(switches) == {"checkpoint", "handoff"}
    assert switches["checkpoint"] > 0
    assert _figure(switches["handoff"])
