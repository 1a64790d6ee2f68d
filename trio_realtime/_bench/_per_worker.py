"""Each worker's and each host's own figures, beside a run's merged ones, and the workers
lost mid-run with the sessions they held.

Sans-I/O: the workers' result JSON (with where each ran) in, JSON-ready rows and text out.
:func:`~._report.merge_run` attaches them to every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._stats import Histogram
from ._worker import WorkerSpec
from ._workload import STAMPED, Workload

__all__ = [
    "latency_key",
    "lost_row",
    "lost_worker",
    "per_host",
    "per_worker",
    "render_workers",
    "window_skew_ms",
]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def latency_key(scenario: str) -> str:
    """The latency a scenario is judged by: delivery (stamped) or end of speech to the end of
    the turn."""
    return "delivery_ms" if scenario in STAMPED else "turn_ms"


def _latency_hist(worker: Mapping[str, Any], key: str) -> Histogram:
    data = worker["turn_ms"]["turn_ms"] if key == "turn_ms" else worker[key]
    return Histogram.from_json(data)


def lost_worker(
    spec: WorkerSpec,
    placement: Mapping[str, Any],
    reason: str,
    progress: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A worker lost mid-run, for the report: where it ran, why it was lost, the sessions it
    held (never run again elsewhere) and what it last reported."""
    last = progress or {}
    return {
        "worker": spec.worker,
        "host": placement.get("host"),
        "address": placement.get("address"),
        "pid": placement.get("pid"),
        "clock": placement.get("clock"),
        "sessions": len(spec.indices),
        "session_indices": list(spec.indices),
        "reason": reason,
        "last_progress": {k: last[k] for k in ("connected", "alive", "events") if k in last},
    }


def _rate(seconds: float | None, wall: float) -> float | None:
    return None if seconds is None else 100.0 * seconds / wall


def per_worker(workload: Workload, worker: Mapping[str, Any]) -> dict[str, Any]:
    """One worker's own figures: sessions, events/s, CPU, memory, latency, where it ran."""
    window = worker["window_s"] or workload.window
    wall = worker.get("cpu_wall_s") or window
    key = latency_key(workload.scenario)
    latency = _latency_hist(worker, key)
    placement = worker.get("placement", {})
    connected = worker["connected"]
    return {
        "worker": worker["worker"],
        "host": placement.get("host"),
        "address": placement.get("address"),
        "pid": placement.get("pid"),
        "clock": placement.get("clock", worker.get("clock")),
        "sessions": worker["sessions"],
        "connected": connected,
        "ended_early": sum(worker["ended_early"].values()),
        "errors": sum(worker["errors"].values()),
        "events": worker["events"],
        "events_per_s": worker["events"] / window,
        "cpu_s": worker["cpu_window_s"],
        "cpu_percent": _rate(worker["cpu_window_s"], wall),
        "cpu_clock": worker.get("cpu_clock", "process"),
        "process_cpu_s": worker.get("process_cpu_window_s"),
        "process_cpu_percent": _rate(worker.get("process_cpu_window_s"), wall),
        "rss_kib": worker["rss_end_kib"],
        "rss_per_session_kib": (
            (worker["rss_idle_kib"] - worker["rss_base_kib"]) / connected if connected else None
        ),
        "stamps_trusted": worker.get("stamps_trusted", True),
        "dask_profiler": placement.get("dask_profiler", False),
        "latency": latency.summary(),
        "histograms": {key: latency.to_json()},
        "lost": None,
    }


