"""The printed report: header, side-by-side tables, sweep tables, ratios, scaling.

Sans-I/O: the report data of :func:`~._orchestrator.run_bench` in, text out.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from ._report import LABELS, ratio_rows, render_ratios, render_run
from ._workload import SCENARIOS

__all__ = ["comparison", "environment", "render_report", "render_sweep"]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    """Where the run happened: CPUs, Python, and the versions that matter."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "trio_realtime": _version("trio-realtime"),
        "trio": _version("trio"),
        "trio_websocket": _version("trio-websocket"),
        "openai": _version("openai"),
        "websockets": _version("websockets"),
    }


def _header(report: Mapping[str, Any]) -> list[str]:
    w = report["workload"]
    env = report.get("environment", {})
    server = (
        report["url"]
        if report["url"] != "embedded"
        else (
            "embedded load server, own process"
            if w["scenario"] == "standard"
            else "embedded reference server (--realistic), own process"
        )
    )
    conversation = "conversation kept" if w["track_conversation"] else "conversation off"
    gc_note = (
        f"GC threshold {report['gc_threshold']} + freeze"
        if report.get("gc_threshold")
        else "default GC"
    )
    return [
        f"trio-realtime bench: scenario {w['scenario']} ({SCENARIOS[w['scenario']]})",
        f"  warm-up {w['warmup']:g} s, window {w['window']:g} s, <= {w['handshakes']} handshakes "
        f"in flight, {w['chunk_ms']} ms appends at {w['speed']:g}x real time; ours: typed "
        f"events, {conversation}; {gc_note} in every client",
        f"  server: {server}; machine: {env.get('cpus', '?')} CPUs, Python "
        f"{env.get('python', '?')}, trio {env.get('trio', '?')}, openai {env.get('openai', '?')}",
    ]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_sweep(runs: Sequence[Mapping[str, Any]]) -> str:
    """One line per run: size, load kept, CPU, latency, memory, verdict."""
    head = (
        f"{'client':>14} {'N':>5} {'proc':>4} {'conn':>5} {'events/s':>9} {'expect':>7} "
        f"{'CPU%':>6} {'CPUs/s-min':>10} {'p50':>6} {'p90':>6} {'p99':>7} {'max':>8} "
        f"{'late99':>7} {'KiB/s':>6} {'srvCPU%':>7}  pass"
    )
    lines = [head]
    for r in runs:
        d = r["delivery_ms"]
        lines.append(
            f"{LABELS.get(r['client'], r['client'])[:14]:>14} {r['sessions']:>5} "
            f"{r['processes']:>4} {r['connected']:>5} {_num(r['events_per_s'], 0):>9} "
            f"{_num(r['expected_events_per_s'], 0):>7} {_num(r['cpu_percent']):>6} "
            f"{_num(r['cpu_s_per_session_minute'], 3):>10} {_num(d['p50'], 2):>6} "
            f"{_num(d['p90'], 2):>6} {_num(d['p99'], 2):>7} {_num(d['max'], 1):>8} "
            f"{_num(r['lateness_ms']['p99'], 2):>7} {_num(r['rss_per_session_kib']):>6} "
            f"{_num(r['server'].get('cpu_percent')):>7}  {'yes' if r['pass'] else 'NO'}"
        )
    return "\n".join(lines)


def comparison(report: Mapping[str, Any]) -> tuple[int, list[dict[str, Any]]] | None:
    """The ratio rows at the size both clients ran where the peer still passed (else the
    largest both ran), with the process count of the first group; ``None`` without a peer."""
    runs = report["runs"]
    processes = min((r["processes"] for r in runs), default=1)
    ours = {r["sessions"]: r for r in runs if r["client"] == "ours" and r["processes"] == processes}
    peer = {
        r["sessions"]: r
        for r in runs
        if r["client"] == "openai-sdk" and r["processes"] == processes
    }
    common = sorted(set(ours) & set(peer))
    if not common:
        return None
    passing = [n for n in common if peer[n]["pass"]]
    size = max(passing) if passing else max(common)
    return size, ratio_rows(ours[size], peer[size])


