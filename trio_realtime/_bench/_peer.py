"""The peer in a worker: the official ``openai`` SDK's beta realtime client on asyncio, two ways.

The same workload as :mod:`._ours`, written the way the SDK's users write it:
``AsyncOpenAI(...).beta.realtime.connect(model=...)``, ``async for event in connection``
(pydantic models), and one append of base64 audio per chunk on the same absolute schedule.
The appends go one of two ways, each its own client in the report, so every comparison can
be made against the peer at its best:

``openai-sdk-send``
    The SDK's public fast path: ``await connection.send(InputAudioBufferAppendEvent(
    type="input_audio_buffer.append", audio=...))``, a pydantic model serialised by its
    ``to_json``.
``openai-sdk-append``
    The documented convenience method: ``await connection.input_audio_buffer.append(
    audio=...)``, which builds a TypedDict and runs it through the SDK's ``transform``
    machinery before ``json.dumps`` (about ten times the CPU per append of the fast path).

Receiving is the same for both. One ``AsyncOpenAI`` client serves every session of the
worker, as an application would share it. Extra fields such as ``server_sent_at`` ride along
on pydantic models (``extra="allow"``), so the stamp is read the same way as ours.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, cast

from openai import AsyncOpenAI
from openai.resources.beta.realtime.realtime import AsyncRealtimeConnection
from openai.types.beta.realtime import InputAudioBufferAppendEvent
from openai.types.websocket_connection_options import WebSocketConnectionOptions

from ._asyncio_driver import AsyncioDriver
from ._link import PIPE_LINK, WorkerLink
from ._load_frames import STAMP_FIELD
from ._meter import TURN_MILESTONES, SessionMeter
from ._worker import WorkerSpec

__all__ = ["run_peer"]

#: The SDK's connection options: our client's message limit, and no compression (the SDK's
#: own default with unlimited messages, and what our client does).
_WS_OPTIONS: Final = WebSocketConnectionOptions(max_size=64 * 1024 * 1024, compression=None)


class _Sdk(AsyncioDriver[AsyncRealtimeConnection]):
    def __init__(self, spec: WorkerSpec, key: str) -> None:
        if spec.workload.scenario == "transcription":
            raise ValueError(
                "the openai SDK's beta realtime client cannot open transcription sessions "
                "(it always sends ?model=); run the transcription scenario without --peer"
            )
        super().__init__(spec, key)
        self.client = AsyncOpenAI(
            api_key=key, websocket_base_url=spec.url.removesuffix("/realtime")
        )

    def connect(self) -> AbstractAsyncContextManager[AsyncRealtimeConnection]:
        return self._connect()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncRealtimeConnection]:
        connection = await self.client.beta.realtime.connect(
            model=self.workload.model, websocket_connection_options=_WS_OPTIONS
        ).enter()
        try:
            first = await connection.recv()
            if first.type != "session.created":
                raise RuntimeError(f"first event was {first.type!r}, not session.created")
            yield connection
        finally:
            await self.close_quietly(connection.close())

    async def consume(self, handle: AsyncRealtimeConnection, sm: SessionMeter) -> None:
        meter = self.meter
        record, turns, tracker = meter.event, self.turns, sm.turns
        monotonic = time.monotonic
        async for event in handle:
            now = monotonic()
            record(sm, now, getattr(event, STAMP_FIELD, None))
            kind = event.type
            if kind == "error":
                meter.error(cast(Any, event).error.code)
            elif turns:
                milestone = TURN_MILESTONES.get(kind)
                if milestone is not None:
                    milestone(tracker, now)

    async def close_client(self) -> None:
        await self.client.close()


class _SdkSend(_Sdk):
    """Appends through ``connection.send(InputAudioBufferAppendEvent(...))``."""

    async def send_chunk(self, handle: AsyncRealtimeConnection, pcm: bytes) -> None:
        audio = base64.b64encode(pcm).decode()
        await handle.send(
            InputAudioBufferAppendEvent(type="input_audio_buffer.append", audio=audio)
        )


class _SdkAppend(_Sdk):
    """Appends through ``connection.input_audio_buffer.append(audio=...)``."""

    async def send_chunk(self, handle: AsyncRealtimeConnection, pcm: bytes) -> None:
        await handle.input_audio_buffer.append(audio=base64.b64encode(pcm).decode())


#: The SDK's ways to append, by client name.
VARIANTS: Final[dict[str, type[_Sdk]]] = {
    "openai-sdk-send": _SdkSend,
    "openai-sdk-append": _SdkAppend,
}


def run_peer(spec: WorkerSpec, key: str, link: WorkerLink = PIPE_LINK) -> None:
    """Run ``spec``'s sessions with the openai SDK (the variant ``spec.client`` names),
    reporting through ``link``."""
    VARIANTS[spec.client](spec, key).main(link)
