"""The baseline in a worker: bare trio-websocket and orjson, untyped, no session layer.

The workload document's reference transport: the same schedule and measurements as
:mod:`._ours` (:class:`~._trio_driver.TrioDriver`), but each session is one trio-websocket
connection (64 KiB reads, 64 MiB messages, as our client uses) read with ``get_message`` and
parsed with ``orjson.loads`` into plain dicts, and each append is ``orjson.dumps`` of a dict
with base64 audio. The difference between this and ours is what the typed session layer
costs (``--baseline``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

import orjson
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url

from ._link import PIPE_LINK, WorkerLink
from ._load_frames import STAMP_FIELD
from ._meter import TURN_MILESTONES, SessionMeter
from ._trio_driver import TrioDriver
from ._worker import WorkerSpec
from ._workload import TRANSCRIPTION_MODEL

__all__ = ["run_bare"]

_CLOSE_SECONDS: Final = 5.0


class _Bare(TrioDriver[WebSocketConnection]):
    def __init__(self, spec: WorkerSpec, key: str) -> None:
        super().__init__(spec, key)
        transcription = self.workload.scenario == "transcription"
        query = "intent=transcription" if transcription else f"model={self.workload.model}"
        self.url = f"{spec.url}?{query}"
        self.headers = [
            (b"Authorization", f"Bearer {key}".encode()),
            (b"OpenAI-Beta", b"realtime=v1"),
        ]

    def open(self) -> AbstractAsyncContextManager[WebSocketConnection]:
        return self._open()

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[WebSocketConnection]:
        async with trio.open_nursery() as transport:
            with trio.fail_after(self.workload.connect_timeout):
                ws = await connect_websocket_url(
                    transport,
                    self.url,
                    extra_headers=self.headers,
                    message_queue_size=1,
                    max_message_size=64 * 1024 * 1024,
                    receive_buffer_size=64 * 1024,
                )
            try:
                with trio.fail_after(self.workload.connect_timeout):
                    first = orjson.loads(await ws.get_message())
                if first.get("type") not in ("session.created", "transcription_session.created"):
                    raise RuntimeError(f"first event was {first.get('type')!r}")
                yield ws
            finally:
                with trio.move_on_after(_CLOSE_SECONDS) as scope:
                    scope.shield = True
                    await ws.aclose()
                transport.cancel_scope.cancel()

    async def prepare(self, handle: WebSocketConnection) -> None:
        if self.workload.scenario == "transcription":
            update = {
                "type": "transcription_session.update",
                "session": {"input_audio_transcription": {"model": TRANSCRIPTION_MODEL}},
            }
            await handle.send_message(orjson.dumps(update).decode())
            with trio.fail_after(self.workload.connect_timeout):
                while orjson.loads(await handle.get_message()).get("type") != (
                    "transcription_session.updated"
                ):
                    pass

    async def consume(self, handle: WebSocketConnection, sm: SessionMeter) -> None:
        meter, monotonic, loads = self.meter, time.monotonic, orjson.loads
        record, turns, tracker = meter.event, self.turns, sm.turns
        get = handle.get_message
        while True:
            try:
                message = await get()
            except ConnectionClosed as exc:
                if getattr(exc.reason, "code", None) == 1000:
                    return
                raise
            now = monotonic()
            event = loads(message)
            record(sm, now, event.get(STAMP_FIELD))
            kind = event.get("type")
            if kind == "error":
                meter.error(event.get("error", {}).get("code"))
            elif turns:
                milestone = TURN_MILESTONES.get(kind)
                if milestone is not None:
                    milestone(tracker, now)

    async def send_chunk(self, handle: WebSocketConnection, pcm: bytes) -> None:
        audio = base64.b64encode(pcm).decode()
        await handle.send_message(
            orjson.dumps({"type": "input_audio_buffer.append", "audio": audio}).decode()
        )


def run_bare(spec: WorkerSpec, key: str, link: WorkerLink = PIPE_LINK) -> None:
    """Run ``spec``'s sessions on bare trio-websocket, reporting through ``link``."""
    trio.run(_Bare(spec, key).run, link)
