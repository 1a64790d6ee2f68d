"""Nested protocol objects: sessions, items, content parts, responses, usage, errors.

Shapes follow the catalog ``realtime_beta_events.json``; objects the catalog lists as
identical (or that differ only in which fields a direction uses) share one class. Every
field is optional unless the catalog marks it required; optional fields default to
:data:`~trio_realtime.UNSET` (omitted on the wire) and accept ``None`` (sent as ``null``).
Enum-like fields are plain ``str`` so a value a newer server invents survives a round trip.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from .._unset import UNSET, Unset
from ._base import Model, decode_audio, encode_audio, secret_field, short_field

# Optional everywhere; spelled out per field for the type checker.


@attrs.frozen(kw_only=True, repr=False)
class TurnDetection(Model):
    """Turn detection settings (``server_vad`` or ``semantic_vad``).

    Send ``turn_detection=None`` in a session update to switch server VAD off.
    """

    type: str | Unset | None = UNSET
    threshold: float | Unset | None = UNSET
    prefix_padding_ms: int | Unset | None = UNSET
    silence_duration_ms: int | Unset | None = UNSET
    create_response: bool | Unset | None = UNSET
    interrupt_response: bool | Unset | None = UNSET
    eagerness: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class InputAudioTranscription(Model):
    """Input audio transcription settings: ``model``, ``language`` (ISO-639-1), ``prompt``."""

    model: str | Unset | None = UNSET
    language: str | Unset | None = UNSET
    prompt: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class NoiseReduction(Model):
    """Input audio noise reduction: ``type`` is ``near_field`` or ``far_field``."""

    type: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class Tool(Model):
    """A function tool: ``name``, ``description`` and a JSON-schema ``parameters`` object."""

    type: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    parameters: Any = UNSET


@attrs.frozen(kw_only=True, repr=False)
class TracingConfiguration(Model):
    """Tracing settings: ``workflow_name``, ``group_id``, ``metadata`` (any JSON)."""

    workflow_name: str | Unset | None = UNSET
    group_id: str | Unset | None = UNSET
    metadata: Any = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ExpiresAfter(Model):
    """Lifetime of an ephemeral key: ``anchor`` (``created_at``) plus ``seconds``."""

    anchor: str | Unset | None = UNSET
    seconds: int | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ClientSecret(Model):
    """An ephemeral client secret (REST sessions) or its requested lifetime (updates).

    A server sends ``value`` and ``expires_at`` (Unix seconds); a session update may ask for
    a lifetime with ``expires_after``, or, in a transcription update, ``expires_at`` as an
    :class:`ExpiresAfter`.
    """

    value: str | Unset | None = secret_field(default=UNSET)
    expires_at: int | ExpiresAfter | Unset | None = UNSET
    expires_after: ExpiresAfter | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class Session(Model):
    """A conversation session's configuration.

    The same class is sent in ``session.update`` (set only what should change) and received
    in ``session.created`` / ``session.updated`` (the whole effective configuration).
    """

    id: str | Unset | None = UNSET
    object: str | Unset | None = UNSET
    expires_at: int | Unset | None = UNSET
    model: str | Unset | None = UNSET
    modalities: list[str] | Unset | None = UNSET
    instructions: str | Unset | None = UNSET
    voice: str | Unset | None = UNSET
    input_audio_format: str | Unset | None = UNSET
    output_audio_format: str | Unset | None = UNSET
    input_audio_transcription: InputAudioTranscription | Unset | None = UNSET
    input_audio_noise_reduction: NoiseReduction | Unset | None = UNSET
    turn_detection: TurnDetection | Unset | None = UNSET
    tools: list[Tool] | Unset | None = UNSET
    tool_choice: str | Unset | None = UNSET
    temperature: float | Unset | None = UNSET
    max_response_output_tokens: int | str | Unset | None = UNSET
    speed: float | Unset | None = UNSET
    tracing: str | TracingConfiguration | Unset | None = UNSET
    client_secret: ClientSecret | Unset | None = UNSET
    include: list[str] | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionSession(Model):
    """A transcription session's configuration (``?intent=transcription`` connections)."""

    id: str | Unset | None = UNSET
    object: str | Unset | None = UNSET
    expires_at: int | Unset | None = UNSET
    modalities: list[str] | Unset | None = UNSET
    input_audio_format: str | Unset | None = UNSET
    input_audio_transcription: InputAudioTranscription | Unset | None = UNSET
    input_audio_noise_reduction: NoiseReduction | Unset | None = UNSET
    turn_detection: TurnDetection | Unset | None = UNSET
    include: list[str] | Unset | None = UNSET
    client_secret: ClientSecret | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ContentPart(Model):
    """One content part of a message item.

    ``type`` is ``input_text``, ``input_audio``, ``item_reference``, ``text`` or ``audio``.
    ``audio`` is base64 text; :attr:`pcm` decodes it.
    """

    type: str | Unset | None = UNSET
    id: str | Unset | None = UNSET
    text: str | Unset | None = UNSET
    audio: str | Unset | None = short_field(default=UNSET)
    transcript: str | Unset | None = UNSET

    @property
    def pcm(self) -> bytes:
        """The part's audio as raw bytes (empty when it has none)."""
        return decode_audio(self.audio) if isinstance(self.audio, str) else b""

    @classmethod
    def input_audio(cls, pcm: bytes, *, transcript: str | Unset | None = UNSET) -> ContentPart:
        """An ``input_audio`` part holding ``pcm`` (raw bytes in the input format)."""
        return cls(type="input_audio", audio=encode_audio(pcm), transcript=transcript)

    @classmethod
    def input_text(cls, text: str) -> ContentPart:
        """An ``input_text`` part."""
        return cls(type="input_text", text=text)


