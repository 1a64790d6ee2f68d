"""Turning worker results into one report: merged figures, tables, ratios, verdicts.

Sans-I/O: dictionaries in (the workers' JSON, the server's counters), dictionaries and text
out. Histograms merge bucket by bucket (:mod:`._stats`), counters add up, CPU seconds add up,
memory adds up before dividing by the sessions connected. Beside the merged figures, each run
keeps each worker's and each host's (:mod:`._per_worker`), and the workers lost mid-run with
the sessions they held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._meter import TURN_METRICS
from ._per_worker import lost_row, per_host, per_worker, window_skew_ms
from ._stalls import STALL_MS, merge_stalls
from ._stats import Histogram, merge_counts
from ._verdicts import problems
from ._workload import STAMPED, Workload

__all__ = ["LABELS", "merge_run", "passes", "render_run"]

#: How each client is named in tables.
LABELS: Final = {
    "ours": "trio_realtime",
    "openai-sdk-send": "openai SDK send(model)",
    "openai-sdk-append": "openai SDK append()",
    "bare-trio": "bare trio-websocket",
    "bare-asyncio": "bare asyncio websockets",
}


def _hist(parts: Sequence[Mapping[str, Any]], key: str) -> Histogram:
    return Histogram.merged(Histogram.from_json(p[key]) for p in parts)


def merge_run(
    workload: Workload,
    client: str,
    processes: int,
    workers: Sequence[Mapping[str, Any]],
    server: Mapping[str, Any] | None = None,
    *,
    lost: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One client's run at one size: the workers' results merged into plain figures.

    Args:
        workload: The run's settings.
        client: One of :data:`~._workload.CLIENTS`.
        processes: Workers used (lost ones included).
        workers: Each worker's ``result`` JSON (with its ``placement``, where known).
        server: ``cpu_percent`` and, for the load server, its window counters.
        lost: The workers lost mid-run (:func:`lost_worker`): their sessions count as planned
            but not measured, and the run does not pass.

    Returns:
        A JSON-ready dict; histograms appear as summaries and, under ``histograms``, in full;
        ``workers`` and ``hosts`` hold the per-worker and per-host figures.
    """
    connected = sum(w["connected"] for w in workers)
    window = max((w["window_s"] for w in workers), default=0.0) or workload.window
    events = sum(w["events"] for w in workers)
    # Cores busy, per worker: its CPU seconds over the wall time between its two readings.
    rates = [
        w["cpu_window_s"] / (w.get("cpu_wall_s") or window)
        for w in workers
        if w["cpu_window_s"] is not None
    ]
    cores = sum(rates) if rates else None
    cpu = None if cores is None else cores * window
    hists = {
        "connect_ms": _hist(workers, "connect_ms"),
        "delivery_ms": _hist(workers, "delivery_ms"),
        "lateness_ms": _hist(workers, "lateness_ms"),
        "session_events_per_s": _hist(workers, "session_events_per_s"),
        "session_max_ms": _hist(workers, "session_max_ms"),
    }
    for name in TURN_METRICS:
        hists[name] = Histogram.merged(Histogram.from_json(w["turn_ms"][name]) for w in workers)
    process_rates = [
        w["process_cpu_window_s"] / (w.get("cpu_wall_s") or window)
        for w in workers
        if w.get("process_cpu_window_s") is not None
    ]
    idle_kib = sum(w["rss_idle_kib"] - w["rss_base_kib"] for w in workers)
    growth_kib = sum(w["rss_end_kib"] - w["rss_idle_kib"] for w in workers)
    traced = [w["traced_idle_bytes"] for w in workers if w["traced_idle_bytes"] is not None]
    minutes = connected * window / 60.0
    expected = workload.expected_events_per_second
    out: dict[str, Any] = {
        "client": client,
        "label": LABELS.get(client, client),
        "scenario": workload.scenario,
        "sessions": workload.sessions,
        "processes": processes,
        "connected": connected,
        "connect_failures": merge_counts(w["connect_failures"] for w in workers),
        "ended_early": merge_counts(w["ended_early"] for w in workers),
        "errors": merge_counts(w["errors"] for w in workers),
        "window_s": window,
        "events": events,
        "events_per_s": events / window,
        "expected_events_per_s": expected,
        "stamped": sum(w["stamped"] for w in workers),
        "appends": sum(w["appends"] for w in workers),
        "cpu_s": cpu,
        "cpu_percent": None if cpu is None else 100.0 * cpu / window,
        "cpu_clock": "thread"
        if any(w.get("cpu_clock") == "thread" for w in workers)
        else "process",
        "process_cpu_percent": 100.0 * sum(process_rates) if process_rates else None,
        "cpu_s_per_session_minute": None if cpu is None or not minutes else cpu / minutes,
        "events_per_cpu_s": None if not cpu else events / cpu,
        "rss_per_session_kib": idle_kib / connected if connected else None,
        "rss_growth_per_session_kib": growth_kib / connected if connected else None,
        "rss_total_kib": sum(w["rss_end_kib"] for w in workers),
        "traced_per_session_bytes": sum(traced) / connected if traced and connected else None,
        "traced_top": [line for w in workers for line in w["traced_top"]][:8],
        "gc": _gc(workers),
        "stalls": merge_stalls(w.get("stalls", {}) for w in workers),
        "usage": _usage(workers),
        "turns_ended": sum(w["turns_ended"] for w in workers),
        "turns_answered": sum(w["turns_answered"] for w in workers),
        "server": dict(server or {}),
        "stamps_untrusted": [w["worker"] for w in workers if not w.get("stamps_trusted", True)],
        "window_skew_ms": window_skew_ms(workers),
        "lost_workers": [dict(w) for w in lost],
    }
    out.update({name: h.summary() for name, h in hists.items()})
    out["histograms"] = {name: h.to_json() for name, h in hists.items()}
    rows = [per_worker(workload, w) for w in workers]
    rows += [lost_row(w) for w in lost]
    out["workers"] = sorted(rows, key=lambda r: int(r["worker"]))
    out["hosts"] = per_host(workload, out["workers"])
    return out


