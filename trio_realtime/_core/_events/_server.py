"""The 35 server events of the Realtime API beta v1."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from .._unset import UNSET, Unset
from ._base import ServerEvent, decode_audio, short_field
from ._objects import (
    ContentPart,
    ConversationInfo,
    ConversationItem,
    ErrorDetails,
    Logprob,
    RateLimit,
    Response,
    Session,
    TranscriptionDurationUsage,
    TranscriptionError,
    TranscriptionSession,
    TranscriptionTokenUsage,
)


@attrs.frozen(kw_only=True, repr=False)
class ErrorEvent(ServerEvent):
    """``error``: the server refused something; most errors leave the session open.

    ``error.event_id`` names the client event that caused it, when the client gave one.
    """

    type: ClassVar[str] = "error"
    error: ErrorDetails


@attrs.frozen(kw_only=True, repr=False)
class SessionCreated(ServerEvent):
    """``session.created``: the first event of a conversation session, with its defaults."""

    type: ClassVar[str] = "session.created"
    session: Session


@attrs.frozen(kw_only=True, repr=False)
class SessionUpdated(ServerEvent):
    """``session.updated``: the whole effective configuration after a ``session.update``."""

    type: ClassVar[str] = "session.updated"
    session: Session


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionSessionCreated(ServerEvent):
    """``transcription_session.created``: the first event of a transcription session."""

    type: ClassVar[str] = "transcription_session.created"
    session: TranscriptionSession


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionSessionUpdated(ServerEvent):
    """``transcription_session.updated``: the configuration after an update."""

    type: ClassVar[str] = "transcription_session.updated"
    session: TranscriptionSession


@attrs.frozen(kw_only=True, repr=False)
class ConversationCreated(ServerEvent):
    """``conversation.created``: optional; few servers send it."""

    type: ClassVar[str] = "conversation.created"
    conversation: ConversationInfo


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemCreated(ServerEvent):
    """``conversation.item.created``: an item entered the conversation after ``previous_item_id``."""

    type: ClassVar[str] = "conversation.item.created"
    item: ConversationItem
    previous_item_id: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemDeleted(ServerEvent):
    """``conversation.item.deleted``."""

    type: ClassVar[str] = "conversation.item.deleted"
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemRetrieved(ServerEvent):
    """``conversation.item.retrieved``: the server's view of an item, audio included."""

    type: ClassVar[str] = "conversation.item.retrieved"
    item: ConversationItem


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemTruncated(ServerEvent):
    """``conversation.item.truncated``: assistant audio was cut and its transcript dropped."""

    type: ClassVar[str] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


