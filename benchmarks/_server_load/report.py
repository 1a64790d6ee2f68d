"""The benchmark's report: latency summaries, the verdict and the printed table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["failed", "percentile", "print_table", "summary"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def _ms(value: float | int | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def failed(report: dict[str, Any]) -> list[str]:
    """Why the run counts as failed (empty: it passed)."""
    problems = []
    idle = report.get("idle")
    if idle is not None:
        if idle["failed"] or idle["connected"] != idle["connections"]:
            problems.append(f"{idle['failed']} idle connections failed")
        if idle["open_after_window"] != idle["connected"]:
            problems.append("idle connections closed during the idle window")
        if idle["fresh_connection_failures"]:
            problems.append(f"{idle['fresh_connection_failures']} fresh connections failed")
        held = idle.get("open_after_streaming", idle["connected"])
        if report["config"]["hold_idle"] and held != idle["connected"]:
            problems.append("idle connections closed during streaming")
    streaming = report.get("streaming")
    if streaming is not None:
        if streaming["failed"] or streaming["connected"] != streaming["sessions"]:
            problems.append(f"{streaming['failed']} streaming connections failed")
        if streaming["closed_early"]:
            problems.append(f"streaming sessions closed early: {streaming['closed_early']}")
    if report.get("server_exit_status") != 0:
        problems.append(f"server exit status {report.get('server_exit_status')}")
    return problems


def print_table(report: dict[str, Any]) -> None:
    print(
        f"server load: trio-realtime serve --realistic, its own process; "
        f"Python {report['python']}, {report['cpus']} CPUs, loopback"
    )
    idle = report.get("idle")
    if idle is not None:
        c = idle["connect_ms"]
        f = idle["fresh_connection_ms"]
        print()
        print(f"phase 1, idle: N = {idle['connections']}")
        rows = [
            (
                "connected",
                f"{idle['connected']} / {idle['connections']}, {idle['failed']} failed "
                f"(in {idle['connect_seconds']:.1f} s, {report['config']['handshakes']} handshakes "
                f"in flight)",
            ),
            ("connect time ms", f"p50 {_ms(c['p50'])}  p99 {_ms(c['p99'])}  max {_ms(c['max'])}"),
            (
                "server RSS",
                f"{idle['server_rss_kib'] / 1024:.1f} MiB "
                f"(empty {idle['server_rss_kib_baseline'] / 1024:.1f} MiB): "
                f"{idle['server_rss_kib_per_connection']:.1f} KiB per connection",
            ),
            (
                "server CPU idle",
                f"{idle['server_cpu_percent']:.2f} % of one core over "
                f"{idle['window_seconds']:g} s ({idle['open_after_window']} still open)",
            ),
            (
                "fresh connection ms",
                f"p50 {_ms(f['p50'])}  max {_ms(f['max'])} "
                f"({f['count']} during the window, {idle['fresh_connection_failures']} failed)",
            ),
        ]
        for name, value in rows:
            print(f"  {name:<22}{value}")
    s = report.get("streaming")
    if s is not None:
        print()
        held = s["idle_connections_held"]
        print(
            f"phase 2, streaming: M = {s['sessions']} sessions over {s['client_processes']} "
            f"client process(es), turns of {s['turn']['speech_s']:g} s speech + "
            f"{s['turn']['silence_s']:g} s silence; {held} idle connections held; "
            f"{s['warmup_seconds']:g} s warm-up, {s['window_seconds']:g} s window"
        )
        c = s["connect_ms"]
        rows = [
            (
                "connected",
                f"{s['connected']} / {s['sessions']}, {s['failed']} failed, "
                f"closed early: {s['closed_early'] or 'none'}; connect p50 {_ms(c['p50'])} "
                f"p99 {_ms(c['p99'])} ms",
            ),
            (
                "appends/s",
                f"{s['appends_per_second']:,.0f} (schedule: "
                f"{s['appends_per_second_expected']:,.0f})",
            ),
            (
                "events/s received",
                f"{s['events_per_second']:,.0f}, of which audio deltas "
                f"{s['audio_deltas_per_second']:,.0f}",
            ),
            (
                "turns",
                f"{s['turns_expected']} ended in the window, {s['turns_stopped']} "
                f"speech_stopped, {s['turns_answered']} answered with audio; "
                f"responses {s['responses']}",
            ),
            ("errors by code", str(s["errors"] or "none")),
        ]
        for name, value in rows:
            print(f"  {name:<22}{value}")
        print(f"  {'latency ms':<36}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
        for name, key in (
            ("speech_stopped, audio time", "speech_stopped_audio_ms"),
            ("speech_stopped, wall", "speech_stopped_wall_ms"),
            ("speech_stopped, reaction", "speech_stopped_reaction_ms"),
            ("first audio delta, wall", "first_audio_delta_wall_ms"),
            ("first audio delta, after stop", "first_audio_delta_after_stop_ms"),
            ("send lateness", "send_lateness_ms"),
        ):
            v = s[key]
            print(
                f"    {name:<34}{_ms(v['p50']):>9}{_ms(v['p90']):>9}{_ms(v['p99']):>9}"
                f"{_ms(v['max']):>9}"
            )
        print(
            f"  {'server CPU':<22}{s['server_cpu_percent']:.1f} % of one core, "
            f"{s['server_system_cpu_percent']:.1f} % of it in the kernel "
            f"(clients: {s['client_cpu_percent']:.1f} %; anything else on the machine: "
            f"{s['other_cpu_percent']:.1f} %)"
        )
        print(
            f"  {'server RSS':<22}{s['server_rss_kib'] / 1024:.1f} MiB at the end, "
            f"max {s['server_rss_kib_max'] / 1024:.1f} MiB (before streaming "
            f"{s['server_rss_kib_before'] / 1024:.1f} MiB)"
        )
    print()
    print(
        f"server exit status {report.get('server_exit_status')}; "
        f"peak RSS {report.get('server_peak_rss_kib', 0) / 1024:.1f} MiB"
    )
