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

Run: ``python benchmarks/bench_server_load.py [--idle 1000] [--streaming 200]
[--client-processes 1] [--json PATH]``. Exit status 1 if any connection failed or the
server died.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Final

import attrs
import orjson
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url
from wsproto.utilities import LocalProtocolError

from trio_realtime.audio import silence, speech_like

CHUNK_MS: Final = 100
_SCRIPT: Final = os.path.abspath(__file__)
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
_HEADERS: Final = [
    (b"Authorization", b"Bearer sk-bench-server-load"),
    (b"OpenAI-Beta", b"realtime=v1"),
]
_RECEIVE_BUFFER: Final = 64 * 1024
_MAX_MESSAGE: Final = 16 * 1024 * 1024
#: The engine's first_delta_delay under ``--realistic`` (SimulatedEngine.realistic()).
FIRST_DELTA_DELAY_MS: Final = 300.0
#: After the window, receivers keep going this long so late events of its last turns count.
_TAIL: Final = 1.0


# --- /proc -------------------------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far, from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK  # utime, stime (14, 15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    return sum(cpu_times(pid))


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB, from ``/proc/<pid>/status``."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine have used so far (``/proc/stat``), in seconds."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / _CLK_TCK


@attrs.define
class CpuMeter:
    """CPU of a set of processes between :meth:`start` and :meth:`stop`, in % of one core."""

    pids: list[int]
    system_only: bool = False
    _cpu: float = 0.0
    _wall: float = 0.0

    def _now(self) -> float:
        return sum(cpu_times(p)[1] if self.system_only else cpu_seconds(p) for p in self.pids)

    def start(self) -> None:
        self._cpu = self._now()
        self._wall = time.monotonic()

    def stop(self) -> float:
        return 100.0 * (self._now() - self._cpu) / max(time.monotonic() - self._wall, 1e-9)


# --- statistics --------------------------------------------------------------------------------


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


# --- one client connection -----------------------------------------------------------------------


async def open_session(
    nursery: trio.Nursery, url: str, limiter: trio.CapacityLimiter, seconds: float
) -> tuple[WebSocketConnection, float]:
    """Connect under a handshake slot and wait for ``session.created``.

    Returns the connection and the connect time in ms (TCP connect to ``session.created``),
    which may take ``seconds`` at most (the wait for a slot does not count).
    """
    async with limiter:
        start = trio.current_time()
        with trio.fail_after(seconds):
            ws = await connect_websocket_url(
                nursery,
                url,
                extra_headers=_HEADERS,
                message_queue_size=64,
                max_message_size=_MAX_MESSAGE,
                receive_buffer_size=_RECEIVE_BUFFER,
            )
            first = orjson.loads(await ws.get_message())
        elapsed = (trio.current_time() - start) * 1000.0
    if first.get("type") != "session.created":
        await ws.aclose()
        raise RuntimeError(f"first event was {first.get('type')!r}, not session.created")
    return ws, elapsed


async def close_all(connections: Sequence[WebSocketConnection], grace: float = 10.0) -> None:
    """Close connections concurrently (bounded), giving up on stragglers after ``grace`` s."""
    limiter = trio.CapacityLimiter(128)

    async def close(ws: WebSocketConnection) -> None:
        async with limiter:
            try:
                await ws.aclose()
            except Exception:
                pass  # a dead connection is closed enough

    with trio.move_on_after(grace):
        async with trio.open_nursery() as nursery:
            for ws in connections:
                nursery.start_soon(close, ws)


@contextlib.contextmanager
def _closing_race_ignored() -> Iterator[None]:
    """Ignore trio-websocket's failure to answer a ping that arrives while we close.

    Its reader task then tries to send a pong in the CLOSING state, and wsproto raises
    ``LocalProtocolError`` into the connections' nursery. Only teardown is affected.
    """
    try:
        yield
    except* LocalProtocolError:
        pass


def _failure_name(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "timeout"
    return type(exc).__name__


# --- streaming worker (a client process) ---------------------------------------------------------


@attrs.frozen(kw_only=True)
class WorkerSpec:
    """What one client process streams; passed as JSON on its command line."""

    url: str
    indices: list[int]
    total: int
    speech_chunks: int
    silence_chunks: int
    warmup: float
    window: float
    handshakes: int
    connect_timeout: float


def cycle_frames(speech_chunks: int, silence_chunks: int, seed: int = 7) -> list[str]:
    """One turn as pre-encoded append frames: speech chunks, then silence chunks."""
    speech = speech_like(speech_chunks * CHUNK_MS, seed=seed)
    quiet = silence(CHUNK_MS)
    step = len(quiet)
    chunks = [speech[i : i + step] for i in range(0, len(speech), step)]
    chunks += [quiet] * silence_chunks
    return [
        orjson.dumps(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(c).decode()}
        ).decode()
        for c in chunks
    ]


