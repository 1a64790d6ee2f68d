"""The peer in a worker: the official ``openai`` SDK's beta realtime client on asyncio.

The same workload as :mod:`._ours`, written the way the SDK's documentation writes it:
``AsyncOpenAI(...).beta.realtime.connect(model=...)``, ``async for event in connection``
(pydantic models), and ``connection.input_audio_buffer.append(audio=base64)`` on the same
absolute schedule. One ``AsyncOpenAI`` client serves every session of the worker, as an
application would share it. Extra fields such as ``server_sent_at`` ride along on pydantic
models (``extra="allow"``), so the stamp is read the same way.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from typing import Any, Final

from openai import AsyncOpenAI
from openai.types.websocket_connection_options import WebSocketConnectionOptions

from ._load_frames import STAMP_FIELD
from ._meter import TURN_MILESTONES, SessionMeter, WorkerMeter
from ._worker import PROGRESS_SECONDS, WorkerSpec, emit, parse_go, tail_seconds
from ._workload import build_audio, session_phase

__all__ = ["run_peer"]

_CLOSE_SECONDS: Final = 10.0
#: The SDK's connection options: our client's message limit, and no compression (the SDK's
#: own default with unlimited messages, and what our client does).
_WS_OPTIONS: Final = WebSocketConnectionOptions(max_size=64 * 1024 * 1024, compression=None)


async def _read_go() -> float:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return parse_go(await reader.readline())
    finally:
        transport.close()


class _Worker:
    def __init__(self, spec: WorkerSpec, key: str) -> None:
        if spec.workload.scenario == "transcription":
            raise ValueError(
                "the openai SDK's beta realtime client cannot open transcription sessions "
                "(it always sends ?model=); run the transcription scenario without --peer"
            )
        self.spec = spec
        self.workload = spec.workload
        self.plan = build_audio(spec.workload)
        # Base64 is the SDK's interface: the application encodes each chunk itself.
        self.meter = WorkerMeter(
            spec.client, spec.worker, len(spec.indices), spec.trace_memory, spec.gc_threshold
        )
        self.client = AsyncOpenAI(
            api_key=key, websocket_base_url=spec.url.removesuffix("/realtime")
        )
        self.slots = asyncio.Semaphore(spec.handshakes)
        self.all_tried = asyncio.Event()
        self.go = asyncio.Event()
        self.stop = asyncio.Event()
        self.t0 = 0.0
        self.turns = spec.workload.scenario != "standard"

    def _attempt_done(self) -> None:
        if self.meter.attempts_done == len(self.spec.indices):
            self.all_tried.set()

    async def _open(self) -> Any:
        connection = await self.client.beta.realtime.connect(
            model=self.workload.model, websocket_connection_options=_WS_OPTIONS
        ).enter()
        try:
            first = await connection.recv()
            if first.type != "session.created":
                raise RuntimeError(f"first event was {first.type!r}, not session.created")
        except BaseException:
            await connection.close()
            raise
        return connection

    async def warm_up(self) -> None:
        """One throwaway session before the memory baseline (see WorkerMeter.baseline)."""
        try:
            async with asyncio.timeout(self.workload.connect_timeout):
                connection = await self._open()
            await connection.close()
        except Exception:
            pass

    async def session(self, index: int, start: float) -> None:
        workload, meter = self.workload, self.meter
        loop = asyncio.get_running_loop()
        if workload.ramp:
            await asyncio.sleep(start + workload.ramp * index / workload.sessions - loop.time())
        sm = meter.new_session()
        async with self.slots:
            began = loop.time()
            try:
                async with asyncio.timeout(workload.connect_timeout):
                    connection = await self._open()
            except Exception as exc:
                meter.connect_failed(exc)
                self._attempt_done()
                return
        meter.connect_done(loop.time() - began)
        self._attempt_done()
        try:
            await self._stream(connection, sm, index)
        except Exception as exc:
            meter.session_ended(exc)
        else:
            meter.session_ended(None)
        finally:
            try:
                async with asyncio.timeout(_CLOSE_SECONDS):
                    await connection.close()
            except (Exception, asyncio.CancelledError):
                pass  # the connection is gone either way

    async def _stream(self, connection: Any, sm: SessionMeter, index: int) -> None:
        async with asyncio.TaskGroup() as group:
            consume = group.create_task(self._consume(connection, sm))
            await self.go.wait()
            append = group.create_task(self._append(connection, sm, index))
            await self.stop.wait()
            consume.cancel()
            append.cancel()

    async def _consume(self, connection: Any, sm: SessionMeter) -> None:
        meter, monotonic = self.meter, time.monotonic
        record = meter.event
        turns = self.turns
        tracker = sm.turns
        async for event in connection:
            now = monotonic()
            record(sm, now, getattr(event, STAMP_FIELD, None))
            kind = event.type
            if kind == "error":
                meter.error(event.error.code)
            elif turns:
                milestone = TURN_MILESTONES.get(kind)
                if milestone is not None:
                    milestone(tracker, now)

    async def _append(self, connection: Any, sm: SessionMeter, index: int) -> None:
        workload, plan, meter = self.workload, self.plan, self.meter
        interval = workload.interval
        rotation = index * len(plan.chunks) // workload.sessions
        first = self.t0 + session_phase(index, workload.sessions, interval)
        monotonic, b64 = time.monotonic, base64.b64encode
        append = connection.input_audio_buffer.append
        k = 0
        while True:
            due = first + k * interval
            delay = due - monotonic()  # asyncio's loop clock is time.monotonic
            if delay > 0:
                await asyncio.sleep(delay)
            meter.sent(due, monotonic())
            await append(audio=b64(plan.chunk(k, rotation)).decode())
            if plan.ends_speech(k, rotation):
                sm.turns.speech_ended(monotonic())
            k += 1

    async def progress(self) -> None:
        while True:
            emit("progress", self.meter.progress(time.monotonic()))
            await asyncio.sleep(PROGRESS_SECONDS)

    async def run(self) -> None:
        workload, meter = self.workload, self.meter
        loop = asyncio.get_running_loop()
        await self.warm_up()
        meter.baseline()
        progress = asyncio.create_task(self.progress())
        try:
            async with asyncio.TaskGroup() as sessions:
                start = loop.time()
                for index in self.spec.indices:
                    sessions.create_task(self.session(index, start))
                await self.all_tried.wait()
                await asyncio.sleep(0.2)
                meter.idle_snapshot()
                emit("ready", {"connected": meter.connected, "failed": meter.connect_failures})
                go = await _read_go()
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
        emit("result", meter.result())
        await self.client.close()


def run_peer(spec: WorkerSpec, key: str) -> None:
    """Run ``spec``'s sessions with the openai SDK; print the protocol lines."""

    async def main() -> None:
        await _Worker(spec, key).run()

    asyncio.run(main())
