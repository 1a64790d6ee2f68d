"""Our client in a worker: ``trio_realtime.connect`` sessions on one trio loop.

Each session is what an application would write: ``async with connect(...)``, a task reading
``async for event in session`` (typed events; the conversation kept unless the workload says
otherwise) and a task appending audio with ``append_audio`` on an absolute schedule
(:class:`~._trio_driver.TrioDriver`). The only extra work per event is the meter's: one
clock read, one lookup of the stamp in the event's ``extra`` mapping, one histogram update.
"""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import trio

from .._core._events import (
    SERVER_EVENTS,
    ErrorEvent,
    InputAudioTranscription,
    TranscriptionSession,
    TranscriptionSessionUpdated,
)
from .._session._client import connect
from .._session._session import RealtimeSession
from ._link import PIPE_LINK, WorkerLink
from ._load_frames import STAMP_FIELD
from ._meter import TURN_MILESTONES, SessionMeter
from ._trio_driver import TrioDriver
from ._worker import WorkerSpec
from ._workload import TRANSCRIPTION_MODEL

__all__ = ["run_ours"]

# TURN_MILESTONES by event class: ours reads typed events, and a class lookup skips ``.type``.
_TURN_EVENTS: Final[dict[type, Any]] = {
    SERVER_EVENTS[name]: milestone
    for name, milestone in TURN_MILESTONES.items()
    if name in SERVER_EVENTS  # the GA names decode to these same classes
}


class _Ours(TrioDriver[RealtimeSession]):
    def open(self) -> AbstractAsyncContextManager[RealtimeSession]:
        workload = self.workload
        transcription = workload.scenario == "transcription"
        return connect(
            model=None if transcription else workload.model,
            intent="transcription" if transcription else None,
            url=self.spec.url,
            api_key=self.key,
            connect_timeout=workload.connect_timeout,
            track_conversation=workload.track_conversation,
            keep_audio_seconds=workload.keep_audio_seconds,
            dialect=workload.dialect,
        )

    async def prepare(self, handle: RealtimeSession) -> None:
        if self.workload.scenario == "transcription":
            transcription = InputAudioTranscription(model=TRANSCRIPTION_MODEL)
            await handle.update_transcription_session(
                TranscriptionSession(input_audio_transcription=transcription)
            )
            await handle.wait_for(
                TranscriptionSessionUpdated, timeout=self.workload.connect_timeout
            )

    async def consume(self, handle: RealtimeSession, sm: SessionMeter) -> None:
        meter, monotonic = self.meter, time.monotonic
        record, turns, tracker = meter.event, self.turns, sm.turns
        async for event in handle:
            now = monotonic()
            extra = getattr(event, "extra", None)
            record(sm, now, extra.get(STAMP_FIELD) if extra else None)
            kind = type(event)
            if kind is ErrorEvent:
                meter.error(event.error.code)  # type: ignore[union-attr]
            elif turns:
                milestone = _TURN_EVENTS.get(kind)
                if milestone is not None:
                    milestone(tracker, now)

    async def send_chunk(self, handle: RealtimeSession, pcm: bytes) -> None:
        await handle.append_audio(pcm)


def run_ours(spec: WorkerSpec, key: str, link: WorkerLink = PIPE_LINK) -> None:
    """Run ``spec``'s sessions with our client, reporting through ``link``."""
    trio.run(_Ours(spec, key).run, link)
