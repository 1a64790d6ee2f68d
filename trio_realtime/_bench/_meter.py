"""What one worker process measures, for either client, and the JSON it hands back.

Both drivers (ours on trio, the peer on asyncio) call the same :class:`WorkerMeter`, so the
figures mean the same thing for both. All times are ``time.monotonic()`` seconds: on Linux it
is CLOCK_MONOTONIC, one clock for every process under one kernel, so the server's
``server_sent_at`` stamp and the client's receive time can be subtracted. A worker under
another kernel (another machine of a cluster) reads another clock: it trusts no stamp
(:func:`stamps_trusted`) and records no delivery latency rather than one shifted by the
machines' clock offset. (``trio.current_time()`` is not comparable across processes; drivers
convert their schedules.)

Definitions:

* **delivery latency**: the client's monotonic time when the application holds the typed
  event, minus the server's ``server_sent_at`` stamp. Only events received inside the window,
  and only where the stamps are trusted.
* **send lateness**: when an append's send starts, minus its place on the absolute schedule.
* **CPU**: the process's user + system time over the window (``time.process_time()``; on a
  Dask worker, which runs threads of its own, the loop thread's ``time.thread_time()``, the
  whole process's being reported beside it), divided by the wall time between the two
  readings (a late reading stretches both);
  **per session-minute** divides that rate by the sessions and scales to a minute.
* **memory per session**: resident set size after every session connected and sat idle, minus
  before the first connected (but after one throwaway session, so one-time costs are not
  counted), divided by the sessions connected; with tracemalloc, also the Python allocations
  traced over the same span.
* **turn latencies** (turn scenarios): from the end of speech (the moment the append holding
  a turn's last speech chunk was handed to the client) to ``speech_stopped``, to the first
  audio delta, to the first transcript delta, and to ``response.done`` (transcription: to the
  first transcription delta and to ``completed``). Only turns whose speech ended in the window.
"""

from __future__ import annotations

import gc
import math
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, Final, final

from ._environment import clock_id
from ._gc_meter import GcMeter
from ._stalls import StallMeter
from ._stats import Histogram

__all__ = [
    "TURN_METRICS",
    "TURN_MILESTONES",
    "SessionMeter",
    "TurnTracker",
    "WorkerMeter",
    "cpu_seconds",
    "failure_name",
    "rss_kib",
    "stamps_trusted",
]

#: The turn latencies, by name, in report order.
TURN_METRICS: Final = ("speech_stopped_ms", "first_audio_ms", "first_transcript_ms", "turn_ms")


def rss_kib() -> int:
    """This process's resident set size in KiB (peak RSS where ``/proc`` is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource  # pragma: no cover

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover
    return peak // 1024 if sys.platform == "darwin" else peak  # pragma: no cover


def cpu_seconds() -> float:
    """This process's user + system CPU seconds so far."""
    return time.process_time()


def _usage(thread: bool = False) -> tuple[float, float, int, int]:
    """User and system CPU seconds, voluntary and involuntary context switches so far, of
    the process (or of this thread alone)."""
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF) if thread else None
    u = resource.getrusage(resource.RUSAGE_SELF if who is None else who)
    return u.ru_utime, u.ru_stime, u.ru_nvcsw, u.ru_nivcsw


def stamps_trusted(server_clock: str | None) -> bool:
    """Whether the server's send stamps can be subtracted from this process's clock.

    ``server_clock`` is the :func:`~._environment.clock_id` of the server's machine as the
    coordinator knows it: ``None`` when it checked nothing (a worker on the coordinator's own
    machine, as before clusters), ``""`` when it does not know (a server elsewhere).
    """
    return server_clock is None or server_clock == clock_id()


