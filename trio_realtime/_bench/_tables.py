"""The printed report: header, runs, verdicts with their spread, limits, ratios, targets.

Sans-I/O: the report data of :func:`~._sweep.run_bench` in, text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._environment import environment
from ._per_worker import render_workers
from ._report import LABELS, render_run
from ._workload import BASELINES, PEERS, SCENARIOS, TURN_BASED

__all__ = [
    "FOREIGN_LOAD_LIMIT",
    "environment",
    "label",
    "render_comparison",
    "render_report",
    "render_runs",
    "render_targets",
    "render_verdicts",
]

#: Other processes using more than this share of one core during a window spoil it.
FOREIGN_LOAD_LIMIT: Final = 10.0


def label(client: str) -> str:
    """How a client is named in tables."""
    return LABELS.get(client, client)


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _header(report: Mapping[str, Any]) -> list[str]:
    w = report["workload"]
    env = report.get("environment", {})
    server = (
        report["url"]
        if report["url"] != "embedded"
        else (
            "embedded reference server (--realistic), own process"
            if w["scenario"] in TURN_BASED
            else "embedded load server, own process"
            + (" (--sink: it sends nothing back)" if w["scenario"] == "send" else "")
        )
    )
    conversation = "conversation kept" if w["track_conversation"] else "conversation off"
    gc_note = (
        f"GC threshold {report['gc_threshold']} + freeze"
        if report.get("gc_threshold")
        else "default GC"
    )
    repeats = report.get("repeats", 1)
    cluster = report.get("cluster")
    where = []
    if cluster:
        where = [
            f"  workers: Dask cluster {cluster['target']} ({cluster['scheduler']}): "
            f"{len(cluster['workers'])} workers on {cluster['hosts']} "
            f"host{'s' if cluster['hosts'] > 1 else ''}, one task each, "
            + (
                "worker processes restarted before each run"
                if cluster.get("fresh_processes")
                else "worker processes REUSED between runs (no nanny): memory per session "
                "reads low after the first run"
            )
        ]
    return [
        f"trio-realtime bench: scenario {w['scenario']} ({SCENARIOS[w['scenario']]})",
        f"  warm-up {w['warmup']:g} s, window {w['window']:g} s, <= {w['handshakes']} handshakes "
        f"in flight, {w['chunk_ms']} ms appends at {w['speed']:g}x real time; ours: typed "
        f"events, {conversation}; {gc_note} in every client",
        f"  server: {server}; machine: {env.get('cpus', '?')} CPUs, Python "
        f"{env.get('python', '?')}, trio {env.get('trio', '?')}, openai {env.get('openai', '?')}"
        + (f"; {repeats} runs per size and client, interleaved" if repeats > 1 else ""),
        *where,
    ]


def _warnings(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    spoiled = [r for r in runs if (r.get("foreign_cpu_percent") or 0.0) > FOREIGN_LOAD_LIMIT]
    if not spoiled:
        return []
    worst = max(r["foreign_cpu_percent"] for r in spoiled)
    return [
        f"  WARNING: other processes used up to {worst:.0f}% of a core during {len(spoiled)} "
        f"of {len(runs)} windows; those figures measure the competition as well as the clients."
    ]


def render_runs(runs: Sequence[Mapping[str, Any]]) -> str:
    """One line per run: size, repeat, load kept, CPU, latency, stalls, memory, verdict."""
    head = (
        f"{'client':>24} {'N':>5} {'run':>3} {'proc':>4} {'events/s':>9} {'expect':>7} "
        f"{'CPU%':>6} {'us/event':>8} {'p50':>6} {'p99':>8} {'max':>8} {'late99':>7} "
        f"{'stalls':>6} {'KiB/s':>6} {'other%':>6}  pass"
    )
    lines = [head]
    for r in runs:
        d = r["delivery_ms"]
        cpu_us = 1e6 * r["cpu_s"] / r["events"] if r.get("cpu_s") and r["events"] else None
        stalls = (r.get("stalls") or {}).get("stalls")
        lines.append(
            f"{label(r['client'])[:24]:>24} {r['sessions']:>5} {r.get('repeat', 0) + 1:>3} "
            f"{r['processes']:>4} {_num(r['events_per_s'], 0):>9} "
            f"{_num(r['expected_events_per_s'], 0):>7} {_num(r['cpu_percent']):>6} "
            f"{_num(cpu_us, 1):>8} {_num(d['p50'], 2):>6} {_num(d['p99'], 2):>8} "
            f"{_num(d['max'], 1):>8} {_num(r['lateness_ms']['p99'], 2):>7} "
            f"{'-' if stalls is None else stalls:>6} {_num(r['rss_per_session_kib']):>6} "
            f"{_num(r.get('foreign_cpu_percent'), 0):>6}  {'yes' if r['pass'] else 'NO'}"
        )
    return "\n".join(lines)


def _spread(value: Mapping[str, float] | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return (
        f"{_num(value['min'], digits)} / {_num(value['median'], digits)} / "
        f"{_num(value['max'], digits)}"
    )


def render_verdicts(verdicts: Sequence[Mapping[str, Any]], p99_ms: float) -> str:
    """One line per client and size: the spread over its runs and the verdict."""
    head = (
        f"{'client':>24} {'N':>5} {'proc':>4} {'runs':>4}  {'p99 ms min / median / max':>27}  "
        f"{'CPU us/event median':>19}  {'stalls max':>10}  verdict (median p99 < {p99_ms:g} ms, "
        "no problem in any run)"
    )
    lines = [head]
    for v in verdicts:
        cpu = v["cpu_us_per_event"]
        stalls = v.get("stalls")
        verdict = "pass" if v["pass"] else "FAIL"
        if v["problems"]:
            verdict += ": " + "; ".join(v["problems"])
        lines.append(
            f"{label(v['client'])[:24]:>24} {v['sessions']:>5} {v['processes']:>4} "
            f"{v['runs']:>4}  {_spread(v['p99_ms']):>27}  "
            f"{_num(cpu['median'] if cpu else None, 1):>19}  "
            f"{_num(stalls['max'] if stalls else None, 0):>10}  {verdict}"
        )
    return "\n".join(lines)


def _limit_lines(report: Mapping[str, Any]) -> list[str]:
    lines = []
    for entry in report.get("limits", []):
        best = entry["limit"]
        failed = entry["first_failed"]
        lines.append(
            f"largest N with p99 delivery < {report['p99_ms']:g} ms: {label(entry['client'])}, "
            f"{entry['processes']} process{'es' if entry['processes'] > 1 else ''}: "
            f"{best if best is not None else 'none'}"
            + (
                f" (first failing size {failed})"
                if failed is not None
                else " or more (every size tried passed)"
            )
            + f"; sizes tried {', '.join(map(str, entry['sizes']))}"
        )
    return lines


def render_comparison(comparison: Mapping[str, Any], repeats: int = 1) -> str:
    """The side-by-side medians and the ratio of ours to the peer at its best."""
    rows = comparison["rows"]
    clients = [c for c in ("ours", *PEERS, *BASELINES) if any(c in row["values"] for row in rows)]
    width = [max(13, len(label(c)) + 2) for c in clients]
    title = f"Side by side at N = {comparison['sessions']}" + (
        f" (medians of {repeats} runs)" if repeats > 1 else ""
    )
    lines = [
        title + "; ratio = ours / the peer at its best (the better SDK variant for each figure):",
        f"{'':36}"
        + "".join(label(c).rjust(w) for c, w in zip(clients, width, strict=True))
        + f"{'ratio':>9}  better",
    ]
    for row in rows:
        cells = "".join(
            _num(row["values"].get(c), 3).rjust(w) for c, w in zip(clients, width, strict=True)
        )
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        if row["ours_better"] is None:
            better = "-"
        elif abs((row["ratio"] or 1.0) - 1.0) < 0.005:
            better = "equal"
        else:
            better = "ours" if row["ours_better"] else label(row["best_peer"] or "")
        direction = "lower" if row["lower_is_better"] else "higher"
        lines.append(f"{row['name'] + f' ({direction})':30}{cells}{ratio:>9}  {better}")
    return "\n".join(lines)


def render_targets(targets: Sequence[Mapping[str, Any]]) -> str:
    """The project's targets against the SDK at its best, each with its ratio and verdict."""
    lines = ["Targets against the SDK at its best (ours / peer):"]
    for t in targets:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        met = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        peer = f" (vs {label(t['best_peer'])})" if t["best_peer"] else ""
        note = f"; {t['note']}" if t.get("note") else ""
        lines.append(f"  {t['what']:28} {t['op']} {t['bound']:.1f}x: {ratio:>7}{peer}  {met}{note}")
    return "\n".join(lines)


