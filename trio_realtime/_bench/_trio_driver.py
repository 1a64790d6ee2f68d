"""The shape of a trio worker, shared by our client (:mod:`._ours`) and the bare baseline
(:mod:`._bare`): connect under a handshake limit, report ready, stream on a shared schedule,
measure the window, close, report.

A driver subclass says only how to open a session, how to read it and how to send one chunk;
the pacing, the window and the meter are identical, so the clients differ only in themselves.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractAsyncContextManager
from typing import Final, Generic, TypeVar

import trio

from ._link import PIPE_LINK, WorkerLink
from ._meter import SessionMeter, WorkerMeter, stamps_trusted
from ._metronome import Metronome
from ._stalls import TrioStallInstrument
from ._worker import PROGRESS_SECONDS, WorkerSpec, tail_seconds
from ._workload import build_audio, session_phase

__all__ = ["TrioDriver"]

_CLOSE_SECONDS: Final = 10.0  # every session's close handshake, all together
_SETTLE_SECONDS: Final = 0.2  # after the last connect, before memory is read

_H = TypeVar("_H")


class TrioDriver(Generic[_H]):
    """One worker's sessions on one trio loop; subclasses supply the client."""

    def __init__(self, spec: WorkerSpec, key: str) -> None:
        self.spec = spec
        self.key = key
        self.workload = spec.workload
        self.plan = build_audio(spec.workload)
        self.meter = WorkerMeter(
            spec.client,
            spec.worker,
            len(spec.indices),
            spec.trace_memory,
            spec.gc_threshold,
            trace_stalls=spec.trace_stalls,
            trust_stamps=stamps_trusted(spec.server_clock),
        )
        self.link: WorkerLink = PIPE_LINK
        self.slots = trio.Semaphore(spec.handshakes)
        self.all_tried = trio.Event()
        self.go = trio.Event()
        self.stop = trio.Event()
        self.metronome = Metronome()
        self.t0 = math.inf  # trio time of T0
        self.turns = spec.workload.turn_based

    # -- what a subclass supplies -------------------------------------------------------------

    def open(self) -> AbstractAsyncContextManager[_H]:
        """A context manager: entering connects and waits for ``session.created``."""
        raise NotImplementedError

    async def prepare(self, handle: _H) -> None:
        """Configure a fresh session before it counts as ready (transcription settings)."""

    async def consume(self, handle: _H, sm: SessionMeter) -> None:
        """Read every event of the session, calling the meter for each."""
        raise NotImplementedError

    async def send_chunk(self, handle: _H, pcm: bytes) -> None:
        """Send one chunk of audio as an append."""
        raise NotImplementedError

    # -- the common part ----------------------------------------------------------------------

    def _attempt_done(self) -> None:
        if self.meter.attempts_done == len(self.spec.indices):
            self.all_tried.set()

    async def warm_up(self) -> None:
        """One throwaway session before the memory baseline (see WorkerMeter.baseline)."""
        try:
            async with self.open():
                pass
        except Exception:
            pass

    async def session(self, index: int, start: float) -> None:
        workload, meter = self.workload, self.meter
        if workload.ramp:
            await trio.sleep_until(start + workload.ramp * index / workload.sessions)
        sm = meter.new_session()
        holding = True
        await self.slots.acquire()
        began = trio.current_time()
        connected = False
        try:
            async with self.open() as handle:
                self.slots.release()
                holding = False
                connected = True
                meter.connect_done(trio.current_time() - began)
                await self.prepare(handle)
                self._attempt_done()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.consume, handle, sm)
                    await self.go.wait()
                    nursery.start_soon(self._append, handle, sm, index)
                    await self.stop.wait()
                    nursery.cancel_scope.cancel()
        except Exception as exc:
            if connected:
                meter.session_ended(exc)
            else:
                meter.connect_failed(exc)
                self._attempt_done()
            return
        finally:
            if holding:
                self.slots.release()
        meter.session_ended(None)

    async def _append(self, handle: _H, sm: SessionMeter, index: int) -> None:
        workload, plan, meter = self.workload, self.plan, self.meter
        interval = workload.interval
        rotation = index * len(plan.chunks) // workload.sessions
        first = self.t0 + session_phase(index, workload.sessions, interval)
        offset = time.monotonic() - trio.current_time()  # trio time -> monotonic
        now, send, chunk = trio.current_time, self.send_chunk, plan.chunk
        sleep_until = self.metronome.sleep_until
        once = workload.scenario == "receive"
        k = 0
        while True:
            due = first + k * interval
            await sleep_until(due)
            meter.sent(due + offset, now() + offset)
            await send(handle, chunk(k, rotation))
            if plan.ends_speech(k, rotation):
                sm.turns.speech_ended(time.monotonic())
            if once:
                return  # the receive scenario: one append starts the stream
            k += 1

    async def _progress(self) -> None:
        while True:
            self.link.emit("progress", self.meter.progress(time.monotonic()))
            await trio.sleep(PROGRESS_SECONDS)

    async def run(self, link: WorkerLink = PIPE_LINK) -> None:
        """The worker's whole life (see :mod:`._worker`), reporting through ``link``."""
        workload, meter = self.workload, self.meter
        self.link = link
        meter.cpu_clock = link.cpu_clock
        trio.lowlevel.add_instrument(TrioStallInstrument(meter.stalls))
        await self.warm_up()
        meter.baseline()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._progress)
            nursery.start_soon(self.metronome.run)
            with trio.CancelScope() as closing:
                async with trio.open_nursery() as sessions:
                    start = trio.current_time()
                    for index in self.spec.indices:
                        sessions.start_soon(self.session, index, start)
                    await self.all_tried.wait()
                    await trio.sleep(_SETTLE_SECONDS)
                    meter.idle_snapshot()
                    link.emit(
                        "ready", {"connected": meter.connected, "failed": meter.connect_failures}
                    )
                    go = await link.go_trio()
                    offset = trio.current_time() - time.monotonic()
                    self.t0 = go + offset
                    w0 = go + workload.warmup
                    w1 = w0 + workload.window
                    meter.open_window(w0, w1)
                    self.go.set()
                    await trio.sleep_until(w0 + offset)
                    meter.cpu_mark_start()
                    await trio.sleep_until(w1 + offset)
                    meter.cpu_mark_end()
                    await trio.sleep_until(w1 + offset + tail_seconds(workload))
                    self.stop.set()  # the session tasks close their sessions; bounded here:
                    closing.deadline = trio.current_time() + _CLOSE_SECONDS
            nursery.cancel_scope.cancel()
        link.emit("result", meter.result())