def failure_name(exc: BaseException) -> str:
    """A short, key-free name for why a session failed: the class, and a close code if any."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    code = getattr(exc, "code", None)
    name = type(exc).__name__
    return f"{name} {code}" if isinstance(code, int) else name


@final
class TurnTracker:
    """One session's current turn: its end of speech, and when each reply milestone arrived."""

    __slots__ = ("_first_audio", "_first_text", "_meter", "_stopped", "end")

    def __init__(self, meter: WorkerMeter) -> None:
        self._meter = meter
        self.end: float | None = None
        self._stopped = self._first_audio = self._first_text = False

    def speech_ended(self, now: float) -> None:
        """The append ending a turn's speech was handed to the client at ``now``."""
        if self.end is not None:
            self._meter.turn_unanswered(self.end)
        self.end = now
        self._stopped = self._first_audio = self._first_text = False
        self._meter.turn_ended(now)

    def _since_end(self, name: str, now: float) -> None:
        if self.end is not None:
            self._meter.turn_metric(name, self.end, now)

    def speech_stopped(self, now: float) -> None:
        """``input_audio_buffer.speech_stopped`` arrived."""
        if not self._stopped:
            self._stopped = True
            self._since_end("speech_stopped_ms", now)

    def audio_delta(self, now: float) -> None:
        """A ``response.audio.delta`` arrived."""
        if not self._first_audio:
            self._first_audio = True
            self._since_end("first_audio_ms", now)

    def transcript_delta(self, now: float) -> None:
        """A transcript delta (of the reply, or of the input for transcription) arrived."""
        if not self._first_text:
            self._first_text = True
            self._since_end("first_transcript_ms", now)

    def done(self, now: float) -> None:
        """``response.done`` (or the transcription's ``completed``) arrived: the turn is over."""
        if self.end is not None:
            self._meter.turn_metric("turn_ms", self.end, now)
            self._meter.turn_answered(self.end)
            self.end = None


#: Which turn milestone each server event type is, for the turn scenarios (every client).
TURN_MILESTONES: Final[dict[str, Any]] = {
    "input_audio_buffer.speech_stopped": TurnTracker.speech_stopped,
    "response.audio.delta": TurnTracker.audio_delta,
    "response.audio_transcript.delta": TurnTracker.transcript_delta,
    "response.done": TurnTracker.done,
    "conversation.item.input_audio_transcription.delta": TurnTracker.transcript_delta,
    "conversation.item.input_audio_transcription.completed": TurnTracker.done,
    # The GA names of the same events (the SDK's GA client reports them).
    "response.output_audio.delta": TurnTracker.audio_delta,
    "response.output_audio_transcript.delta": TurnTracker.transcript_delta,
}


@final
class SessionMeter:
    """Per-session counters, kept so the report can show how sessions differ."""

    __slots__ = ("events", "max_ms", "turns")

    def __init__(self, meter: WorkerMeter) -> None:
        self.events = 0
        self.max_ms = 0.0
        self.turns = TurnTracker(meter)


