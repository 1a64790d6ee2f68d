"""A client process of the streaming phase: its sessions send audio at real time and time turns.

The coordinator starts it with ``--worker SPEC`` (a :class:`WorkerSpec` as JSON); it connects its
sessions, prints ``ready``, waits for ``go <monotonic t0>`` on stdin, streams until the window
and its tail are over, and prints ``result`` with its :class:`WorkerReport`.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections import Counter
from typing import Any, Final

import attrs
import orjson
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from trio_realtime.audio import silence, speech_like

from .client import close_all, closing_race_ignored, failure_name, open_session

__all__ = [
    "CHUNK_MS",
    "TAIL",
    "StreamingSession",
    "WorkerReport",
    "WorkerSpec",
    "cycle_frames",
    "run_worker",
]

CHUNK_MS: Final = 100
#: After the window, receivers keep going this long so late events of its last turns count.
TAIL: Final = 1.0


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


def emit(tag: str, payload: Any) -> None:
    sys.stdout.write(f"{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


async def run_worker(spec: WorkerSpec) -> int:
    """A client process: connect, report ``ready``, wait for ``go``, stream, report ``result``."""
    frames = cycle_frames(spec.speech_chunks, spec.silence_chunks)
    report = WorkerReport()
    sessions = [StreamingSession(i, spec, frames, report) for i in spec.indices]
    limiter = trio.CapacityLimiter(max(1, spec.handshakes))
    with closing_race_ignored():
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
            report.failures[failure_name(exc)] += 1

    async with trio.open_nursery() as connecting:
        for session in sessions:
            connecting.start_soon(connect, session)
    emit("ready", {"connected": len(report.connect_ms)})
    line = await trio.to_thread.run_sync(sys.stdin.readline)
    go = float(line.split()[1])  # time.monotonic() of t0, shared by all processes
    t0 = trio.current_time() + (go - time.monotonic())
    window = (t0 + spec.warmup, t0 + spec.warmup + spec.window)
    stop = window[1] + TAIL
    live = [s for s in sessions if s.ws is not None]
    async with trio.open_nursery() as streams:
        for session in live:
            session.window = window
            streams.start_soon(session.send_loop, t0, stop)
            streams.start_soon(session.receive_loop)
        await trio.sleep_until(stop)
        streams.cancel_scope.cancel()
    emit("result", report.as_json())
    await close_all([s.ws for s in live if s.ws is not None])
    transport.cancel_scope.cancel()
