"""Running one measurement: an embedded server, worker processes, a live progress line.

:func:`run_size` is one run: a fresh embedded server process (unless a URL was given), the
sessions sharded over worker processes, everyone started at one monotonic instant, warm-up,
window, and the workers' results merged. :mod:`._sweep` strings runs together (sizes,
repeats, clients interleaved) into a report.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

import attrs
import trio

from ._processes import BenchError, ServerProcess, WorkerProcess, machine_busy_seconds
from ._report import merge_run, passes
from ._stats import Histogram
from ._worker import WorkerSpec, tail_seconds
from ._workload import Workload, shard

__all__ = ["BenchOptions", "Progress", "profile_path", "run_size"]

_GO_MARGIN: Final = 0.5  # seconds between "go" and T0, so every worker hears it in time
_CLOSE_BUDGET: Final = 60.0


@attrs.frozen(kw_only=True)
class BenchOptions:
    """Everything ``trio-realtime bench`` was asked to do.

    Attributes:
        workload: The workload (its ``sessions`` is the size of a single run).
        clients: Clients to run, ours first.
        processes: Worker processes (``--processes K``).
        scaling: With ``processes > 1``, also run with one process and report the scaling.
        sweep: Sizes to sweep instead of a single run.
        refine: After the sweep, bisect between the largest passing and the smallest failing
            size until they are this close (``None``: no bisection).
        p99_ms: The delivery latency p99 a size must stay under to pass.
        url: An external server (no embedded one).
        api_key: The key sent to the server.
        profile: The first worker of each client writes a cProfile to ``PROFILE.CLIENT``
            (the last run's, when there are several).
        trace_memory: Trace allocations until sessions are idle (memory figures; slow).
        trace_stalls: Time every task step, so the longest stalls name what ran.
        progress: Show the live progress line.
        repeats: Runs of every client at every size, the clients interleaved (ours, the
            peer's variants, the baselines, ours, ...).
        compare_at: The size the side-by-side ratios are taken at (``None``: the largest
            size every client passed, else the smallest).
        retries: Repeat a run whose window saw other processes use more than
            ``foreign_limit`` % of a core, up to this many times; the quietest run is kept.
            For record runs: off by default, announced when it happens.
        foreign_limit: See ``retries`` and ``wait_quiet``.
        wait_quiet: Before each run, wait up to ``quiet_wait`` s for 2 s in which other
            processes use under ``foreign_limit`` % of a core (announced; for record runs).
        quiet_wait: See ``wait_quiet``.
        gc_threshold: Every worker's first GC threshold (and a freeze once connected);
            ``None`` keeps Python's defaults.
    """

    workload: Workload
    clients: tuple[str, ...] = ("ours",)
    processes: int = 1
    scaling: bool = True
    sweep: tuple[int, ...] = ()
    refine: int | None = None
    p99_ms: float = 20.0
    url: str | None = None
    api_key: str = "sk-bench-local"
    profile: str | None = None
    trace_memory: bool = False
    trace_stalls: bool = False
    progress: bool = True
    repeats: int = 1
    compare_at: int | None = None
    retries: int = 0
    foreign_limit: float = 10.0
    wait_quiet: bool = False
    quiet_wait: float = 120.0
    gc_threshold: int | None = None

    @property
    def process_counts(self) -> tuple[int, ...]:
        """The process counts to run: ``(1, K)`` when scaling, else ``(K,)``."""
        if self.processes > 1 and self.scaling:
            return (1, self.processes)
        return (self.processes,)


class Progress:
    """The live progress line (stderr): rewritten in place on a terminal, every 5 s elsewhere.

    It also keeps the per-second timeline the plot draws (sessions and events over time).
    """

    def __init__(self, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.tty = self.stream.isatty()
        self.timeline: list[dict[str, float]] = []
        self._start = time.monotonic()
        self._last: tuple[float, int, float] | None = None
        self._printed = 0.0
        self._width = 0

    def update(
        self, workers: Sequence[WorkerProcess], server_cpu: float | None, phase: str
    ) -> None:
        """Fold the workers' latest progress lines into one line (and one timeline point)."""
        reports = [w.progress for w in workers if w.progress is not None]
        if not reports:
            return
        now = time.monotonic()
        events = sum(r["events"] for r in reports)
        cpu = sum(r["cpu"] for r in reports)
        connected = sum(r["connected"] for r in reports)
        alive = sum(r["alive"] for r in reports)
        worst = max(r["max_ms"] for r in reports)
        planned = sum(len(w.spec.indices) for w in workers)
        rate = cpu_rate = 0.0
        if self._last is not None:
            t, e, c = self._last
            rate = (events - e) / max(now - t, 1e-9)
            cpu_rate = 100.0 * (cpu - c) / max(now - t, 1e-9)
        self._last = (now, events, cpu)
        self.timeline.append(
            {
                "t": now - self._start,
                "connected": connected,
                "alive": alive,
                "events_per_s": rate,
                "max_ms": worst,
                "client_cpu_percent": cpu_rate,
            }
        )
        if not self.enabled:
            return
        line = (
            f"[{self.label}] {phase:8} {now - self._start:5.1f}s  sessions {alive}/{planned}  "
            f"events {rate:7,.0f}/s  max latency {worst:6.1f} ms  client CPU {cpu_rate:4.0f}%"
        )
        if server_cpu is not None:
            line += f"  server CPU {server_cpu:4.0f}%"
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            self.stream.flush()
        elif now - self._printed >= 5.0:
            self._printed = now
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


async def _watch(
    progress: Progress,
    workers: Sequence[WorkerProcess],
    server: ServerProcess | None,
    phase: Callable[[], str],
) -> None:
    last: tuple[float, float] | None = None
    while True:
        await trio.sleep(1.0)
        server_cpu = None
        if server is not None and (cpu := server.cpu_seconds()) is not None:
            now = time.monotonic()
            if last is not None:
                server_cpu = 100.0 * (cpu - last[1]) / max(now - last[0], 1e-9)
            last = (now, cpu)
        progress.update(workers, server_cpu, phase())


async def run_size(
    options: BenchOptions, client: str, sessions: int, processes: int
) -> dict[str, Any]:
    """Run ``sessions`` sessions of ``client`` over ``processes`` workers; merge the results.

    Raises:
        BenchError: The server did not start, a worker died, or no session connected.
    """
    workload = attrs.evolve(options.workload, sessions=sessions)
    server = None
    if options.url is None:
        server = await ServerProcess.start(
            workload.server_kind, workload.response_seconds, workload.engine
        )
    url = options.url if options.url is not None else server.url  # type: ignore[union-attr]
    shards = shard(sessions, processes)
    per_worker = max(1, math.ceil(workload.handshakes / len(shards)))
    label = f"{client} {sessions}" + (f" x{processes}p" if processes > 1 else "")
    progress = Progress(label, options.progress)
    phase = "connect"
    workers: list[WorkerProcess] = []
    server_stats: dict[str, Any] = {}
    busy0 = busy1 = cpu0 = cpu1 = None
    own0 = own1 = wall0 = 0.0
    wall1 = workload.window
    try:
        async with trio.open_nursery() as nursery:
            for number, indices in enumerate(shards):
                spec = WorkerSpec(
                    client=client,
                    workload=workload,
                    url=url,
                    indices=tuple(indices),
                    worker=number,
                    handshakes=per_worker,
                    profile=profile_path(options.profile, client) if number == 0 else None,
                    trace_memory=options.trace_memory,
                    gc_threshold=options.gc_threshold,
                    trace_stalls=options.trace_stalls,
                )
                workers.append(await WorkerProcess.start(nursery, spec, options.api_key))
            nursery.start_soon(_watch, progress, workers, server, lambda: phase)
            budget = workload.connect_timeout + workload.ramp + 60.0 + sessions / 20.0
            with trio.move_on_after(budget) as waiting:
                for worker in workers:
                    await worker.ready_event.wait()
            if waiting.cancelled_caught:
                raise BenchError(f"the sessions did not all connect within {budget:.0f} s")
            for worker in workers:
                if worker.ready is None:
                    raise BenchError(worker.failure())
            if not any(w.ready and w.ready["connected"] for w in workers):
                failed: dict[str, int] = {}
                for w in workers:
                    for name, n in (w.ready or {}).get("failed", {}).items():
                        failed[name] = failed.get(name, 0) + n
                raise BenchError(f"no session connected to {url}: {failed}")
            offset = trio.current_time() - time.monotonic()
            t0 = time.monotonic() + _GO_MARGIN
            for worker in workers:
                await worker.go(t0)
            phase = "warm-up"
            w0 = t0 + workload.warmup
            await trio.sleep_until(w0 + offset)
            phase = "window"
            busy0, own0, wall0 = machine_busy_seconds(), time.process_time(), time.monotonic()
            cpu0 = server.cpu_seconds() if server is not None else None
            if server is not None:
                await server.mark()
            await trio.sleep_until(w0 + workload.window + offset)
            phase = "closing"
            cpu1 = server.cpu_seconds() if server is not None else None
            busy1, own1, wall1 = machine_busy_seconds(), time.process_time(), time.monotonic()
            wall1 -= wall0
            if cpu0 is not None and cpu1 is not None:
                wall = time.monotonic() - wall0
                server_stats["cpu_percent"] = 100.0 * (cpu1 - cpu0) / wall
            if server is not None and (stats := await server.report()) is not None:
                server_stats.update(_server_window(stats))
            with trio.move_on_after(tail_seconds(workload) + _CLOSE_BUDGET) as waiting:
                for worker in workers:
                    await worker.done.wait()
            if waiting.cancelled_caught:
                late = [w.spec.worker for w in workers if not w.done.is_set()]
                raise BenchError(
                    f"workers {late} did not finish within {_CLOSE_BUDGET:.0f} s of the window"
                )
            nursery.cancel_scope.cancel()
    finally:
        progress.close()
        with trio.CancelScope(shield=True):
            for worker in workers:
                await worker.stop()
            if server is not None:
                await server.stop()
    results = []
    for worker in workers:
        if worker.result is None:
            raise BenchError(worker.failure())
        results.append(worker.result)
    run = merge_run(workload, client, len(shards), results, server_stats)
    if busy0 is not None and busy1 is not None and run["cpu_s"] is not None:
        # Everything the machine did in the window that was not this run: other processes
        # competing for the cores make a run's figures worthless, so the report says so.
        ours = run["cpu_s"] + (own1 - own0) + ((cpu1 or 0.0) - (cpu0 or 0.0))
        run["foreign_cpu_percent"] = max(0.0, 100.0 * (busy1 - busy0 - ours) / wall1)
    else:
        run["foreign_cpu_percent"] = None
    run["pass"] = passes(run, options.p99_ms)  # this run alone; sizes get verdicts
    run["timeline"] = progress.timeline
    return run


def profile_path(path: str | None, client: str) -> str | None:
    """Where the first worker of ``client`` writes its cProfile: ``PATH`` + ``.CLIENT``."""
    return None if path is None else f"{path}.{client}"


def _server_window(stats: dict[str, Any]) -> dict[str, Any]:
    lateness = Histogram.from_json(stats["tick_lateness_ms"])
    seconds = max(stats["seconds"], 1e-9)
    return {
        "frames_per_s": stats["frames_sent"] / seconds,
        "messages_per_s": stats["messages_received"] / seconds,
        "tick_lateness_p99_ms": lateness.percentile(99),
        "tick_lateness_max_ms": lateness.max if lateness.count else None,
        "gc": stats.get("gc"),
        "streaming_sessions": stats["open"],
    }
