"""The shape of an asyncio worker, shared by the openai SDK (:mod:`._peer`) and the bare asyncio
baseline (:mod:`._bare_asyncio`): the same steps as :class:`~._trio_driver.TrioDriver` on an
asyncio loop.

A driver subclass says only how to open a session, how to read it and how to send one chunk;
pacing (``asyncio.sleep`` to an absolute schedule, the loop's clock being
``time.monotonic``), the window and the meter are the same for every asyncio client. The loop
runs with a :class:`~._stalls.TimedSelector`, so its scheduler passes are timed exactly as a
trio worker's are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Final, Generic, TypeVar

from ._link import PIPE_LINK, WorkerLink
from ._meter import SessionMeter, WorkerMeter, stamps_trusted
from ._stalls import timed_event_loop
from ._worker import PROGRESS_SECONDS, WorkerSpec, tail_seconds
from ._workload import build_audio, session_phase

__all__ = ["AsyncioDriver"]

_CLOSE_SECONDS: Final = 10.0  # one session's close handshake
_SETTLE_SECONDS: Final = 0.2  # after the last connect, before memory is read

_H = TypeVar("_H")


class AsyncioDriver(Generic[_H]):
    """One worker's sessions on one asyncio loop; subclasses supply the client."""

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
        self.slots = asyncio.Semaphore(spec.handshakes)
        self.all_tried = asyncio.Event()
        self.go = asyncio.Event()
        self.stop = asyncio.Event()
        self.t0 = 0.0
        self.turns = spec.workload.turn_based

    # -- what a subclass supplies -------------------------------------------------------------

    def connect(self) -> AbstractAsyncContextManager[_H]:
        """A context manager: entering connects and waits for the first event; leaving closes
        (within the driver's close budget)."""
        raise NotImplementedError

    async def consume(self, handle: _H, sm: SessionMeter) -> None:
        """Read every event of the session, calling the meter for each."""
        raise NotImplementedError

    async def send_chunk(self, handle: _H, pcm: bytes) -> None:
        """Send one chunk of audio as an append."""
        raise NotImplementedError

    async def close_client(self) -> None:
        """Release what the sessions shared (the SDK's HTTP client), after they all closed."""

    # -- the common part ----------------------------------------------------------------------

    @asynccontextmanager
    async def open(self) -> AsyncIterator[_H]:
        """:meth:`connect`, its entering bounded by the workload's connect timeout."""
        async with AsyncExitStack() as stack:
            async with asyncio.timeout(self.workload.connect_timeout):
                handle = await stack.enter_async_context(self.connect())
            yield handle

    async def close_quietly(self, closing: Awaitable[None]) -> None:
        """Await a session's close for at most the close budget; a close that hangs or fails
        is dropped (the connection is gone either way)."""
        try:
            async with asyncio.timeout(_CLOSE_SECONDS):
                await closing
        except Exception:
            pass

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
        loop = asyncio.get_running_loop()
        if workload.ramp:
            await asyncio.sleep(start + workload.ramp * index / workload.sessions - loop.time())
        sm = meter.new_session()
        holding = True
        await self.slots.acquire()
        began = loop.time()
        connected = False
        try:
            async with self.open() as handle:
                self.slots.release()
                holding = False
                connected = True
                meter.connect_done(loop.time() - began)
                self._attempt_done()
                async with asyncio.TaskGroup() as group:
                    consume = group.create_task(self.consume(handle, sm))
                    await self.go.wait()
                    append = group.create_task(self._append(handle, sm, index))
                    await self.stop.wait()
                    consume.cancel()
                    append.cancel()
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
        monotonic, send, chunk, sleep = time.monotonic, self.send_chunk, plan.chunk, asyncio.sleep
        once = workload.scenario == "receive"
        k = 0
        while True:
            due = first + k * interval
            delay = due - monotonic()  # asyncio's loop clock is time.monotonic
            if delay > 0:
                await sleep(delay)
            meter.sent(due, monotonic())
            await send(handle, chunk(k, rotation))
            if plan.ends_speech(k, rotation):
                sm.turns.speech_ended(monotonic())
            if once:
                return  # the receive scenario: one append starts the stream
            k += 1

    async def _progress(self) -> None:
        while True:
            self.link.emit("progress", self.meter.progress(time.monotonic()))
            await asyncio.sleep(PROGRESS_SECONDS)

    async def run(self, link: WorkerLink = PIPE_LINK) -> None:
        """The worker's whole life (see :mod:`._worker`), reporting through ``link``."""
        workload, meter = self.workload, self.meter
        self.link = link
        meter.cpu_clock = link.cpu_clock
        await self.warm_up()
        meter.baseline()
        progress = asyncio.create_task(self._progress())
        try:
            async with asyncio.TaskGroup() as sessions:
                start = asyncio.get_running_loop().time()
                for index in self.spec.indices:
                    sessions.create_task(self.session(index, start))
                await self.all_tried.wait()
                await asyncio.sleep(_SETTLE_SECONDS)
                meter.idle_snapshot()
                link.emit("ready", {"connected": meter.connected, "failed": meter.connect_failures})
                go = await link.go_asyncio()
                self.t0 = go
                w0 = go + workload.warmup
                w1 = w0 + workload.window
                meter.open_window(w0, w1)
                self.go.set()
                await asyncio.sleep(w0 - time.monotonic())
                meter.cpu_mark_start()
                await asyncio.sleep(w1 - time.monotonic())
                meter.cpu_mark_end()
                await asyncio.sleep(w1 + tail_seconds(workload) - time.monotonic())
                self.stop.set()
        finally:
            progress.cancel()
        link.emit("result", meter.result())
        await self.close_client()

    def main(self, link: WorkerLink = PIPE_LINK) -> None:
        """Run :meth:`run` on a fresh loop whose scheduler passes the meter times."""
        with asyncio.Runner(loop_factory=lambda: timed_event_loop(self.meter.stalls)) as runner:
            runner.run(self.run(link))