def _scaling(report: Mapping[str, Any]) -> list[str]:
    counts = sorted({r["processes"] for r in report["runs"]})
    if len(counts) < 2:
        return []
    lines = [
        f"Scaling, 1 -> {counts[-1]} worker processes (one trio or asyncio loop each):",
        f"{'client':>18} {'proc':>4} {'N':>5} {'events/s':>9} {'client CPU%':>11} "
        f"{'CPUs/s-min':>10} {'p99 ms':>8} {'pass':>5} {'largest N passing':>18}",
    ]
    largest = {(s["client"], s["processes"]): s["largest_passing"] for s in report["sweeps"]}
    for client in dict.fromkeys(r["client"] for r in report["runs"]):
        for processes in counts:
            runs = [
                r for r in report["runs"] if r["client"] == client and r["processes"] == processes
            ]
            if not runs:
                continue
            best = largest.get((client, processes))
            shown = next((r for r in runs if r["sessions"] == best), runs[-1])
            lines.append(
                f"{LABELS.get(client, client):>18} {processes:>4} {shown['sessions']:>5} "
                f"{_num(shown['events_per_s'], 0):>9} {_num(shown['cpu_percent']):>11} "
                f"{_num(shown['cpu_s_per_session_minute'], 3):>10} "
                f"{_num(shown['delivery_ms']['p99'], 2):>8} "
                f"{'yes' if shown['pass'] else 'NO':>5} {best if best is not None else '-':>18}"
            )
    return lines


#: Other processes using more than this share of one core during a window spoil it.
FOREIGN_LOAD_LIMIT = 10.0


def _warnings(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    spoiled = [r for r in runs if (r.get("foreign_cpu_percent") or 0.0) > FOREIGN_LOAD_LIMIT]
    if not spoiled:
        return []
    worst = max(r["foreign_cpu_percent"] for r in spoiled)
    # (Each of these was already repeated up to --retries times; this is the quietest.)
    return [
        f"  WARNING: other processes used up to {worst:.0f}% of a core during {len(spoiled)} "
        f"of {len(runs)} windows; those figures measure the competition, not the clients."
    ]


def render_report(report: Mapping[str, Any]) -> str:
    """The whole printed report."""
    runs = report["runs"]
    lines = _header(report) + _warnings(runs)
    if report["sweeps"]:
        lines += ["", render_sweep(runs), ""]
        for sweep in report["sweeps"]:
            best = sweep["largest_passing"]
            lines.append(
                f"largest N with p99 delivery < {report['p99_ms']:g} ms: "
                f"{LABELS.get(sweep['client'], sweep['client'])}, {sweep['processes']} process"
                f"{'es' if sweep['processes'] > 1 else ''}: {best if best is not None else 'none'}"
            )
    else:
        for processes in sorted({r["processes"] for r in runs}):
            group = [r for r in runs if r["processes"] == processes]
            lines += ["", render_run(group)]
    compared = comparison(report)
    if compared is not None:
        size, rows = compared
        lines += ["", f"Side by side at N = {size}:", render_ratios(rows)]
        capacity = _capacity(report)
        if capacity is not None and capacity[1]:
            ours, peer = capacity
            lines.append(
                f"{'largest N with p99 < target':36}{ours:>15}{peer:>13}{ours / peer:>8.2f}x"
            )
    scaling = _scaling(report)
    if scaling:
        lines += ["", *scaling]
    return "\n".join(lines)


def _capacity(report: Mapping[str, Any]) -> tuple[int, int] | None:
    sweeps = report["sweeps"]
    if not sweeps:
        return None
    processes = min(s["processes"] for s in sweeps)
    best = {s["client"]: s["largest_passing"] for s in sweeps if s["processes"] == processes}
    ours, peer = best.get("ours"), best.get("openai-sdk")
    if ours is None or peer is None:
        return None
    return ours, peer
