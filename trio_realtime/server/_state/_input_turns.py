"""The user's turns of one connection: the input audio buffer, VAD, commits and the listener.

:class:`InputTurns` handles ``input_audio_buffer.append`` / ``.commit`` / ``.clear``: it feeds
the buffer and its VAD (:mod:`.._input_audio`), announces speech started and stopped, commits a
turn as a user audio item with its transcription when enabled (5.2, 5.4, 5.10), and lets a
streaming engine's :class:`~.._engine_api.Listener` hear the audio as it arrives. What a turn
starts or interrupts on the response side is :class:`~._response_control.ResponseControl`'s.
"""

from __future__ import annotations

from typing import Final, final

from ..._core._events import (
    ConversationItemCreated,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    ServerEvent,
)
from ..._core._vad import SpeechStarted
from .._engine_api import Listener
from .._errors import commit_too_small
from .._input_audio import TICKS_PER_MS, InputAudio, decode_append
from .._items import user_audio_item
from .._session_config import LOGPROBS_INCLUDE, SessionConfig
from .._transcription import start_transcription
from ._response_control import ResponseControl
from ._shared import SharedState

__all__ = ["MIN_COMMIT_MS", "InputTurns"]

MIN_COMMIT_MS: Final = 100
"""The least audio ``input_audio_buffer.commit`` accepts."""


@final
class InputTurns:
    """The input audio buffer of one connection and the turns taken from it.

    Args:
        shared: The connection's shared state.
        responses: Told when speech starts (barge-in) and when a VAD turn is committed.
        listener: The engine session's listener, if it hears audio as it arrives.

    Attributes:
        audio: The input audio buffer and its VAD.
        appended: Bytes of audio appended so far.
    """

    __slots__ = (
        "_hearing",
        "_listener",
        "_responses",
        "_shared",
        "_turn_item_id",
        "_turn_start_ms",
        "appended",
        "audio",
    )

    def __init__(
        self, shared: SharedState, responses: ResponseControl, listener: Listener | None
    ) -> None:
        self._shared = shared
        self._responses = responses
        self._listener = listener
        self._hearing = False  # the listener has a turn in progress
        self._turn_item_id: str | None = None  # the user item id announced by speech_started
        self._turn_start_ms = 0
        self.appended = 0
        self.audio = InputAudio(
            shared.config.input_audio_format,
            shared.config.turn_detection,
            idle_keep_ms=shared.options.idle_buffer_ms,
        )

    def configure(self, config: SessionConfig) -> None:
        """Follow a new session configuration (audio format, turn detection)."""
        self.audio.configure(config.input_audio_format, config.turn_detection)
        if not self.audio.in_speech:
            self._turn_item_id = None  # VAD was switched off mid-speech

    def append(self, event: InputAudioBufferAppend, now: float, out: list[ServerEvent]) -> None:
        """``input_audio_buffer.append``: buffer it, and act on the speech VAD finds in it."""
        shared = self._shared
        pcm = decode_append(
            event.audio, shared.options.max_append_audio_bytes, shared.config.input_audio_format
        )
        self.appended += len(pcm)
        vad_events = self.audio.append(pcm)
        if self._listener is not None:
            self._hear(pcm)
        for vad_event in vad_events:
            if isinstance(vad_event, SpeechStarted):
                self._speech_started(vad_event.audio_start_ms, now, out)
            else:
                self._speech_stopped(vad_event.audio_end_ms, now, out)

    def commit(self, event: InputAudioBufferCommit, now: float, out: list[ServerEvent]) -> None:
        """``input_audio_buffer.commit``: the whole buffer becomes a user turn."""
        ticks = self.audio.buffered_ticks
        if ticks < MIN_COMMIT_MS * TICKS_PER_MS:
            raise commit_too_small(ticks / TICKS_PER_MS, MIN_COMMIT_MS)
        item_id = self._turn_item_id or self._shared.new_item_id()
        self._turn_item_id = None
        self._commit(self.audio.take_all(), item_id, now, out)

    def clear(self, event: InputAudioBufferClear, now: float, out: list[ServerEvent]) -> None:
        """``input_audio_buffer.clear``: drop the buffer, and the turn the listener hears."""
        self.audio.clear()
        self._turn_item_id = None
        if self._listener is not None and self._hearing:
            self._hearing = False
            self._shared.engine_work.submit(self._listener.turn_dropped())
        out.append(InputAudioBufferCleared(event_id=self._shared.event_id()))

    def _hear(self, pcm: bytes) -> None:
        """Let the listener hear an append (before its VAD events are handled)."""
        assert self._listener is not None
        fmt = self.audio.fmt.name
        if self._hearing:
            self._shared.engine_work.submit(self._listener.audio_appended(pcm, fmt))
        elif not self.audio.vad_on:  # manual turns: the whole buffer is the turn
            self._hearing = True
            audio = self.audio.audio_since(self.audio.start_ms)
            self._shared.engine_work.submit(self._listener.turn_started(audio, fmt))

    def _speech_started(self, audio_start_ms: int, now: float, out: list[ServerEvent]) -> None:
        shared = self._shared
        item_id = shared.new_item_id()
        self._turn_item_id = item_id
        self._turn_start_ms = max(audio_start_ms, self.audio.start_ms)
        if self._listener is not None:
            self._hearing = True
            audio = self.audio.audio_since(self._turn_start_ms)
            shared.engine_work.submit(self._listener.turn_started(audio, self.audio.fmt.name))
        out.append(
            InputAudioBufferSpeechStarted(
                event_id=shared.event_id(), audio_start_ms=self._turn_start_ms, item_id=item_id
            )
        )
        self._responses.speech_started(now, out)

    def _speech_stopped(self, audio_end_ms: int, now: float, out: list[ServerEvent]) -> None:
        item_id = self._turn_item_id or self._shared.new_item_id()
        self._turn_item_id = None
        out.append(
            InputAudioBufferSpeechStopped(
                event_id=self._shared.event_id(), audio_end_ms=audio_end_ms, item_id=item_id
            )
        )
        self._commit(self.audio.take_turn(self._turn_start_ms, audio_end_ms), item_id, now, out)
        self._responses.turn_ended(now, out)

    def _commit(self, audio: bytes, item_id: str, now: float, out: list[ServerEvent]) -> None:
        """``committed`` + ``conversation.item.created`` for a user audio turn, and its
        transcription when enabled (5.2, 5.4, 5.10)."""
        shared = self._shared
        fmt = self.audio.fmt
        item = user_audio_item(item_id, audio, fmt, shared.options.keep_input_audio)
        if self._listener is not None:
            self._hearing = False
            heard = self._listener.turn_committed(item_id, audio, fmt.name)
            shared.engine_work.submit(heard)
        previous = shared.conversation.insert(item)
        out.append(
            InputAudioBufferCommitted(
                event_id=shared.event_id(), previous_item_id=previous, item_id=item_id
            )
        )
        out.append(
            ConversationItemCreated(
                event_id=shared.event_id(), previous_item_id=previous, item=item.wire()
            )
        )
        config = shared.config
        if config.transcription is not None:
            shared.timeline.transcriptions.append(
                start_transcription(
                    shared.engine,
                    config.transcription,
                    item,
                    audio,
                    now=now,
                    logprobs=LOGPROBS_INCLUDE in (config.include or ()),
                    ids=shared.ids,
                    work=shared.engine_work,
                )
            )