@attrs.frozen(kw_only=True, repr=False)
class ConversationItem(Model):
    """A conversation item: a message, a function call or a function call output.

    In ``response.create.response.input`` it may also be ``{type: "item_reference", id}``.
    """

    id: str | Unset | None = UNSET
    object: str | Unset | None = UNSET
    type: str | Unset | None = UNSET
    status: str | Unset | None = UNSET
    role: str | Unset | None = UNSET
    content: list[ContentPart] | Unset | None = UNSET
    call_id: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    arguments: str | Unset | None = UNSET
    output: str | Unset | None = UNSET

    @classmethod
    def user_text(cls, text: str, **fields: Any) -> ConversationItem:
        """A user message holding one ``input_text`` part."""
        return cls(type="message", role="user", content=[ContentPart.input_text(text)], **fields)

    @classmethod
    def function_call_output(cls, call_id: str, output: str, **fields: Any) -> ConversationItem:
        """The output of the function call ``call_id`` (a string, usually JSON)."""
        return cls(type="function_call_output", call_id=call_id, output=output, **fields)


@attrs.frozen(kw_only=True, repr=False)
class ConversationInfo(Model):
    """The conversation announced by ``conversation.created``."""

    id: str | Unset | None = UNSET
    object: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ErrorDetails(Model):
    """The ``error`` of an ``error`` event.

    Attributes:
        type: ``invalid_request_error`` or ``server_error``.
        message: Human-readable text.
        code: Machine code such as ``input_audio_buffer_commit_empty``; may be null.
        param: Dotted path of the offending field; may be null.
        event_id: The client ``event_id`` of the event that caused the error, if known.
    """

    type: str
    message: str
    code: str | Unset | None = UNSET
    param: str | Unset | None = UNSET
    event_id: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionError(Model):
    """The ``error`` of ``conversation.item.input_audio_transcription.failed``."""

    type: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    message: str | Unset | None = UNSET
    param: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class RateLimit(Model):
    """One entry of ``rate_limits.updated``: ``name`` is ``requests`` or ``tokens``."""

    name: str | Unset | None = UNSET
    limit: int | Unset | None = UNSET
    remaining: int | Unset | None = UNSET
    reset_seconds: float | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ResponseError(Model):
    """Why a response ``failed``: ``type`` and ``code``."""

    type: str | Unset | None = UNSET
    code: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ResponseStatusDetails(Model):
    """Why a response ended as it did (``type``, ``reason``, ``error``)."""

    type: str | Unset | None = UNSET
    reason: str | Unset | None = UNSET
    error: ResponseError | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class TokenDetails(Model):
    """Token counts by kind; ``cached_tokens`` only for response input tokens."""

    text_tokens: int | Unset | None = UNSET
    audio_tokens: int | Unset | None = UNSET
    cached_tokens: int | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class Usage(Model):
    """Token usage of one response (``response.done.response.usage``)."""

    total_tokens: int | Unset | None = UNSET
    input_tokens: int | Unset | None = UNSET
    output_tokens: int | Unset | None = UNSET
    input_token_details: TokenDetails | Unset | None = UNSET
    output_token_details: TokenDetails | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class Response(Model):
    """A response, as in ``response.created`` and ``response.done``."""

    id: str | Unset | None = UNSET
    object: str | Unset | None = UNSET
    status: str | Unset | None = UNSET
    status_details: ResponseStatusDetails | Unset | None = UNSET
    output: list[ConversationItem] | Unset | None = UNSET
    metadata: dict[str, str] | Unset | None = UNSET
    usage: Usage | Unset | None = UNSET
    conversation_id: str | Unset | None = UNSET
    voice: str | Unset | None = UNSET
    modalities: list[str] | Unset | None = UNSET
    output_audio_format: str | Unset | None = UNSET
    temperature: float | Unset | None = UNSET
    max_output_tokens: int | str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ResponseConfig(Model):
    """The ``response`` of ``response.create``: per-response overrides of the session.

    ``conversation="none"`` makes an out-of-band response; ``input`` replaces the context.
    """

    conversation: str | Unset | None = UNSET
    input: list[ConversationItem] | Unset | None = UNSET
    instructions: str | Unset | None = UNSET
    max_response_output_tokens: int | str | Unset | None = UNSET
    metadata: dict[str, str] | Unset | None = UNSET
    modalities: list[str] | Unset | None = UNSET
    output_audio_format: str | Unset | None = UNSET
    temperature: float | Unset | None = UNSET
    tool_choice: str | Unset | None = UNSET
    tools: list[Tool] | Unset | None = UNSET
    voice: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class Logprob(Model):
    """Log probability of one transcription token."""

    token: str
    logprob: float
    bytes: list[int]


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionTokenUsage(Model):
    """Transcription usage billed by tokens (gpt-4o transcription models)."""

    type: Literal["tokens"] = "tokens"
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: TokenDetails | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionDurationUsage(Model):
    """Transcription usage billed by audio duration (``whisper-1``)."""

    type: Literal["duration"] = "duration"
    seconds: float