@final
class WorkerMeter:
    """Everything one worker measures; :meth:`result` is its JSON report.

    Args:
        client: One of :data:`~._workload.CLIENTS`.
        worker: This worker's number.
        sessions: Sessions this worker runs.
        trace_memory: Trace Python allocations while sessions connect (slow; for memory runs).
        gc_threshold: The collector's first threshold, and a freeze once idle (``None``:
            Python's defaults).
        trace_stalls: Time every task step too (see :mod:`._stalls`).
        trust_stamps: Record delivery latencies from the server's stamps (see
            :func:`stamps_trusted`); otherwise events are counted and their stamps ignored.

    Attributes:
        cpu_clock: The CPU clock of the window's figures (the process's, unless the worker's
            link says otherwise; set before the window).
    """

    def __init__(
        self,
        client: str,
        worker: int,
        sessions: int,
        trace_memory: bool,
        gc_threshold: int | None = None,
        *,
        trace_stalls: bool = False,
        trust_stamps: bool = True,
    ) -> None:
        self.client = client
        self.worker = worker
        self.sessions = sessions
        self.window_start = self.window_end = math.inf
        self.connect_ms = Histogram()
        self.delivery_ms = Histogram()
        self.lateness_ms = Histogram()
        self.turn_ms = {name: Histogram() for name in TURN_METRICS}
        self.connected = 0
        self.attempts_done = 0
        self.alive = 0
        self.connect_failures: dict[str, int] = {}
        self.ended_early: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.events_total = 0
        self.events = self.stamped = self.appends = 0
        self.turns_ended = self.turns_answered = 0
        self.session_meters: list[SessionMeter] = []
        self._interval_max = 0.0
        self._trace = trace_memory
        self._gc_threshold = gc_threshold
        self.rss_base_kib = self.rss_idle_kib = rss_kib()
        self.traced_idle_bytes: int | None = None
        self.traced_top: list[str] = []
        self._traced_base = 0
        self._cpu_window: tuple[float, float] | None = None
        self._cpu_start = self._cpu_wall_start = self._cpu_wall = 0.0
        self._usage: tuple[tuple[float, float, int, int], ...] = ()
        self._process_cpu_start = 0.0
        self._process_cpu: float | None = None
        self.cpu_clock: Callable[[], float] = cpu_seconds
        self.trust_stamps = trust_stamps
        self.stalls = StallMeter(trace_steps=trace_stalls)
        self.gc = GcMeter(self.stalls.gc_pause)

    def baseline(self) -> None:
        """Read the memory baseline; call it after one throwaway session, so one-time costs
        (lazy imports, models built on first use, first buffers) are not charged per session."""
        gc.collect()
        self.rss_base_kib = self.rss_idle_kib = rss_kib()
        if self._gc_threshold is not None:
            gc.set_threshold(self._gc_threshold, *gc.get_threshold()[1:])
        if self._trace:
            tracemalloc.start(8)
            self._traced_base = tracemalloc.get_traced_memory()[0]

    # -- connecting ---------------------------------------------------------------------------

    def new_session(self) -> SessionMeter:
        """A meter for one more session."""
        meter = SessionMeter(self)
        self.session_meters.append(meter)
        return meter

    def connect_done(self, seconds: float) -> None:
        """A session connected (``session.created`` received) after ``seconds``."""
        self.connect_ms.record(seconds * 1000.0)
        self.connected += 1
        self.alive += 1
        self.attempts_done += 1

    def connect_failed(self, exc: BaseException) -> None:
        """A session could not connect."""
        name = failure_name(exc)
        self.connect_failures[name] = self.connect_failures.get(name, 0) + 1
        self.attempts_done += 1

    def session_ended(self, exc: BaseException | None) -> None:
        """A connected session ended: ``exc`` is why, ``None`` for the harness closing it."""
        self.alive -= 1
        if exc is not None:
            name = failure_name(exc)
            self.ended_early[name] = self.ended_early.get(name, 0) + 1

    def idle_snapshot(self) -> None:
        """Every session connected and idle: read the memory figures.

        With a GC threshold set, the objects alive now (the sessions) are also frozen out of
        collection, as a long-running application holding them would do.
        """
        gc.collect()
        self.rss_idle_kib = rss_kib()
        self.gc.note_idle()
        if self._gc_threshold is not None:
            gc.freeze()
        if self._trace:
            snapshot = tracemalloc.take_snapshot()
            self.traced_idle_bytes = tracemalloc.get_traced_memory()[0] - self._traced_base
            tracemalloc.stop()
            stats = snapshot.statistics("lineno")[:8]
            self.traced_top = [
                f"{s.size / max(1, self.connected):8.0f} B/session  {s.traceback[0]}" for s in stats
            ]

    # -- the window ---------------------------------------------------------------------------

    def open_window(self, start: float, end: float) -> None:
        """Measure events and sends between monotonic ``start`` and ``end``."""
        self.window_start, self.window_end = start, end

    def cpu_mark_start(self) -> None:
        """The window opened: note the CPU time (and when it was read)."""
        self._usage = (_usage(self.cpu_clock is not cpu_seconds),)
        self._cpu_start = self.cpu_clock()
        self._process_cpu_start = cpu_seconds()
        self._cpu_wall_start = time.monotonic()
        self.gc.start()
        self.stalls.start()

    def cpu_mark_end(self) -> None:
        """The window closed: note the CPU time.

        An overloaded loop reads its marks late, so the CPU is divided by the wall time
        between the two reads, not by the nominal window.
        """
        self._cpu_window = (self._cpu_start, self.cpu_clock())
        self._process_cpu = cpu_seconds() - self._process_cpu_start
        self._cpu_wall = time.monotonic() - self._cpu_wall_start
        self._usage = (*self._usage[:1], _usage(self.cpu_clock is not cpu_seconds))
        self.gc.stop()
        self.stalls.stop()

    # -- the hot path -------------------------------------------------------------------------

    def event(self, session: SessionMeter, now: float, stamp: object) -> None:
        """One event reached the application at ``now``; ``stamp`` is its ``server_sent_at``."""
        self.events_total += 1
        if not self.window_start <= now < self.window_end:
            return
        self.events += 1
        session.events += 1
        if type(stamp) is float and self.trust_stamps:
            ms = (now - stamp) * 1000.0
            self.delivery_ms.record(ms)
            self.stamped += 1
            if ms > session.max_ms:
                session.max_ms = ms
            if ms > self._interval_max:
                self._interval_max = ms

    def sent(self, due: float, started: float) -> None:
        """An append due at ``due`` started sending at ``started``."""
        if self.window_start <= due < self.window_end:
            self.appends += 1
            self.lateness_ms.record((started - due) * 1000.0)

    def error(self, code: object) -> None:
        """An ``error`` event arrived with ``error.code``."""
        name = str(code)
        self.errors[name] = self.errors.get(name, 0) + 1

    # -- turns --------------------------------------------------------------------------------

    def _in_window(self, t: float) -> bool:
        return self.window_start <= t < self.window_end

    def turn_ended(self, end: float) -> None:
        """A turn's speech ended at ``end``."""
        if self._in_window(end):
            self.turns_ended += 1

    def turn_answered(self, end: float) -> None:
        """The turn whose speech ended at ``end`` was answered completely."""
        if self._in_window(end):
            self.turns_answered += 1

    def turn_unanswered(self, end: float) -> None:
        """The turn whose speech ended at ``end`` got no complete answer before the next."""
        if self._in_window(end):
            self.errors["turn without response.done"] = (
                self.errors.get("turn without response.done", 0) + 1
            )

    def turn_metric(self, name: str, end: float, now: float) -> None:
        """Record ``now - end`` under ``name`` if the turn ended in the window."""
        if self._in_window(end):
            self.turn_ms[name].record((now - end) * 1000.0)

    # -- reporting ----------------------------------------------------------------------------

    def progress(self, now: float) -> dict[str, Any]:
        """The progress line's figures; resets the interval maximum."""
        out = {
            "t": now,
            "connected": self.connected,
            "alive": self.alive,
            "attempts": self.attempts_done,
            "events": self.events_total,
            "max_ms": self._interval_max,
            "cpu": self.cpu_clock(),
        }
        self._interval_max = 0.0
        return out

    def _usage_json(self) -> dict[str, float] | None:
        """The window's user and system CPU seconds and context switches (``None`` before it
        closed)."""
        if len(self._usage) != 2:
            return None
        start, end = self._usage
        return dict(
            zip(
                ("user_s", "system_s", "voluntary_switches", "involuntary_switches"),
                (b - a for a, b in zip(start, end, strict=True)),
                strict=True,
            )
        )

    def result(self) -> dict[str, Any]:
        """The worker's report, JSON-ready."""
        window = self.window_end - self.window_start
        cpu = None if self._cpu_window is None else self._cpu_window[1] - self._cpu_window[0]
        per_session_rate = Histogram()
        per_session_max = Histogram()
        for s in self.session_meters:
            per_session_rate.record(s.events / window if math.isfinite(window) else 0.0)
            per_session_max.record(s.max_ms)
        return {
            "client": self.client,
            "worker": self.worker,
            "sessions": self.sessions,
            "connected": self.connected,
            "connect_failures": dict(sorted(self.connect_failures.items())),
            "ended_early": dict(sorted(self.ended_early.items())),
            "errors": dict(sorted(self.errors.items())),
            "connect_ms": self.connect_ms.to_json(),
            "rss_base_kib": self.rss_base_kib,
            "rss_idle_kib": self.rss_idle_kib,
            "rss_end_kib": rss_kib(),
            "traced_idle_bytes": self.traced_idle_bytes,
            "traced_top": self.traced_top,
            "window_s": window if math.isfinite(window) else 0.0,
            "window_start": self.window_start if math.isfinite(window) else None,
            "cpu_window_s": cpu,
            "cpu_wall_s": self._cpu_wall if cpu is not None else None,
            "usage": self._usage_json(),
            "cpu_clock": "process" if self.cpu_clock is cpu_seconds else "thread",  # see _link
            "process_cpu_window_s": self._process_cpu,
            "cpu_total_s": cpu_seconds(),
            "clock": clock_id(),
            "stamps_trusted": self.trust_stamps,
            "events": self.events,
            "stamped": self.stamped,
            "appends": self.appends,
            "delivery_ms": self.delivery_ms.to_json(),
            "lateness_ms": self.lateness_ms.to_json(),
            "session_events_per_s": per_session_rate.to_json(),
            "session_max_ms": per_session_max.to_json(),
            "turns_ended": self.turns_ended,
            "turns_answered": self.turns_answered,
            "turn_ms": {name: h.to_json() for name, h in self.turn_ms.items()},
            "gc": self.gc.to_json(),
            "stalls": self.stalls.to_json(),
        }
