"""Event-loop stalls: the harness times every scheduler pass, on trio and on asyncio alike, and
says what made the longest ones long (CPU, the collector, or not running at all).

Each test blocks its loop on purpose (``time.sleep`` inside a task step) for at least 15 ms,
so the stall exists whatever the machine is doing: nothing here depends on a quiet machine.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time

import trio

from trio_realtime._bench._gc_meter import GcMeter
from trio_realtime._bench._stalls import (
    STALL_MS,
    StallMeter,
    TrioStallInstrument,
    merge_stalls,
    timed_event_loop,
)
from trio_realtime._bench._stats import Histogram

BLOCK_S = 0.015


def _blocks_the_loop() -> None:
    time.sleep(BLOCK_S)


def _trio_run(meter: StallMeter, gc_meter: GcMeter | None = None) -> None:
    async def main() -> None:
        trio.lowlevel.add_instrument(TrioStallInstrument(meter))
        meter.start()
        if gc_meter is not None:
            gc_meter.start()
        for _ in range(3):
            await trio.lowlevel.checkpoint()
        if gc_meter is not None:
            gc.collect()
        _blocks_the_loop()
        await trio.lowlevel.checkpoint()
        meter.stop()
        if gc_meter is not None:
            gc_meter.stop()

    trio.run(main)


def test_a_trio_task_blocking_the_loop_is_a_stall_spent_off_cpu() -> None:
    meter = StallMeter()
    _trio_run(meter)
    figures = json.loads(json.dumps(meter.to_json()))
    assert figures["stalls"] >= 1
    longest = figures["longest"][0]
    assert longest["ms"] >= BLOCK_S * 1000 > STALL_MS
    assert longest["off_cpu_ms"] > longest["cpu_ms"]  # time.sleep: blocked, not computing
    assert "longest_step" not in longest  # steps are timed only when asked
    assert Histogram.from_json(figures["passes_ms"]).count >= 2


def test_traced_steps_name_the_task_and_the_collector_pause_is_counted() -> None:
    meter = StallMeter(trace_steps=True)
    _trio_run(meter, GcMeter(meter.gc_pause))
    longest = meter.to_json()["longest"][0]
    assert longest["longest_step_ms"] >= BLOCK_S * 1000
    assert "main" in longest["longest_step"]
    assert longest["gc_ms"] > 0.0
    assert longest["gc_generation"] == 2


def test_asyncio_passes_are_timed_the_same_way() -> None:
    meter = StallMeter(trace_steps=True)

    async def main() -> None:
        meter.start()
        await asyncio.sleep(0)
        _blocks_the_loop()
        await asyncio.sleep(0)
        meter.stop()

    run = asyncio.Handle._run
    with asyncio.Runner(loop_factory=lambda: timed_event_loop(meter)) as runner:
        runner.run(main())
    assert asyncio.Handle._run is run  # tracing ends with the loop
    figures = meter.to_json()
    assert figures["stalls"] >= 1
    assert figures["longest"][0]["ms"] >= BLOCK_S * 1000
    assert "main" in figures["longest"][0]["longest_step"]


def test_nothing_is_timed_outside_the_window_and_workers_merge() -> None:
    idle = StallMeter()

    async def main() -> None:
        trio.lowlevel.add_instrument(TrioStallInstrument(idle))
        _blocks_the_loop()
        await trio.lowlevel.checkpoint()

    trio.run(main)
    assert idle.to_json()["stalls"] == 0
    assert idle.passes_ms.count == 0
    busy = StallMeter()
    _trio_run(busy)
    merged = merge_stalls([idle.to_json(), busy.to_json(), busy.to_json()])
    assert merged["stalls"] == 2 * busy.stalls
    assert merged["stall_ms"] == 2 * busy.stall_ms
    assert len(merged["longest"]) <= 8
    assert merged["longest"][0]["ms"] == busy.to_json()["longest"][0]["ms"]
