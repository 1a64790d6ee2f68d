"""Running one measurement: an embedded server, workers, a live progress line.

:func:`run_size` is one run: a fresh embedded server process (unless a URL was given), the
sessions sharded over workers (local processes, or Dask tasks with ``--cluster``: see
:mod:`._launcher`), everyone started at one instant, warm-up, window, and the workers' results
merged. A worker lost mid-run (only a cluster's can be: a worker process that dies fails the
run) is reported with the sessions it held. :mod:`._sweep` strings runs together (sizes,
repeats, clients interleaved) into a report.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import attrs
import trio

from ._environment import clock_id, is_this_machine
from ._launcher import Launcher, Worker
from ._per_worker import lost_worker
from ._processes import BenchError, ProcessLauncher, ServerProcess, machine_busy_seconds
from ._report import merge_run, passes
from ._stats import Histogram
from ._worker import WorkerSpec, tail_seconds
from ._workload import Workload, shard

__all__ = ["GO_MARGIN", "BenchOptions", "Progress", "profile_path", "run_size", "server_clock"]

#: Seconds between the start signal and T0, so that every worker hears it in time.
GO_MARGIN: Final = 0.5
_CLOSE_BUDGET: Final = 60.0


@attrs.frozen(kw_only=True)
class BenchOptions:
    """Everything ``trio-realtime bench`` was asked to do.

    Attributes:
        workload: The workload (its ``sessions`` is the size of a single run).
        clients: Clients to run, ours first.
        processes: Worker processes (``--processes K``); with ``cluster``, workers of the
            cluster (``0``: all of them).
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
        cluster: Run the workers as Dask tasks: ``local:K`` or a scheduler's address
            (``None``: local processes).
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
    cluster: str | None = None

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
        self.timeline: list[dict[str, Any]] = []
        self._start = time.monotonic()
        self._last: tuple[float, int, float] | None = None
        self._worker_last: dict[int, tuple[float, int]] = {}
        self._printed = 0.0
        self._width = 0

    def update(self, workers: Sequence[Worker], server_cpu: float | None, phase: str) -> None:
        """Fold the workers' latest progress lines into one line (and one timeline point)."""
        reports = [w.progress for w in workers if w.progress is not None and w.lost is None]
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
                "workers": self._per_worker(now, workers),
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

    def _per_worker(self, now: float, workers: Sequence[Worker]) -> dict[str, dict[str, float]]:
        """Each worker's sessions open and events per second since the last point."""
        out = {}
        for w in workers:
            report = w.progress
            if report is None or w.lost is not None:
                continue
            number = w.spec.worker
            rate = 0.0
            if (last := self._worker_last.get(number)) is not None:
                rate = (report["events"] - last[1]) / max(now - last[0], 1e-9)
            self._worker_last[number] = (now, report["events"])
            out[str(number)] = {"alive": report["alive"], "events_per_s": rate}
        return out

    def close(self) -> None:
        """End the line."""
        if self.enabled and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


