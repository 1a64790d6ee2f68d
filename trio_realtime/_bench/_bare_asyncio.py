"""The asyncio baseline in a worker: bare ``websockets`` and orjson, untyped, no session layer.

The limit the workload document names for asyncio: the same schedule and measurements as the
SDK (:class:`~._asyncio_driver.AsyncioDriver`), but each session is one ``websockets``
connection (no compression, 64 MiB messages) read with ``recv(decode=False)`` and parsed with
``orjson.loads`` into plain dicts, and each append is ``orjson.dumps`` of a dict with base64
audio sent as a text frame. What the SDK costs over this is its typed layer (``--baseline``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosedOK

from ._asyncio_driver import AsyncioDriver
from ._link import PIPE_LINK, WorkerLink
from ._load_frames import STAMP_FIELD
from ._meter import TURN_MILESTONES, SessionMeter
from ._worker import WorkerSpec

__all__ = ["run_bare_asyncio"]

_MAX_MESSAGE: Final = 64 * 1024 * 1024


class _BareAsyncio(AsyncioDriver[ClientConnection]):
    def __init__(self, spec: WorkerSpec, key: str) -> None:
        if spec.workload.scenario == "transcription":
            raise ValueError("the bare asyncio baseline runs speech-to-speech sessions only")
        super().__init__(spec, key)
        self.url = f"{spec.url}?model={self.workload.model}"
        self.headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": "realtime=v1"}

    def connect(self) -> AbstractAsyncContextManager[ClientConnection]:
        return self._connect()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[ClientConnection]:
        ws = await ws_connect(
            self.url,
            additional_headers=self.headers,
            max_size=_MAX_MESSAGE,
            compression=None,
            user_agent_header=None,
        )
        try:
            first = orjson.loads(await ws.recv(decode=False))
            if first.get("type") != "session.created":
                raise RuntimeError(f"first event was {first.get('type')!r}")
            yield ws
        finally:
            await self.close_quietly(ws.close())

    async def consume(self, handle: ClientConnection, sm: SessionMeter) -> None:
        meter, monotonic, loads = self.meter, time.monotonic, orjson.loads
        record, turns, tracker = meter.event, self.turns, sm.turns
        receive = handle.recv
        while True:
            try:
                message = await receive(decode=False)
            except ConnectionClosedOK:
                return
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

    async def send_chunk(self, handle: ClientConnection, pcm: bytes) -> None:
        audio = base64.b64encode(pcm).decode()
        message = orjson.dumps({"type": "input_audio_buffer.append", "audio": audio})
        await handle.send(message, text=True)


def run_bare_asyncio(spec: WorkerSpec, key: str, link: WorkerLink = PIPE_LINK) -> None:
    """Run ``spec``'s sessions on bare websockets, reporting through ``link``."""
    _BareAsyncio(spec, key).main(link)
