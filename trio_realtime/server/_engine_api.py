"""What the reference server asks of an engine, and what an engine answers.

The per-connection state machine (:mod:`._state`) owns every protocol rule; an *engine* only
decides *what* the assistant says and *what* a user said. The state machine hands it a
:class:`ResponseRequest` (the context and the effective settings of one response) and gets
back a :class:`ResponsePlan` (the outputs, plus how fast to stream them); it hands it a
:class:`TranscriptionRequest` (one committed user turn) and gets back a
:class:`TranscriptionPlan`.

Engines are deterministic, do no I/O and never touch trio: pacing is data in the plan, and the
state machine schedules the resulting events on the caller's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeAlias

import attrs

from .._core._events import ConversationItem, Tool, TranscriptionError

__all__ = [
    "Engine",
    "PlannedAudio",
    "PlannedFunctionCall",
    "PlannedOutput",
    "PlannedText",
    "ResponsePlan",
    "ResponseRequest",
    "TranscriptionPlan",
    "TranscriptionRequest",
]


@attrs.frozen(kw_only=True)
class ResponseRequest:
    """Everything an engine may use to produce one response.

    Attributes:
        items: The context, in order: the default conversation's items (the server's view:
            user audio items carry their transcript once known, never audio bytes; see
            ``audio_ms`` for their duration), or the ``response.create`` ``input`` items with
            every ``item_reference`` resolved.
        instructions: The effective instructions for this response.
        modalities: ``("text",)`` or ``("text", "audio")`` (order as configured).
        tools: The function tools the model may call.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a function name.
        voice: The output voice.
        output_audio_format: ``"pcm16"``, ``"g711_ulaw"`` or ``"g711_alaw"``.
        temperature: Sampling temperature.
        max_output_tokens: Output token limit; ``None`` means ``"inf"``. The state machine
            enforces it (the engine need not).
        metadata: The response's metadata, if any.
        audio_ms: Milliseconds of input audio in each item of ``items``, in order (the sum
            over its ``input_audio`` parts; 0 for an item without any). The item views carry
            no audio bytes, so this is how an engine learns how long a user spoke, whether
            or not a transcript exists. The server always fills it; a request built by hand
            may leave it empty (unknown).
    """

    items: tuple[ConversationItem, ...]
    instructions: str
    modalities: tuple[str, ...]
    tools: tuple[Tool, ...]
    tool_choice: str
    voice: str
    output_audio_format: str
    temperature: float
    max_output_tokens: int | None
    metadata: Mapping[str, str] | None
    audio_ms: tuple[float, ...] = ()


@attrs.frozen(kw_only=True)
class PlannedText:
    """A text reply: one assistant message with one ``text`` part."""

    text: str


@attrs.frozen(kw_only=True)
class PlannedAudio:
    """A spoken reply: one assistant message with one ``audio`` part.

    Attributes:
        transcript: What the audio says.
        audio: Raw audio in the request's ``output_audio_format``, whole samples.
    """

    transcript: str
    audio: bytes


@attrs.frozen(kw_only=True)
class PlannedFunctionCall:
    """A function call item.

    Attributes:
        name: The tool's name.
        arguments: A JSON object, as a string.
    """

    name: str
    arguments: str


#: One output item of a plan.
PlannedOutput: TypeAlias = PlannedText | PlannedAudio | PlannedFunctionCall


@attrs.frozen(kw_only=True)
class ResponsePlan:
    """What one response will contain, and how it is paced.

    Attributes:
        outputs: The output items in order: one message, a message then a call, or calls.
        first_delta_delay: Seconds from ``response.created`` to the first delta.
        text_chars_per_second: Pacing of text, transcript and argument deltas; ``None``
            sends them as fast as possible.
        audio_realtime_factor: ``1.0`` paces audio deltas at real time, ``2.0`` twice as
            fast; ``None`` sends them as fast as possible.
        audio_chunk_ms: Duration of audio per ``response.audio.delta``.
        text_chunk_chars: Characters per text, transcript or argument delta.
    """

    outputs: tuple[PlannedOutput, ...]
    first_delta_delay: float = 0.0
    text_chars_per_second: float | None = None
    audio_realtime_factor: float | None = None
    audio_chunk_ms: int = 100
    text_chunk_chars: int = 8


@attrs.frozen(kw_only=True)
class TranscriptionRequest:
    """One committed user turn to transcribe.

    Attributes:
        item_id: The user item the transcript belongs to.
        audio: The committed audio, raw, in ``input_audio_format``.
        input_audio_format: ``"pcm16"``, ``"g711_ulaw"`` or ``"g711_alaw"``.
        model: ``"whisper-1"``, ``"gpt-4o-transcribe"``, ``"gpt-4o-mini-transcribe"`` or
            another name the client configured.
        language: ISO-639-1 language hint, if any.
        prompt: Prompt text, if any.
    """

    item_id: str
    audio: bytes
    input_audio_format: str
    model: str
    language: str | None
    prompt: str | None


@attrs.frozen(kw_only=True)
class TranscriptionPlan:
    """The transcript of one turn, and when it is ready.

    Attributes:
        transcript: The whole transcript.
        deltas: Pieces that concatenate to ``transcript`` (``whisper-1``: at most one). Empty
            means no delta events, only ``completed``.
        delay: Seconds after the commit before the first transcription event.
        failure: If set, a ``...input_audio_transcription.failed`` event is sent instead of
            the deltas and ``completed``.
    """

    transcript: str = ""
    deltas: tuple[str, ...] = ()
    delay: float = 0.0
    failure: TranscriptionError | None = None


class Engine(Protocol):
    """What produces a reply and a transcript. Deterministic; no I/O; no trio."""

    def respond(self, request: ResponseRequest) -> ResponsePlan:
        """Plan one response for ``request``."""
        ...

    def transcribe(self, request: TranscriptionRequest) -> TranscriptionPlan:
        """Plan the transcription of one committed user turn."""
        ...
