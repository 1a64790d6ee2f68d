"""A whole ``trio-realtime bench``: sizes, repeats, clients interleaved, verdicts, limits.

At each size every client runs ``repeats`` times, interleaved (ours, the SDK's fast path, its
documented path, the baselines, ours, ...), so slow drifts of the machine hit every client
alike. Each size then gets a verdict per client (:func:`~._verdicts.size_verdict`). A client
is not run above the first size it failed at: its limit is already decided
(:func:`~._verdicts.limit`), and far past its limit a client can take minutes to wind down.
Every size in the plan is tried for every client up to that point, so no client is probed
more finely than another.

``--refine STEP`` then bisects: while some client's limit and first failure are further apart
than ``STEP``, the size halfway between (on the ``STEP`` grid) joins the plan and every client
not yet failed below it runs there too, which may lower a limit as well as raise one.

With ``retries`` a run disturbed by other processes is run again (announced); with
``wait_quiet`` each run first waits, announced, for a quiet machine. Both are off by default:
they are for record runs on a machine kept for them, and a normal run finishes in its own time.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs
import trio

from ._launcher import Launcher
from ._orchestrator import BenchOptions, run_size
from ._processes import BenchError, machine_busy_seconds
from ._verdicts import compare, limit, size_verdict, targets
from ._workload import STAMPED

__all__ = ["run_bench", "run_quiet", "wait_for_quiet"]

Say = Callable[[str], None]


async def wait_for_quiet(options: BenchOptions, say: Say) -> None:
    """Wait at most ``options.quiet_wait`` s for 2 s in which other processes use under
    ``options.foreign_limit`` % of a core (nothing of ours runs between two runs). Says that
    it waits, and how it ended."""
    deadline = trio.current_time() + options.quiet_wait
    announced = False
    while trio.current_time() < deadline:
        before, start = machine_busy_seconds(), time.monotonic()
        await trio.sleep(2.0)
        after = machine_busy_seconds()
        if before is None or after is None:
            return
        busy = 100.0 * (after - before) / (time.monotonic() - start)
        if busy < options.foreign_limit:
            if announced:
                say(f"  machine quiet ({busy:.0f}% of a core busy); running")
            return
        if not announced:
            say(
                f"  waiting up to {options.quiet_wait:.0f} s for a quiet machine "
                f"(other processes use {busy:.0f}% of a core; limit {options.foreign_limit:g}%)"
            )
            announced = True
    say(f"  machine still busy after {options.quiet_wait:.0f} s; running anyway")


async def run_quiet(
    options: BenchOptions,
    client: str,
    sessions: int,
    processes: int,
    say: Say,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """:func:`~._orchestrator.run_size`, after a wait for quiet and repeated while other
    processes disturbed the window, as ``options`` ask; returns the quietest attempt, with
    ``attempts`` set."""
    best: dict[str, Any] | None = None
    for attempt in range(1 + max(0, options.retries)):
        if options.wait_quiet:
            await wait_for_quiet(options, say)
        run = await run_size(options, client, sessions, processes, launcher=launcher)
        run["attempts"] = attempt + 1
        foreign = run.get("foreign_cpu_percent")
        if best is None or (foreign or 0.0) < (best.get("foreign_cpu_percent") or 0.0):
            best = run
        if foreign is None or foreign <= options.foreign_limit:
            break
        if attempt < options.retries:
            say(
                f"  {client} N={sessions}: other processes used {foreign:.0f}% of a core "
                f"during the window; running it again ({attempt + 1} of {options.retries})"
            )
    assert best is not None
    return best


def _far_past(run: Mapping[str, Any], options: BenchOptions) -> bool:
    """Whether a run was far past the client's limit: p99 ten times the target."""
    p99 = (run.get("delivery_ms") or {}).get("p99")
    stamped = run.get("scenario") in STAMPED
    return stamped and p99 is not None and p99 > 10 * options.p99_ms


