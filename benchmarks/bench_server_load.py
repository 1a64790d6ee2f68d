"""Server load: one reference-server process holding idle connections and real-time audio sessions.

The server (``trio-realtime serve --realistic``) runs in its own process, so its CPU and memory
are read apart from the clients' (``/proc/<pid>/stat`` and ``/proc/<pid>/status``). Clients are
bare trio-websocket connections sending pre-encoded frames and parsing with orjson, untyped, so
that the client side stays cheap on a 2-core machine. Two phases:

**1. Idle.** ``--idle`` connections (at most ``--handshakes`` in flight) each wait for
``session.created``, then all sit idle for ``--idle-window`` seconds. Reported: how many
connected, connect time (TCP connect to ``session.created``, after taking a handshake slot)
p50/p99, server RSS (total, and the growth over the warmed-up empty server per connection),
server CPU while idle, and the connect time of a few fresh connections made during the idle
window. By default the idle connections stay open through phase 2 (``--no-hold-idle`` closes
them first).

**2. Streaming.** ``--streaming`` sessions, sharded over ``--client-processes`` processes,
stream speech-like PCM16 at real time: one 100 ms ``input_audio_buffer.append`` every 100 ms
on an absolute schedule (a late send fires at once; lateness does not accumulate), in turns
of ``--speech`` seconds of speech and ``--silence`` seconds of digital silence. The server's
default session runs server VAD (200 ms of silence ends a turn), commits each turn and answers
it with a spoken reply, paced at real time. Sessions are spread evenly over the 100 ms tick
and over the turn cycle. After ``--warmup`` seconds, a ``--window`` of seconds is measured.

Time definitions (all on the client's monotonic clock, per turn):

* Audio of chunk ``k`` covers session audio ``[100k, 100k + 100)`` ms; it is sent at its
  *end*, ``t0 + (k + 1) * 0.1`` s, like a microphone would. The **end of speech** is the
  moment the send of the append carrying the turn's last speech chunk starts.
* **speech_stopped, audio**: ``audio_end_ms`` minus the audio time of the end of speech. This
  is the VAD's own decision (its silence window, plus any quiet tail of the speech), fixed by
  the audio, independent of load.
* **speech_stopped, wall**: receipt of ``speech_stopped`` minus the end of speech. Ideally
  the audio figure rounded up to the 100 ms chunk that completes the silence.
* **speech_stopped, reaction**: receipt of ``speech_stopped`` minus the start of the send of
  the append that completed its ``audio_end_ms``: the time the server (and loopback, and the
  client's own event loop) took to react. Load shows here.
* **first audio delta, wall**: receipt of the turn's first ``response.audio.delta`` minus the
  end of speech. **after stop**: the same minus receipt of ``speech_stopped``; the engine's
  ``first_delta_delay`` (300 ms) is the ideal.
* **send lateness**: when an append's send starts minus its scheduled time.

Events/s counts every server event received during the window, by receipt time. The CPU used
by everything else on the machine during the window is reported too: on 2 cores, other
processes delay the server and the clients, and the latencies with them.

This script runs the phases and owns the command line; the client connection, the worker
process, the ``/proc`` meters, the child processes and the report are in ``_server_load/``.

Run: ``python benchmarks/bench_server_load.py [--idle 1000] [--streaming 200]
[--client-processes 1] [--json PATH]``. Exit status 1 if any connection failed or the
server died.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import trio
from _server_load.client import close_all, closing_race_ignored, failure_name, open_session
from _server_load.proc import CpuMeter, machine_busy_seconds, memory_kib
from _server_load.processes import ServerProcess, expect, spawn_worker, start_server, stop_process
from _server_load.report import failed, print_table, summary
from _server_load.worker import CHUNK_MS, TAIL, WorkerSpec, run_worker
from trio_websocket import WebSocketConnection

_SCRIPT: Final = os.path.abspath(__file__)
#: The engine's first_delta_delay under ``--realistic`` (SimulatedEngine.realistic()).
FIRST_DELTA_DELAY_MS: Final = 300.0


async def idle_phase(
    args: argparse.Namespace, server: ServerProcess, nursery: trio.Nursery
) -> tuple[dict[str, Any], list[WebSocketConnection]]:
    pid = server.pid
    # Warm the server up (imports, codec hooks) so the baseline is the empty, ready server.
    probe_limiter = trio.CapacityLimiter(1)
    async with trio.open_nursery() as warm:
        ws, _ = await open_session(warm, server.url, probe_limiter, args.connect_timeout)
        await ws.aclose()
    await trio.sleep(0.5)
    baseline = memory_kib(pid)["VmRSS"]

    limiter = trio.CapacityLimiter(args.handshakes)
    connections: list[WebSocketConnection] = []
    connect_ms: list[float] = []
    failures: Counter[str] = Counter()

    async def connect() -> None:
        try:
            ws, ms = await open_session(nursery, server.url, limiter, args.connect_timeout)
        except Exception as exc:
            failures[failure_name(exc)] += 1
            return
        connections.append(ws)
        connect_ms.append(ms)

    meter = CpuMeter([pid])
    meter.start()
    started = time.monotonic()
    async with trio.open_nursery() as connecting:
        for _ in range(args.idle):
            connecting.start_soon(connect)
    connect_seconds = time.monotonic() - started
    connect_cpu = meter.stop()
    connected_rss = memory_kib(pid)["VmRSS"]

    # The idle window, with a few fresh connections made during it.
    probe_ms: list[float] = []
    probe_failures = 0
    meter.start()
    window_start = trio.current_time()
    for j in range(args.probes):
        await trio.sleep_until(window_start + args.idle_window * (j + 0.5) / args.probes)
        try:
            async with trio.open_nursery() as probe:
                ws, ms = await open_session(probe, server.url, probe_limiter, args.connect_timeout)
                probe_ms.append(ms)
                await ws.aclose()
        except Exception:
            probe_failures += 1
    await trio.sleep_until(window_start + args.idle_window)
    idle_cpu = meter.stop()
    memory = memory_kib(pid)
    still_open = sum(ws.closed is None for ws in connections)
    result = {
        "connections": args.idle,
        "connected": len(connections),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "open_after_window": still_open,
        "connect_seconds": connect_seconds,
        "connect_ms": summary(connect_ms),
        "server_cpu_percent_connecting": connect_cpu,
        "server_rss_kib_baseline": baseline,
        "server_rss_kib_connected": connected_rss,
        "server_rss_kib": memory["VmRSS"],
        "server_rss_kib_per_connection": (memory["VmRSS"] - baseline) / max(1, len(connections)),
        "window_seconds": args.idle_window,
        "server_cpu_percent": idle_cpu,
        "fresh_connection_ms": summary(probe_ms),
        "fresh_connection_failures": probe_failures,
    }
    return result, connections


async def streaming_phase(args: argparse.Namespace, server: ServerProcess) -> dict[str, Any]:
    pid = server.pid
    k = max(1, min(args.client_processes, args.streaming or 1))
    speech_chunks = max(1, round(args.speech * 1000 / CHUNK_MS))
    silence_chunks = max(1, round(args.silence * 1000 / CHUNK_MS))
    rss_before = memory_kib(pid)["VmRSS"]
    workers = []
    try:
        for j in range(k):
            spec = WorkerSpec(
                url=server.url,
                indices=list(range(j, args.streaming, k)),
                total=max(1, args.streaming),
                speech_chunks=speech_chunks,
                silence_chunks=silence_chunks,
                warmup=args.warmup,
                window=args.window,
                handshakes=max(1, args.handshakes // k),
                connect_timeout=args.connect_timeout,
            )
            workers.append(await spawn_worker(_SCRIPT, spec))
        for worker in workers:
            await expect(worker, "ready", 60 + args.connect_timeout)
        rss_connected = memory_kib(pid)["VmRSS"]
        go = time.monotonic() + 0.5
        for worker in workers:
            assert worker.process.stdin is not None
            await worker.process.stdin.send_all(f"go {go!r}\n".encode())
        server_meter = CpuMeter([pid])
        server_system = CpuMeter([pid], system_only=True)
        client_meter = CpuMeter([w.process.pid for w in workers])
        own_meter = CpuMeter([pid, os.getpid(), *(w.process.pid for w in workers)])
        await trio.sleep(go + args.warmup - time.monotonic())
        server_meter.start()
        server_system.start()
        client_meter.start()
        own_meter.start()
        busy, wall = machine_busy_seconds(), time.monotonic()
        rss_samples = [memory_kib(pid)["VmRSS"]]
        end = go + args.warmup + args.window
        while (left := end - time.monotonic()) > 0:
            await trio.sleep(min(1.0, left))
            rss_samples.append(memory_kib(pid)["VmRSS"])
        server_cpu = server_meter.stop()
        server_system_cpu = server_system.stop()
        client_cpu = client_meter.stop()
        own_cpu = own_meter.stop()
        machine_cpu = 100.0 * (machine_busy_seconds() - busy) / (time.monotonic() - wall)
        reports = [await expect(w, "result", 60 + TAIL + 15) for w in workers]
        for worker in workers:
            await worker.process.wait()
    finally:
        for worker in workers:
            await stop_process(worker.process, 5)

    def merged(key: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in reports:
            total.update(r[key])
        return total

    events = merged("events")
    turns = [t for r in reports for t in r["turns"]]
    lateness_ms = [u / 1000.0 for r in reports for u in r["lateness_us"]]
    connect_ms = [ms for r in reports for ms in r["connect_ms"]]
    failures = merged("failures")
    cycle_s = (speech_chunks + silence_chunks) * CHUNK_MS / 1000.0

    def col(name: str) -> list[float]:
        return [t[name] for t in turns if name in t]

    return {
        "sessions": args.streaming,
        "client_processes": k,
        "connected": len(connect_ms),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "closed_early": dict(merged("closed_early")),
        "connect_ms": summary(connect_ms),
        "turn": {"speech_s": speech_chunks / 10, "silence_s": silence_chunks / 10},
        "warmup_seconds": args.warmup,
        "window_seconds": args.window,
        "window_start_monotonic": go + args.warmup,
        "appends_sent": sum(r["sends"] for r in reports),
        "appends_per_second": sum(r["sends"] for r in reports) / args.window,
        "appends_per_second_expected": args.streaming * 1000 / CHUNK_MS,
        "events_per_second": sum(events.values()) / args.window,
        "audio_deltas_per_second": events["response.audio.delta"] / args.window,
        "events_by_type": dict(sorted(events.items())),
        "turns_expected": sum(r["turns_expected"] for r in reports),
        "turns_expected_per_second": args.streaming / cycle_s,
        "turns_stopped": len(turns),
        "turns_answered": len(col("first_delta_wall_ms")),
        "responses": dict(merged("responses")),
        "errors": dict(merged("errors")),
        "speech_stopped_audio_ms": summary(col("stop_audio_ms")),
        "speech_stopped_wall_ms": summary(col("stop_wall_ms")),
        "speech_stopped_reaction_ms": summary(col("stop_reaction_ms")),
        "first_audio_delta_wall_ms": summary(col("first_delta_wall_ms")),
        "first_audio_delta_after_stop_ms": summary(col("first_delta_after_stop_ms")),
        "first_delta_delay_ms": FIRST_DELTA_DELAY_MS,
        "send_lateness_ms": summary(lateness_ms),
        "server_cpu_percent": server_cpu,
        "server_system_cpu_percent": server_system_cpu,
        "client_cpu_percent": client_cpu,
        "machine_cpu_percent": machine_cpu,
        "other_cpu_percent": max(0.0, machine_cpu - own_cpu),
        "server_rss_kib_before": rss_before,
        "server_rss_kib_connected": rss_connected,
        "server_rss_kib": rss_samples[-1],
        "server_rss_kib_max": max(rss_samples),
    }


async def _phases(
    args: argparse.Namespace,
    server: ServerProcess,
    report: dict[str, Any],
    idle_transport: trio.Nursery,
) -> None:
    idle: dict[str, Any] | None = None
    held: list[WebSocketConnection] = []
    if args.idle:
        idle, held = await idle_phase(args, server, idle_transport)
        report["idle"] = idle
        if not args.hold_idle:
            await close_all(held)
            held = []
    if args.streaming:
        streaming = await streaming_phase(args, server)
        streaming["idle_connections_held"] = sum(ws.closed is None for ws in held)
        report["streaming"] = streaming
        if idle is not None:
            idle["open_after_streaming"] = sum(ws.closed is None for ws in held)
    await close_all(held)
    idle_transport.cancel_scope.cancel()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = await start_server(["--realistic", *args.server_arg])
    report: dict[str, Any] = {
        "benchmark": "server_load",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "server_command": "trio-realtime serve --port 0 --realistic " + " ".join(args.server_arg),
        "config": {
            k: v for k, v in vars(args).items() if k not in ("json", "worker", "server_arg")
        },
    }
    try:
        with closing_race_ignored():
            async with trio.open_nursery() as idle_transport:
                await _phases(args, server, report, idle_transport)
        report["server_peak_rss_kib"] = memory_kib(server.pid)["VmHWM"]
    finally:
        with trio.CancelScope(shield=True):
            report["server_exit_status"] = await stop_process(server.process)
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--idle", type=int, default=1000, help="idle connections in phase 1 (1000; 0 skips)")
    add("--idle-window", type=float, default=10.0, help="seconds the idle connections sit (10)")
    add("--probes", type=int, default=5, help="fresh connections during the idle window (5)")
    add(
        "--hold-idle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the idle connections open through phase 2 (yes)",
    )
    add("--streaming", type=int, default=200, help="streaming sessions in phase 2 (200; 0 skips)")
    add("--client-processes", type=int, default=1, help="processes the sessions are split over (1)")
    add("--speech", type=float, default=1.5, help="seconds of speech per turn (1.5)")
    add("--silence", type=float, default=2.5, help="seconds of silence per turn (2.5)")
    add("--warmup", type=float, default=5.0, help="streaming seconds before the window (5)")
    add("--window", type=float, default=30.0, help="streaming seconds measured (30)")
    add("--handshakes", type=int, default=64, help="handshakes in flight at most (64)")
    add("--connect-timeout", type=float, default=30.0, help="seconds per connection (30)")
    add(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for trio-realtime serve (repeatable)",
    )
    add("--json", metavar="PATH", help="also write the results as JSON")
    add("--worker", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker is not None:
        return trio.run(run_worker, WorkerSpec(**json.loads(args.worker)))
    report = trio.run(run, args)
    problems = failed(report)
    report["ok"] = not problems
    report["problems"] = problems
    print_table(report)
    for problem in problems:
        print(f"FAILED: {problem}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