def _usage(workers: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """The workers' user and system CPU and context switches in the window, summed."""
    parts = [w["usage"] for w in workers if w.get("usage")]
    if not parts:
        return None
    return {key: sum(p[key] for p in parts) for key in parts[0]}


def _gc(workers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The workers' collector pauses in the window: counts and time summed, longest taken."""
    figures = [w["gc"] for w in workers if w.get("gc")]
    tracked = [f["tracked_idle"] for f in figures if f["tracked_idle"] is not None]
    return {
        "counts": [sum(f["counts"][g] for f in figures) for g in range(3)],
        "total_ms": [sum(f["total_ms"][g] for f in figures) for g in range(3)],
        "longest_ms": [max((f["longest_ms"][g] for f in figures), default=0.0) for g in range(3)],
        "collected": [sum(f.get("collected", [0, 0, 0])[g] for f in figures) for g in range(3)],
        "tracked_idle": sum(tracked) if tracked else None,
    }


def passes(run: Mapping[str, Any], p99_ms: float) -> bool:
    """Whether one run sustained its load: no :func:`~._verdicts.problems` and (where events
    are stamped) p99 delivery latency under ``p99_ms``. A size's verdict, over repeated runs,
    is :func:`~._verdicts.size_verdict`."""
    if problems(run):
        return False
    p99 = run["delivery_ms"]["p99"]
    if run["scenario"] in STAMPED:
        return p99 is not None and p99 < p99_ms
    return True


# --- formatting ----------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ms_row(summary: Mapping[str, Any]) -> str:
    if not summary["count"]:
        return "-"
    return " / ".join(_num(summary[k], 1) for k in ("p50", "p90", "p99", "max"))


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"


def _full_collections(run: Mapping[str, Any]) -> str:
    gc = run.get("gc")
    if not gc or not any(gc["counts"]):
        return "-"
    tracked = gc["tracked_idle"]
    objects = f" ({tracked:,} objects tracked idle)" if tracked else ""
    return f"{gc['counts'][2]}, {_num(gc['longest_ms'][2], 1)}{objects}"


def _rows(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    expected = run["expected_events_per_s"]
    lost = run.get("lost_workers", [])
    workers = (
        f"{run['processes']} Dask workers"
        if str(run.get("launcher", "")).startswith("cluster")
        else f"{run['processes']} proc"
    )
    rows = [
        ("sessions connected", f"{run['connected']}/{run['sessions']} ({workers})"),
        *([("workers lost mid-run", _lost_summary(lost))] if lost else []),
        ("connect ms p50/p90/p99/max", _ms_row(run["connect_ms"])),
        (
            "events/s received" + (" (expected)" if expected else ""),
            _num(run["events_per_s"], 0) + (f" ({expected:,.0f})" if expected else ""),
        ),
        ("events/s per session min/p50", _per_session(run)),
    ]
    if run["scenario"] == "send":
        rows.append(("appends/s sent", _num(run["appends"] / run["window_s"], 0)))
        rows.append(("CPU µs per append", _num(_per(run, "appends"), 1)))
    elif run["scenario"] in STAMPED:
        rows.append(("delivery ms p50/p90/p99/max", _ms_row(run["delivery_ms"])))
        rows.append(("CPU µs per event received", _num(_per(run, "events"), 1)))
        rows.append(("worst session's max ms p50", _num(run["session_max_ms"]["p50"], 1)))
    else:
        names = {
            "speech_stopped_ms": "end of speech -> speech_stopped",
            "first_audio_ms": "  -> first audio delta",
            "first_transcript_ms": "  -> first transcript delta",
            "turn_ms": "  -> response.done (turn)",
        }
        if run["scenario"] == "transcription":
            names["turn_ms"] = "  -> transcription completed"
        for key, label in names.items():
            if run[key]["count"]:
                rows.append((label + " ms p50/p90/p99/max", _ms_row(run[key])))
        rows.append(("turns answered/ended", f"{run['turns_answered']}/{run['turns_ended']}"))
    rows.append(
        (
            f"  user / system µs, passes, sleeps per {'append' if run['scenario'] == 'send' else 'event'}",
            _usage_row(run, "appends" if run["scenario"] == "send" else "events"),
        )
    )
    rows += [
        ("send lateness ms p50/p99", _lateness(run)),
        (
            "client CPU, % of one core"
            + (" (loop threads)" if run.get("cpu_clock") == "thread" else ""),
            _num(run["cpu_percent"], 1),
        ),
        *(
            [("worker processes' CPU with Dask's, %", _num(run.get("process_cpu_percent"), 1))]
            if run.get("cpu_clock") == "thread"
            else []
        ),
        ("CPU s per session-minute", _num(run["cpu_s_per_session_minute"], 3)),
        ("events per CPU-second", _num(run["events_per_cpu_s"], 0)),
        ("RSS per session, idle (KiB)", _num(run["rss_per_session_kib"], 1)),
        ("RSS growth per session, run (KiB)", _num(run["rss_growth_per_session_kib"], 1)),
        ("GC full collections, longest ms", _full_collections(run)),
        ("loop pass ms p99 / max", _passes(run)),
        (f"loop stalls >= {STALL_MS:g} ms, longest (CPU/GC/off)", _stalls(run)),
    ]
    if run.get("window_skew_ms") is not None:
        rows.append(("workers' window starts apart (ms)", _num(run["window_skew_ms"], 2)))
    if run["traced_per_session_bytes"] is not None:
        rows.append(
            ("traced per session, idle (KiB)", _num(run["traced_per_session_bytes"] / 1024))
        )
    server = run["server"]
    rows.append(("server CPU, % of one core", _num(server.get("cpu_percent"), 1)))
    if run["scenario"] in STAMPED:
        rows.append(
            (
                "server tick lateness p99 / max (ms)",
                f"{_num(server.get('tick_lateness_p99_ms'), 2)} / "
                f"{_num(server.get('tick_lateness_max_ms'), 1)}",
            )
        )
        rows.append(("server GC pauses, longest ms", _server_gc(server.get("gc"))))
    rows.append(("other load on the machine, %", _num(run.get("foreign_cpu_percent"), 1)))
    rows += [
        ("connect failures", _counts(run["connect_failures"])),
        ("sessions ended early", _counts(run["ended_early"])),
        ("error events by code", _counts(run["errors"])),
    ]
    return rows


def _lost_summary(lost: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"worker {w['worker']} ({w['sessions']} sessions)" for w in lost)


def _server_gc(gc: Mapping[str, Any] | None) -> str:
    if not gc:
        return "-"
    return f"{sum(gc['counts'])}, {_num(max(gc['longest_ms']), 1)}"


def _per(run: Mapping[str, Any], key: str) -> float | None:
    """CPU microseconds per event or per append in the window."""
    cpu, count = run.get("cpu_s"), run.get(key)
    return None if cpu is None or not count else 1e6 * cpu / count


def _usage_row(run: Mapping[str, Any], key: str) -> str:
    """The window's user and system CPU µs, scheduler passes and sleeps (voluntary context
    switches: waits for I/O or a timer) per event or append."""
    usage, count = run.get("usage"), run.get(key)
    if not usage or not count:
        return "-"
    stalls = run.get("stalls")
    passes = stalls["passes_ms"]["count"] / count if stalls else None
    return (
        f"{_num(1e6 * usage['user_s'] / count, 1)} / {_num(1e6 * usage['system_s'] / count, 1)}, "
        f"{_num(passes, 2)}, {_num(usage['voluntary_switches'] / count, 2)}"
    )


def _passes(run: Mapping[str, Any]) -> str:
    stalls = run.get("stalls")
    if not stalls or not stalls["passes_ms"]["count"]:
        return "-"
    passes = Histogram.from_json(stalls["passes_ms"])
    return f"{_num(passes.percentile(99), 2)} / {_num(passes.max, 1)}"


def _stalls(run: Mapping[str, Any]) -> str:
    """``count, longest ms (CPU ms of it / of which the collector's / off-CPU ms)``."""
    stalls = run.get("stalls")
    if not stalls or not stalls["stalls"]:
        return "0"
    top = stalls["longest"][0]
    return (
        f"{stalls['stalls']}, {top['ms']:.1f} "
        f"({top['cpu_ms']:.1f}/{top.get('gc_cpu_ms', 0.0):.1f}/{top['off_cpu_ms']:.1f})"
    )


def _per_session(run: Mapping[str, Any]) -> str:
    rates = run["session_events_per_s"]
    if not rates["count"]:
        return "-"
    low = Histogram.from_json(run["histograms"]["session_events_per_s"]).min
    return f"{low:.1f} / {rates['p50']:.1f}"


def _lateness(run: Mapping[str, Any]) -> str:
    late = run["lateness_ms"]
    return "-" if not late["count"] else f"{late['p50']:.2f} / {late['p99']:.2f}"


def render_run(runs: Sequence[Mapping[str, Any]]) -> str:
    """The side-by-side table of one size: one column per client."""
    per = [_rows(run) for run in runs]
    labels = [label for label, _ in per[0]]
    width = max(len(label) for label in labels) + 2
    cols = [
        max(len(run["label"]), *(len(v) for _, v in rows)) + 2
        for run, rows in zip(runs, per, strict=True)
    ]
    lines = [
        " " * width + "".join(run["label"].rjust(c) for run, c in zip(runs, cols, strict=True))
    ]
    for i, label in enumerate(labels):
        cells = []
        for rows, c in zip(per, cols, strict=True):
            value = rows[i][1] if i < len(rows) and rows[i][0] == label else "-"
            cells.append(value.rjust(c))
        lines.append(label.ljust(width) + "".join(cells))
    return "\n".join(lines)