async def _watch(
    progress: Progress,
    workers: Sequence[Worker],
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


def server_clock(url: str | None) -> str:
    """The :func:`~._environment.clock_id` the server's send stamps are read from: this
    machine's for the embedded server or a URL naming this machine, ``""`` (unknown) for a
    server elsewhere."""
    host = "127.0.0.1" if url is None else (urlsplit(url).hostname or "")
    return clock_id() if is_this_machine(host) else ""


async def run_size(
    options: BenchOptions,
    client: str,
    sessions: int,
    processes: int,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """Run ``sessions`` sessions of ``client`` over ``processes`` workers; merge the results.

    ``launcher`` starts the workers (default: local processes).

    Raises:
        BenchError: The server did not start, a worker failed, every worker was lost, or no
            session connected.
    """
    launcher = ProcessLauncher() if launcher is None else launcher
    workload = attrs.evolve(options.workload, sessions=sessions)
    server = None
    if options.url is None:
        server = await ServerProcess.start(
            workload.server_kind,
            workload.response_seconds,
            workload.engine,
            host=launcher.server_host,
        )
    url = options.url if options.url is not None else server.url  # type: ignore[union-attr]
    shards = shard(sessions, processes)
    per_worker = max(1, math.ceil(workload.handshakes / len(shards)))
    label = f"{client} {sessions}" + (f" x{processes}p" if processes > 1 else "")
    progress = Progress(label, options.progress)
    phase = "connect"
    workers: list[Worker] = []
    server_stats: dict[str, Any] = {}
    busy0 = busy1 = cpu0 = cpu1 = None
    own0 = own1 = wall0 = 0.0
    wall1 = workload.window
    stamps_clock = server_clock(options.url)
    try:
        async with trio.open_nursery() as nursery:
            specs = [
                WorkerSpec(
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
                    server_clock=stamps_clock,
                )
                for number, indices in enumerate(shards)
            ]
            workers = await launcher.start(nursery, specs, options.api_key)
            nursery.start_soon(_watch, progress, workers, server, lambda: phase)
            budget = workload.connect_timeout + workload.ramp + 60.0 + sessions / 20.0
            with trio.move_on_after(budget) as waiting:
                for worker in workers:
                    await worker.ready_event.wait()
            if waiting.cancelled_caught:
                raise BenchError(f"the sessions did not all connect within {budget:.0f} s")
            for worker in workers:
                if worker.ready is None and worker.lost is None:
                    raise BenchError(worker.failure())
            running = [w for w in workers if w.lost is None]
            if not running:
                raise BenchError("every worker was lost before the sessions connected")
            if not any(w.ready and w.ready["connected"] for w in running):
                failed: dict[str, int] = {}
                for w in running:
                    for name, n in (w.ready or {}).get("failed", {}).items():
                        failed[name] = failed.get(name, 0) + n
                raise BenchError(f"no session connected to {url}: {failed}")
            offset = trio.current_time() - time.monotonic()
            t0 = await launcher.go(running, GO_MARGIN)
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
    except BaseExceptionGroup as group:
        error = _only_bench_error(group)
        if error is group:
            raise
        raise error from None
    finally:
        progress.close()
        with trio.CancelScope(shield=True):
            for worker in workers:
                await worker.stop()
            if server is not None:
                await server.stop()
    results = []
    lost = []
    for worker in workers:
        if worker.lost is not None:
            lost.append(lost_worker(worker.spec, worker.placement, worker.lost, worker.progress))
        elif worker.result is None:
            raise BenchError(worker.failure())
        else:
            results.append({**worker.result, "placement": worker.placement})
    if not results:
        raise BenchError("every worker was lost: " + "; ".join(w["reason"] for w in lost))
    run = merge_run(workload, client, len(shards), results, server_stats, lost=lost)
    run["launcher"] = launcher.description
    if busy0 is not None and busy1 is not None and run["cpu_s"] is not None:
        # Everything the machine did in the window that was not this run: other processes
        # competing for the cores make a run's figures worthless, so the report says so.
        # (Workers on other machines of a cluster are not this machine's load.)
        here = [w for w in run["workers"] if w["clock"] == clock_id()]
        workers_cpu = sum(w["process_cpu_s"] or w["cpu_s"] or 0.0 for w in here)
        ours = workers_cpu + (own1 - own0) + ((cpu1 or 0.0) - (cpu0 or 0.0))
        run["foreign_cpu_percent"] = max(0.0, 100.0 * (busy1 - busy0 - ours) / wall1)
    else:
        run["foreign_cpu_percent"] = None
    run["pass"] = passes(run, options.p99_ms)  # this run alone; sizes get verdicts
    run["timeline"] = progress.timeline
    return run


def _only_bench_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The :class:`BenchError` a nursery wrapped in a group (the group itself when it holds
    anything else), so that callers catch a failed run as one."""
    errors, rest = group.split(BenchError)
    while errors is not None and rest is None:
        first = errors.exceptions[0]
        if not isinstance(first, BaseExceptionGroup):
            return first
        errors = first
    return group


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