@attrs.frozen(kw_only=True, repr=False)
class InputAudioTranscriptionDelta(ServerEvent):
    """``conversation.item.input_audio_transcription.delta``: part of a user transcript."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.delta"
    item_id: str
    content_index: int | Unset | None = UNSET
    delta: str | Unset | None = UNSET
    logprobs: list[Logprob] | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class InputAudioTranscriptionCompleted(ServerEvent):
    """``conversation.item.input_audio_transcription.completed``: a user transcript.

    ``usage`` is a :class:`TranscriptionTokenUsage` or :class:`TranscriptionDurationUsage`;
    a usage of a kind this library does not know stays a plain ``dict``. Servers added it
    late in the beta (openai-python 1.95, mid 2025; the 2025-04 spec's own example has none),
    so it is :data:`~trio_realtime.UNSET` when an older server leaves it out.
    """

    type: ClassVar[str] = "conversation.item.input_audio_transcription.completed"
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionTokenUsage | TranscriptionDurationUsage | dict[str, Any] | Unset | None = (
        UNSET
    )
    logprobs: list[Logprob] | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class InputAudioTranscriptionFailed(ServerEvent):
    """``conversation.item.input_audio_transcription.failed``: no transcript for an item."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.failed"
    item_id: str
    content_index: int
    error: TranscriptionError


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferCommitted(ServerEvent):
    """``input_audio_buffer.committed``: the buffer became user item ``item_id``."""

    type: ClassVar[str] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferCleared(ServerEvent):
    """``input_audio_buffer.cleared``."""

    type: ClassVar[str] = "input_audio_buffer.cleared"


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferSpeechStarted(ServerEvent):
    """``input_audio_buffer.speech_started``: server VAD heard speech begin.

    ``audio_start_ms`` counts audio milliseconds since the session began.
    """

    type: ClassVar[str] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferSpeechStopped(ServerEvent):
    """``input_audio_buffer.speech_stopped``: server VAD heard speech end."""

    type: ClassVar[str] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class OutputAudioBufferStarted(ServerEvent):
    """``output_audio_buffer.started`` (WebRTC only)."""

    type: ClassVar[str] = "output_audio_buffer.started"
    response_id: str


@attrs.frozen(kw_only=True, repr=False)
class OutputAudioBufferStopped(ServerEvent):
    """``output_audio_buffer.stopped`` (WebRTC only)."""

    type: ClassVar[str] = "output_audio_buffer.stopped"
    response_id: str


@attrs.frozen(kw_only=True, repr=False)
class OutputAudioBufferCleared(ServerEvent):
    """``output_audio_buffer.cleared`` (WebRTC only)."""

    type: ClassVar[str] = "output_audio_buffer.cleared"
    response_id: str


@attrs.frozen(kw_only=True, repr=False)
class RateLimitsUpdated(ServerEvent):
    """``rate_limits.updated``: one per response."""

    type: ClassVar[str] = "rate_limits.updated"
    rate_limits: list[RateLimit]


@attrs.frozen(kw_only=True, repr=False)
class ResponseCreated(ServerEvent):
    """``response.created``: a response started (``in_progress``, no output yet)."""

    type: ClassVar[str] = "response.created"
    response: Response


@attrs.frozen(kw_only=True, repr=False)
class ResponseDone(ServerEvent):
    """``response.done``: the last event of every response, with status and usage."""

    type: ClassVar[str] = "response.done"
    response: Response


@attrs.frozen(kw_only=True, repr=False)
class ResponseOutputItemAdded(ServerEvent):
    """``response.output_item.added``."""

    type: ClassVar[str] = "response.output_item.added"
    response_id: str
    output_index: int
    item: ConversationItem


@attrs.frozen(kw_only=True, repr=False)
class ResponseOutputItemDone(ServerEvent):
    """``response.output_item.done``."""

    type: ClassVar[str] = "response.output_item.done"
    response_id: str
    output_index: int
    item: ConversationItem


@attrs.frozen(kw_only=True, repr=False)
class ResponseContentPartAdded(ServerEvent):
    """``response.content_part.added``."""

    type: ClassVar[str] = "response.content_part.added"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@attrs.frozen(kw_only=True, repr=False)
class ResponseContentPartDone(ServerEvent):
    """``response.content_part.done``."""

    type: ClassVar[str] = "response.content_part.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


@attrs.frozen(kw_only=True, repr=False)
class ResponseTextDelta(ServerEvent):
    """``response.text.delta``: a piece of text output."""

    type: ClassVar[str] = "response.text.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseTextDone(ServerEvent):
    """``response.text.done``: the whole text of a part."""

    type: ClassVar[str] = "response.text.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    text: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseAudioDelta(ServerEvent):
    """``response.audio.delta``: base64 audio in the session's output format; see :attr:`pcm`."""

    type: ClassVar[str] = "response.audio.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str = short_field()

    @property
    def pcm(self) -> bytes:
        """The delta's audio as raw bytes.

        Raises:
            ValueError: ``delta`` is not valid base64.
        """
        return decode_audio(self.delta)


@attrs.frozen(kw_only=True, repr=False)
class ResponseAudioDone(ServerEvent):
    """``response.audio.done``: no more audio for this part."""

    type: ClassVar[str] = "response.audio.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@attrs.frozen(kw_only=True, repr=False)
class ResponseAudioTranscriptDelta(ServerEvent):
    """``response.audio_transcript.delta``: a piece of the transcript of output audio."""

    type: ClassVar[str] = "response.audio_transcript.delta"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    delta: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseAudioTranscriptDone(ServerEvent):
    """``response.audio_transcript.done``: the whole transcript of a part."""

    type: ClassVar[str] = "response.audio_transcript.done"
    response_id: str
    item_id: str
    output_index: int
    content_index: int
    transcript: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseFunctionCallArgumentsDelta(ServerEvent):
    """``response.function_call_arguments.delta``: a piece of a call's JSON arguments."""

    type: ClassVar[str] = "response.function_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseFunctionCallArgumentsDone(ServerEvent):
    """``response.function_call_arguments.done``: the call's whole JSON ``arguments``.

    The beta event has no ``name``; take it from ``response.output_item.added``.
    """

    type: ClassVar[str] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