class StreamingSession:
    """One streaming session: a sender on an absolute schedule and a receiver that times turns."""

    def __init__(
        self, index: int, spec: WorkerSpec, frames: list[str], report: WorkerReport
    ) -> None:
        self.index = index
        self.frames = frames
        cycle = len(frames)
        self.cycle = cycle
        self.speech = spec.speech_chunks
        # Spread sessions over the 100 ms tick and over the turn cycle.
        self.phase = CHUNK_MS / 1000.0 * index / spec.total
        self.rotation = index * cycle // spec.total
        self.report = report
        self.ws: WebSocketConnection | None = None
        self.sent_at: list[float] = []  # when the send of chunk k started
        self.t0 = 0.0
        self.window = (0.0, 0.0)
        self._pending: dict[str, float] | None = None  # a turn waiting for its first delta
        self._responses: set[str] = set()

    def is_speech_end(self, k: int) -> bool:
        return (k + self.rotation) % self.cycle == self.speech - 1

    def frame(self, k: int) -> str:
        return self.frames[(k + self.rotation) % self.cycle]

    async def send_loop(self, t0: float, stop: float) -> None:
        ws = self.ws
        assert ws is not None
        rep = self.report
        w0, w1 = self.window
        k = 0
        while True:
            due = t0 + self.phase + (k + 1) * CHUNK_MS / 1000.0
            if due >= stop:
                return
            await trio.sleep_until(due)
            begin = trio.current_time()
            self.sent_at.append(begin)
            try:
                await ws.send_message(self.frame(k))
            except ConnectionClosed:
                return  # the receiver records why
            if w0 <= due < w1:
                rep.lateness_us.append(round((begin - due) * 1e6))
                rep.sends += 1
                if self.is_speech_end(k):
                    rep.turns_expected += 1
            k += 1

    def _speech_end_before(self, audio_ms: int) -> int | None:
        """The chunk index of the last speech chunk whose end is at or before ``audio_ms``."""
        k = audio_ms // CHUNK_MS - 1
        for j in range(k, max(-1, k - self.cycle - 1), -1):
            if self.is_speech_end(j):
                return j
        return None

    async def receive_loop(self) -> None:
        ws = self.ws
        assert ws is not None
        rep = self.report
        w0, w1 = self.window
        loads, now = orjson.loads, trio.current_time
        while True:
            try:
                message = await ws.get_message()
            except ConnectionClosed as exc:
                reason = exc.reason
                code = getattr(reason, "code", None)
                rep.closed_early[str(code)] += 1
                return
            t = now()
            event = loads(message)
            kind = event["type"]
            if w0 <= t < w1:
                rep.events[kind] += 1
            if kind == "response.audio.delta":
                rid = event["response_id"]
                if rid not in self._responses:
                    self._responses.add(rid)
                    turn = self._pending
                    self._pending = None
                    if turn is not None:
                        turn["first_delta_wall_ms"] = (t - turn["_end"]) * 1000.0
                        turn["first_delta_after_stop_ms"] = (t - turn["_stop"]) * 1000.0
            elif kind == "input_audio_buffer.speech_stopped":
                self._turn_stopped(int(event["audio_end_ms"]), t)
            elif kind == "error":
                rep.errors[str(event.get("error", {}).get("code"))] += 1
            elif kind == "response.done":
                rep.responses[str(event["response"]["status"])] += 1

    def _turn_stopped(self, audio_end_ms: int, t: float) -> None:
        rep = self.report
        w0, w1 = self.window
        end_k = self._speech_end_before(audio_end_ms)
        done_k = -(-audio_end_ms // CHUNK_MS) - 1  # the chunk that completed audio_end_ms
        if end_k is None or done_k >= len(self.sent_at) or end_k < 0:
            self._pending = None
            return
        end_t = self.sent_at[end_k]
        if not w0 <= end_t < w1:
            self._pending = None
            return
        turn = {
            "stop_audio_ms": float(audio_end_ms - (end_k + 1) * CHUNK_MS),
            "stop_wall_ms": (t - end_t) * 1000.0,
            "stop_reaction_ms": (t - self.sent_at[done_k]) * 1000.0,
            "at_s": t - w0,  # receipt of speech_stopped, seconds into the window
            "_end": end_t,
            "_stop": t,
        }
        rep.turns.append(turn)
        self._pending = turn


@attrs.define
class WorkerReport:
    connect_ms: list[float] = attrs.Factory(list)
    failures: Counter[str] = attrs.Factory(Counter)
    events: Counter[str] = attrs.Factory(Counter)
    errors: Counter[str] = attrs.Factory(Counter)
    responses: Counter[str] = attrs.Factory(Counter)
    closed_early: Counter[str] = attrs.Factory(Counter)
    turns: list[dict[str, float]] = attrs.Factory(list)
    lateness_us: list[int] = attrs.Factory(list)
    sends: int = 0
    turns_expected: int = 0

    def as_json(self) -> dict[str, Any]:
        turns = [{k: v for k, v in t.items() if not k.startswith("_")} for t in self.turns]
        return {
            "connect_ms": self.connect_ms,
            "failures": dict(self.failures),
            "events": dict(self.events),
            "errors": dict(self.errors),
            "responses": dict(self.responses),
            "closed_early": dict(self.closed_early),
            "turns": turns,
            "lateness_us": self.lateness_us,
            "sends": self.sends,
            "turns_expected": self.turns_expected,
        }


def _emit(tag: str, payload: Any) -> None:
    sys.stdout.write(f"{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


async def run_worker(spec: WorkerSpec) -> int:
    """A client process: connect, report ``ready``, wait for ``go``, stream, report ``result``."""
    frames = cycle_frames(spec.speech_chunks, spec.silence_chunks)
    report = WorkerReport()
    sessions = [StreamingSession(i, spec, frames, report) for i in spec.indices]
    limiter = trio.CapacityLimiter(max(1, spec.handshakes))
    with _closing_race_ignored():
        async with trio.open_nursery() as transport:
            await _stream_sessions(spec, sessions, report, limiter, transport)
    return 0


async def _stream_sessions(
    spec: WorkerSpec,
    sessions: list[StreamingSession],
    report: WorkerReport,
    limiter: trio.CapacityLimiter,
    transport: trio.Nursery,
) -> None:

    async def connect(session: StreamingSession) -> None:
        try:
            session.ws, ms = await open_session(transport, spec.url, limiter, spec.connect_timeout)
            report.connect_ms.append(ms)
        except Exception as exc:
            report.failures[_failure_name(exc)] += 1

    async with trio.open_nursery() as connecting:
        for session in sessions:
            connecting.start_soon(connect, session)
    _emit("ready", {"connected": len(report.connect_ms)})
    line = await trio.to_thread.run_sync(sys.stdin.readline)
    go = float(line.split()[1])  # time.monotonic() of t0, shared by all processes
    t0 = trio.current_time() + (go - time.monotonic())
    window = (t0 + spec.warmup, t0 + spec.warmup + spec.window)
    stop = window[1] + _TAIL
    live = [s for s in sessions if s.ws is not None]
    async with trio.open_nursery() as streams:
        for session in live:
            session.window = window
            streams.start_soon(session.send_loop, t0, stop)
            streams.start_soon(session.receive_loop)
        await trio.sleep_until(stop)
        streams.cancel_scope.cancel()
    _emit("result", report.as_json())
    await close_all([s.ws for s in live if s.ws is not None])
    transport.cancel_scope.cancel()


# --- the coordinator -----------------------------------------------------------------------------


class Lines:
    """Lines from a process's stdout."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def next(self) -> str:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some(1 << 20)
            if not chunk:
                raise EOFError("the process closed its output")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()


@attrs.define
class ServerProcess:
    process: trio.Process
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-4o-realtime-preview"


async def start_server(extra: Sequence[str]) -> ServerProcess:
    command = [sys.executable, "-m", "trio_realtime._cli._main", "serve", "--port", "0", *extra]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    with trio.fail_after(30):
        line = await Lines(process.stdout).next()
    if not line.startswith("listening on ws://"):
        raise RuntimeError(f"unexpected server output: {line!r}")
    port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
    return ServerProcess(process, port)


async def stop_process(process: trio.Process, grace: float = 15.0) -> int:
    if process.returncode is None:
        process.terminate()
        with trio.move_on_after(grace):
            await process.wait()
        if process.returncode is None:
            process.kill()
    return await process.wait()


@attrs.define
class Worker:
    process: trio.Process
    lines: Lines


async def spawn_worker(spec: WorkerSpec) -> Worker:
    payload = json.dumps(attrs.asdict(spec))
    process = await trio.lowlevel.open_process(
        [sys.executable, _SCRIPT, "--worker", payload],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    return Worker(process, Lines(process.stdout))


async def expect(worker: Worker, tag: str, within: float) -> Any:
    with trio.fail_after(within):
        line = await worker.lines.next()
    got, _, payload = line.partition(" ")
    if got != tag:
        raise RuntimeError(f"client process said {line[:200]!r}, expected {tag!r}")
    return json.loads(payload)


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
            failures[_failure_name(exc)] += 1
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
            workers.append(await spawn_worker(spec))
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
        reports = [await expect(w, "result", 60 + _TAIL + 15) for w in workers]
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
        with _closing_race_ignored():
            async with trio.open_nursery() as idle_transport:
                await _phases(args, server, report, idle_transport)
        report["server_peak_rss_kib"] = memory_kib(server.pid)["VmHWM"]
    finally:
        with trio.CancelScope(shield=True):
            report["server_exit_status"] = await stop_process(server.process)
    return report


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
