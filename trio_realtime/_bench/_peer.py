"""The peer in a worker: the official ``openai`` SDK's realtime client on asyncio, two ways.

The same workload as :mod:`._ours`, written the way the SDK's users write it:
``AsyncOpenAI(...).beta.realtime.connect(model=...)`` for the beta dialect, its GA client
``AsyncOpenAI(...).realtime.connect(model=...)`` for GA (which also opens transcription
sessions, ``?intent=transcription``), ``async for event in connection`` (pydantic models),
and one append of base64 audio per chunk on the same absolute schedule.
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
from openai.types.realtime import InputAudioBufferAppendEvent as GaAppendEvent
from openai.types.websocket_connection_options import WebSocketConnectionOptions

from ._asyncio_driver import AsyncioDriver
from ._link import PIPE_LINK, WorkerLink
from ._load_frames import STAMP_FIELD
from ._meter import TURN_MILESTONES, SessionMeter
from ._worker import WorkerSpec
from ._workload import TRANSCRIPTION_MODEL

__all__ = ["run_peer"]

#: The SDK's connection options: our client's message limit, and no compression (the SDK's
#: own default with unlimited messages, and what our client does).
_WS_OPTIONS: Final = WebSocketConnectionOptions(max_size=64 * 1024 * 1024, compression=None)


class _Sdk(AsyncioDriver[AsyncRealtimeConnection]):
    def __init__(self, spec: WorkerSpec, key: str) -> None:
        self.ga = spec.workload.dialect == "ga"
        if spec.workload.scenario == "transcription" and not self.ga:
            raise ValueError(
                "the openai SDK's beta realtime client cannot open transcription sessions "
                "(it always sends ?model=); run the transcription scenario with --dialect ga, "
                "or without --peer"
            )
        super().__init__(spec, key)
        self.client = AsyncOpenAI(
            api_key=key, websocket_base_url=spec.url.removesuffix("/realtime")
        )

    def connect(self) -> AbstractAsyncContextManager[AsyncRealtimeConnection]:
        return self._connect()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncRealtimeConnection]:
        connection: Any
        if self.ga:
            # Its GA client: no beta marker; reconnection off, as the beta client has none.
            where: dict[str, Any] = (
                {"extra_query": {"intent": "transcription"}}
                if self.workload.scenario == "transcription"
                else {"model": self.workload.model}
            )
            connection = await self.client.realtime.connect(
                **where, websocket_connection_options=_WS_OPTIONS, max_retries=0
            ).enter()
        else:
            connection = await self.client.beta.realtime.connect(
                model=self.workload.model, websocket_connection_options=_WS_OPTIONS
            ).enter()
        try:
            first = await connection.recv()
            if first.type != "session.created":
                raise RuntimeError(f"first event was {first.type!r}, not session.created")
            if self.ga and self.workload.scenario == "transcription":
                # As ours does: the transcription model, then its session.updated.
                transcription = {"model": TRANSCRIPTION_MODEL}
                await connection.session.update(
                    session={
                        "type": "transcription",
                        "audio": {"input": {"transcription": transcription}},
                    }
                )
                while (await connection.recv()).type != "session.updated":
                    pass
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
        event = (GaAppendEvent if self.ga else InputAudioBufferAppendEvent)(
            type="input_audio_buffer.append", audio=audio
        )
        await handle.send(event)  # type: ignore[arg-type]


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
