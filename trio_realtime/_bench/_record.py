"""A report cut down to what published tables need: the raw results committed with them.

A full ``--json`` report keeps every histogram's buckets and a per-second timeline for every
run (hundreds of kilobytes for a record sweep). :func:`compact_report` keeps, per run, the
summaries the tables and their readers use (counts, percentiles, CPU, memory, collector and
stall figures, the load from other processes), and the verdicts, limits and comparisons
whole, so ``benchmarks/tables.py`` regenerates every published figure from a small file.

Sans-I/O: dictionaries in, dictionaries out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["RUN_FIELDS", "compact_report", "compact_run"]

#: The fields of a run kept as they are.
RUN_FIELDS: Final = (
    "client",
    "scenario",
    "sessions",
    "processes",
    "repeat",
    "attempts",
    "connected",
    "connect_failures",
    "ended_early",
    "errors",
    "window_s",
    "events",
    "events_per_s",
    "expected_events_per_s",
    "stamped",
    "appends",
    "cpu_s",
    "cpu_percent",
    "cpu_s_per_session_minute",
    "events_per_cpu_s",
    "rss_per_session_kib",
    "rss_growth_per_session_kib",
    "traced_per_session_bytes",
    "foreign_cpu_percent",
    "turns_ended",
    "turns_answered",
    "pass",
)
#: The latency summaries kept (each ``count``, ``mean``, ``p50``, ``p90``, ``p99``, ``max``).
SUMMARIES: Final = (
    "delivery_ms",
    "lateness_ms",
    "connect_ms",
    "session_max_ms",
    "speech_stopped_ms",
    "first_audio_ms",
    "first_transcript_ms",
    "turn_ms",
)


def _round(value: Any, digits: int = 4) -> Any:
    """Floats to ``digits`` significant decimals, through containers (smaller files, and
    nothing a table shows is lost)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if value == value else None
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v, digits) for v in value]
    return value


def compact_run(run: Mapping[str, Any]) -> dict[str, Any]:
    """One run's figures without histograms' buckets or the timeline."""
    out: dict[str, Any] = {key: run.get(key) for key in RUN_FIELDS if key in run}
    for key in SUMMARIES:
        if key in run and run[key].get("count"):
            out[key] = run[key]
    gc = run.get("gc")
    if gc:
        out["gc"] = {k: gc[k] for k in ("counts", "total_ms", "longest_ms", "tracked_idle")}
    stalls = run.get("stalls")
    if stalls:
        out["stalls"] = {
            "stalls": stalls["stalls"],
            "stall_ms": stalls["stall_ms"],
            "off_cpu_ms": stalls["off_cpu_ms"],
            "gc_in_stalls_ms": stalls["gc_in_stalls_ms"],
            "longest": stalls["longest"][:3],
        }
    server = run.get("server") or {}
    out["server"] = {k: server[k] for k in ("cpu_percent", "tick_lateness_p99_ms") if k in server}
    return _round(out)  # type: ignore[no-any-return]


def compact_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The whole report, each run compacted; verdicts, limits and comparisons kept whole."""
    out = {
        key: report[key]
        for key in ("workload", "p99_ms", "url", "gc_threshold", "clients", "repeats", "sweep")
        if key in report
    }
    out["runs"] = [compact_run(run) for run in report["runs"]]
    for key in ("verdicts", "limits", "comparisons"):
        out[key] = _round(report.get(key, []))
    return out