def per_host(workload: Workload, workers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The workers' figures added up by host (lost workers counted, not measured)."""
    key = latency_key(workload.scenario)
    hosts: dict[str, list[Mapping[str, Any]]] = {}
    for row in workers:
        hosts.setdefault(str(row["host"]), []).append(row)
    out = []
    for host, rows in hosts.items():
        measured = [r for r in rows if r["lost"] is None]

        def total(name: str, rows: Sequence[Mapping[str, Any]] = measured) -> float | None:
            values = [r[name] for r in rows if r[name] is not None]
            return sum(values) if values else None

        latency = Histogram.merged(Histogram.from_json(r["histograms"][key]) for r in measured)
        out.append(
            {
                "host": host,
                "workers": len(rows),
                "lost": len(rows) - len(measured),
                "sessions": sum(r["sessions"] for r in rows),
                "connected": sum(r["connected"] for r in measured),
                "events_per_s": total("events_per_s") or 0.0,
                "cpu_percent": total("cpu_percent"),
                "process_cpu_percent": total("process_cpu_percent"),
                "rss_kib": total("rss_kib"),
                "latency": latency.summary(),
            }
        )
    return out


def window_skew_ms(workers: Sequence[Mapping[str, Any]]) -> float | None:
    """How far apart the workers' windows opened, among workers reading one clock (the
    largest spread of any machine); ``None`` with fewer than two such workers."""
    starts: dict[str, list[float]] = {}
    for w in workers:
        start = w.get("window_start")
        clock = w.get("clock") or w.get("placement", {}).get("clock")
        if start is not None and clock is not None:
            starts.setdefault(clock, []).append(start)
    spreads = [max(s) - min(s) for s in starts.values() if len(s) > 1]
    return 1000.0 * max(spreads) if spreads else None


def lost_row(lost: Mapping[str, Any]) -> dict[str, Any]:
    """A lost worker's line in the per-worker figures: where it ran, what it held."""
    return {
        "worker": lost["worker"],
        "host": lost["host"],
        "address": lost["address"],
        "pid": lost["pid"],
        "clock": lost["clock"],
        "sessions": lost["sessions"],
        "connected": 0,
        "lost": lost["reason"],
        **dict.fromkeys(
            (
                "events_per_s",
                "cpu_s",
                "cpu_percent",
                "process_cpu_s",
                "process_cpu_percent",
                "rss_kib",
                "rss_per_session_kib",
            )
        ),
    }


def _indices(indices: Sequence[int]) -> str:
    shown = ", ".join(map(str, indices[:12]))
    return shown + (f", ... ({len(indices)} in all)" if len(indices) > 12 else "")


def render_workers(run: Mapping[str, Any]) -> str:
    """The run's per-worker and per-host figures, and what each lost worker held."""
    key = latency_key(run["scenario"])
    what = "delivery" if key == "delivery_ms" else "turn"
    thread = run.get("cpu_clock") == "thread"
    head = (
        f"{'worker':>6} {'host':>16} {'where':>22} {'sessions':>8} {'connected':>9} "
        f"{'events/s':>9} {'CPU%':>6} {'proc%':>6} {'RSS MiB':>8} {'KiB/sess':>8} "
        f"{what + ' p99':>12}"
    )
    title = f"Per worker: {run['label']}, N = {run['sessions']}" + (
        " (CPU%: the loop's thread; proc%: the whole worker process, Dask's threads too)"
        if thread
        else ""
    )
    lines = [title, head]
    for w in run.get("workers", []):
        where = w.get("address") or (f"pid {w['pid']}" if w.get("pid") else "-")
        if w["lost"] is not None:
            lines.append(
                f"{w['worker']:>6} {str(w['host'])[:16]:>16} {str(where)[-22:]:>22} "
                f"{w['sessions']:>8}  LOST mid-run: {w['lost']}"
            )
            continue
        latency = w["latency"]["p99"] if w["stamps_trusted"] or key != "delivery_ms" else None
        rss = None if w["rss_kib"] is None else w["rss_kib"] / 1024
        lines.append(
            f"{w['worker']:>6} {str(w['host'])[:16]:>16} {str(where)[-22:]:>22} "
            f"{w['sessions']:>8} {w['connected']:>9} {_num(w['events_per_s'], 0):>9} "
            f"{_num(w['cpu_percent']):>6} {_num(w['process_cpu_percent']):>6} "
            f"{_num(rss):>8} {_num(w['rss_per_session_kib']):>8} "
            + (
                f"{_num(latency, 2):>12}"
                if w["stamps_trusted"] or key != "delivery_ms"
                else f"{'other clock':>12}"
            )
        )
    hosts = run.get("hosts", [])
    if len(hosts) > 1 or any(h["lost"] for h in hosts):
        lines += [
            "Per host:",
            f"{'host':>16} {'workers':>7} {'lost':>4} {'sessions':>8} {'connected':>9} "
            f"{'events/s':>9} {'CPU%':>6} {'proc%':>6} {'RSS MiB':>8} {what + ' p99':>12}",
        ]
        for h in hosts:
            rss = None if h["rss_kib"] is None else h["rss_kib"] / 1024
            lines.append(
                f"{h['host'][:16]:>16} {h['workers']:>7} {h['lost']:>4} {h['sessions']:>8} "
                f"{h['connected']:>9} {_num(h['events_per_s'], 0):>9} "
                f"{_num(h['cpu_percent']):>6} {_num(h['process_cpu_percent']):>6} "
                f"{_num(rss):>8} {_num(h['latency']['p99'], 2):>12}"
            )
    for lost in run.get("lost_workers", []):
        lines.append(
            f"Worker {lost['worker']} was lost mid-run ({lost['reason']}); its "
            f"{lost['sessions']} sessions were not run again elsewhere: "
            f"{_indices(lost['session_indices'])}"
        )
    profiled = [w["worker"] for w in run.get("workers", []) if w.get("dask_profiler")]
    if profiled:
        lines.append(
            "Workers "
            + ", ".join(map(str, profiled))
            + " ran with Dask's sampling profiler on (it walks the loop's stack every 10 ms): "
            "start them with DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False."
        )
    if run.get("stamps_untrusted"):
        lines.append(
            "Workers "
            + ", ".join(map(str, run["stamps_untrusted"]))
            + " read another machine's clock than the server's: their events are counted, "
            "their delivery latency is not measured (see README.rst, clusters)."
        )
    return "\n".join(lines)