class _Group:
    """The runs and verdicts of one process count."""

    def __init__(
        self,
        options: BenchOptions,
        processes: int,
        announce: Callable[..., None],
        launcher: Launcher | None = None,
    ):
        self.options = options
        self.processes = processes
        self.announce = announce
        self.launcher = launcher
        self.runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.verdicts: dict[str, dict[int, dict[str, Any]]] = {c: {} for c in options.clients}
        self.order: list[dict[str, Any]] = []

    def failed_at(self, client: str) -> int | None:
        failed = [n for n, v in self.verdicts[client].items() if not v["pass"]]
        return min(failed, default=None)

    def active(self, size: int) -> list[str]:
        """Clients whose limit ``size`` could still change."""
        out = []
        for client in self.options.clients:
            failed = self.failed_at(client)
            if (failed is None or size < failed) and size not in self.verdicts[client]:
                out.append(client)
        return out

    async def measure(self, size: int, say: Say) -> None:
        """Every active client at ``size``, ``repeats`` times, interleaved; then verdicts."""
        options = self.options
        clients = self.active(size)
        unfinished: dict[str, list[str]] = {c: [] for c in clients}
        stopped: set[str] = set()
        for repeat in range(options.repeats):
            for client in clients:
                if client in stopped:
                    continue
                try:
                    run = await run_quiet(options, client, size, self.processes, say, self.launcher)
                except BenchError as exc:
                    say(f"  {client} N={size}: {exc}; counted as a failure")
                    unfinished[client].append(str(exc).splitlines()[0])
                    stopped.add(client)
                    continue
                run["repeat"] = repeat
                self.runs.setdefault((client, size), []).append(run)
                self.order.append(run)
                self.announce(run)
                if _far_past(run, options) and repeat + 1 < options.repeats:
                    stopped.add(client)
        for client in clients:
            verdict = size_verdict(
                self.runs.get((client, size), []),
                options.p99_ms,
                unfinished=unfinished[client],
                stopped=client in stopped and not unfinished[client],
            )
            verdict.update(client=client, sessions=size, processes=self.processes)
            self.verdicts[client][size] = verdict
            if options.repeats > 1 or options.sweep:
                say(_verdict_line(verdict))

    def refine_size(self) -> int | None:
        """The next size to bisect at, or ``None`` when every gap is within the step."""
        step = self.options.refine
        if not step:
            return None
        candidates = []
        for client in self.options.clients:
            failed = self.failed_at(client)
            if failed is None:
                continue
            low = limit(self.verdicts[client]) or 0
            if failed - low <= step:
                continue
            mid = round((low + failed) / 2 / step) * step
            if low < mid < failed and self.active(mid):
                candidates.append(mid)
        return min(candidates, default=None)

    def limits(self) -> dict[str, int | None]:
        return {client: limit(self.verdicts[client]) for client in self.options.clients}

    def comparison(self) -> dict[str, Any] | None:
        """Ours against the peer at its best, at ``compare_at`` or the largest size every
        client passed (else the smallest size every client ran)."""
        clients = self.options.clients
        if "ours" not in clients or len(clients) < 2:
            return None
        common = sorted(
            set.intersection(*(set(self.verdicts[c]) for c in clients)) if clients else set()
        )
        common = [n for n in common if all(self.runs.get((c, n)) for c in clients)]
        if not common:
            return None
        size = self.options.compare_at
        if size not in common:
            passing = [n for n in common if all(self.verdicts[c][n]["pass"] for c in clients)]
            size = max(passing) if passing else common[0]
        rows = compare({c: self.runs[(c, size)] for c in clients})
        return {
            "processes": self.processes,
            "sessions": size,
            "rows": rows,
            "targets": (
                targets(
                    rows,
                    self.limits(),
                    unbounded=[c for c in clients if self.failed_at(c) is None],
                )
                if self.options.sweep
                else []
            ),
        }


def _verdict_line(verdict: Mapping[str, Any]) -> str:
    p99 = verdict["p99_ms"]
    figures = (
        "no run"
        if p99 is None
        else f"p99 median {p99['median']:.2f} ms ({p99['min']:.2f}-{p99['max']:.2f})"
    )
    problems = f"; {'; '.join(verdict['problems'])}" if verdict["problems"] else ""
    return (
        f"  N={verdict['sessions']} {verdict['client']}: {'pass' if verdict['pass'] else 'FAIL'}"
        f", {verdict['runs']} runs, {figures}{problems}"
    )


@contextlib.asynccontextmanager
async def _launcher(
    options: BenchOptions, say: Callable[[str], None]
) -> AsyncIterator[tuple[BenchOptions, Launcher | None, dict[str, Any] | None]]:
    """Local processes (no launcher needed), or the Dask cluster ``options.cluster`` names,
    open for the whole bench; ``options.processes`` becomes the number of its workers used."""
    if options.cluster is None:
        yield options, None, None
        return
    from ._cluster import open_cluster  # Dask is imported only here, and only when asked

    async with open_cluster(options.cluster, options.processes or None, say) as cluster:
        used = cluster.worker_count
        yield attrs.evolve(options, processes=used), cluster, cluster.describe()


async def run_bench(
    options: BenchOptions, announce: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run everything ``options`` asks for; return the whole report as JSON-ready data.

    ``announce`` is called with each run as it finishes (the CLI prints a line for each).
    With ``options.cluster`` the workers are Dask tasks (:mod:`._cluster`); ``processes``
    then asks for that many of the cluster's workers (``0``: all of them).
    """

    def say(line: str) -> None:
        if options.progress or options.wait_quiet:
            print(line, file=sys.stderr, flush=True)

    async with _launcher(options, say) as (options, launcher, cluster):
        report = await _run_bench(options, announce, launcher)
        report["cluster"] = cluster
        return report


async def _run_bench(
    options: BenchOptions,
    announce: Callable[[dict[str, Any]], None] | None,
    launcher: Launcher | None,
) -> dict[str, Any]:

    def note(run: dict[str, Any]) -> None:
        if announce is not None:
            announce(run)

    def say(line: str) -> None:
        if options.progress or options.wait_quiet:
            print(line, file=sys.stderr, flush=True)

    sizes = options.sweep or (options.workload.sessions,)
    report: dict[str, Any] = {
        "workload": options.workload.to_json(),
        "p99_ms": options.p99_ms,
        "url": options.url or "embedded",
        "gc_threshold": options.gc_threshold,
        "clients": list(options.clients),
        "repeats": options.repeats,
        "sweep": bool(options.sweep),
        "runs": [],
        "verdicts": [],
        "limits": [],
        "comparisons": [],
    }
    for processes in options.process_counts:
        group = _Group(options, processes, note, launcher)
        for size in sorted(sizes):
            if not group.active(size):
                continue
            await group.measure(size, say)
        while (extra := group.refine_size()) is not None:
            await group.measure(extra, say)
        report["runs"] += group.order
        report["verdicts"] += [
            v for client in options.clients for _, v in sorted(group.verdicts[client].items())
        ]
        if options.sweep:
            report["limits"] += [
                {
                    "client": client,
                    "processes": processes,
                    "sizes": sorted(group.verdicts[client]),
                    "limit": group.limits()[client],
                    "first_failed": group.failed_at(client),
                }
                for client in options.clients
            ]
        compared = group.comparison()
        if compared is not None:
            report["comparisons"].append(compared)
    return report