def _scaling(report: Mapping[str, Any]) -> list[str]:
    counts = sorted({r["processes"] for r in report["runs"]})
    if len(counts) < 2:
        return []
    lines = [
        f"Scaling, 1 -> {counts[-1]} worker processes (one trio or asyncio loop each):",
        f"{'client':>24} {'proc':>4} {'largest N passing':>18} {'p99 ms median there':>20}",
    ]
    verdicts = {(v["client"], v["processes"], v["sessions"]): v for v in report["verdicts"]}
    for entry in report.get("limits", []):
        best = entry["limit"]
        there = verdicts.get((entry["client"], entry["processes"], best))
        p99 = there["p99_ms"]["median"] if there and there["p99_ms"] else None
        lines.append(
            f"{label(entry['client']):>24} {entry['processes']:>4} "
            f"{best if best is not None else '-':>18} {_num(p99, 2):>20}"
        )
    return lines


def render_report(report: Mapping[str, Any]) -> str:
    """The whole printed report."""
    runs = report["runs"]
    lines = _header(report) + _warnings(runs)
    repeats = report.get("repeats", 1)
    if report.get("sweep") or repeats > 1:
        lines += ["", render_runs(runs), "", render_verdicts(report["verdicts"], report["p99_ms"])]
        limits = _limit_lines(report)
        if limits:
            lines += ["", *limits]
        # Every run's per-worker figures are in the JSON report; runs that lost a worker
        # show theirs here.
        lines += [line for r in runs if r.get("lost_workers") for line in ("", render_workers(r))]
    else:
        for processes in sorted({r["processes"] for r in runs}):
            group = [r for r in runs if r["processes"] == processes]
            lines += ["", render_run(group)]
            for run in group:
                if len(run.get("workers", [])) > 1:
                    lines += ["", render_workers(run)]
    for comparison in report.get("comparisons", []):
        lines += ["", render_comparison(comparison, repeats)]
        if comparison.get("targets"):
            lines += ["", render_targets(comparison["targets"])]
    scaling = _scaling(report)
    if scaling:
        lines += ["", *scaling]
    return "\n".join(lines)
