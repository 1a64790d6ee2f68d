"""What the reference server asks of an engine, and what an engine answers.

The per-connection state machine (:mod:`._state`) owns every protocol rule; an *engine* only
decides *what* the assistant says and *what* a user said. The state machine hands it a
:class:`ResponseRequest` (the context and the effective settings of one response) and gets
back a :class:`ResponsePlan` (the outputs, plus how fast to stream them); it hands it a
:class:`TranscriptionRequest` (one committed user turn) and gets back a
:class:`TranscriptionPlan`.

Engines are deterministic, do no I/O and never touch trio: pacing is data in the plan, and the
state machine schedules the resulting events on the caller's clock.

**Slow engines** (real speech recognition and synthesis) add two things, both optional, so a
plain engine is unaffected:

* a plan may be :class:`Deferred`: ``respond`` or ``transcribe`` returns at once with a
  coroutine function that finishes the plan. The connection's shell awaits it in a task of its
  own, one deferred at a time per connection in the order they were made, and hands the
  result back to the state machine (``response.created`` goes out at once; the deltas, or
  the transcript, when the result is in). The work must bound itself (worker processes,
  ``trio.to_thread`` with a limiter), so a slow engine delays its own session and never
  another's;
* an engine with an ``open_session()`` method (a :class:`SessionfulEngine`) gets one
  :class:`EngineSession` per connection, which also *hears* the input audio as it arrives
  (:class:`Listener`), so recognition can stream while the user speaks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, Protocol, TypeAlias, TypeVar, final, runtime_checkable

import attrs

from .._core._events import ConversationItem, Tool, TranscriptionError

__all__ = [
    "Deferred",
    "Engine",
    "EngineSession",
    "Listener",
    "PlannedAudio",
    "PlannedFunctionCall",
    "PlannedOutput",
    "PlannedText",
    "ResponsePlan",
    "ResponseRequest",
    "SessionfulEngine",
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


_T = TypeVar("_T")


@final
class Deferred(Generic[_T]):
    """A plan (or any engine result) finished later, off the state machine.

    The connection's shell awaits :attr:`compute` in its engine-work task, after every
    deferred this connection made before it has finished. An exception it raises fails that
    response (``status: failed``) or transcript (``...transcription.failed``), never the
    connection. Cancellation (the connection ending) may arrive at any checkpoint.

    Args:
        compute: A coroutine function producing the result.
        what: A few words for logs and reprs (``"speech synthesis"``).
    """

    __slots__ = ("compute", "what")

    def __init__(self, compute: Callable[[], Awaitable[_T]], what: str = "engine work") -> None:
        self.compute = compute
        self.what = what

    def __repr__(self) -> str:
        return f"<Deferred {self.what}>"


class Engine(Protocol):
    """What produces a reply and a transcript.

    A plain engine is deterministic, does no I/O and never touches trio. A slow engine
    returns :class:`Deferred` plans instead (see the module docstring).
    """

    def respond(self, request: ResponseRequest) -> ResponsePlan | Deferred[ResponsePlan]:
        """Plan one response for ``request``."""
        ...

    def transcribe(
        self, request: TranscriptionRequest
    ) -> TranscriptionPlan | Deferred[TranscriptionPlan]:
        """Plan the transcription of one committed user turn."""
        ...


class Listener(Protocol):
    """How an engine session hears the input audio of its connection as it arrives.

    The state machine calls these in audio order, on the connection's clock; none may block.
    Each may return a :class:`Deferred` (run in order with the connection's other deferreds,
    its result ignored) to do the slow part, e.g. to feed a streaming recogniser.

    A *turn* is the audio that will be committed as one user item: with server VAD from
    ``speech_started`` (its prefix padding included) to the commit; without VAD, everything
    appended since the last commit or clear.
    """

    def turn_started(self, audio: bytes, fmt: str) -> Deferred[None] | None:
        """A turn begins with ``audio`` (raw, in ``fmt``); any turn in progress is dropped."""
        ...

    def audio_appended(self, audio: bytes, fmt: str) -> Deferred[None] | None:
        """More audio of the turn in progress (ignored when none is)."""
        ...

    def turn_committed(self, item_id: str, audio: bytes, fmt: str) -> Deferred[None] | None:
        """The turn became user item ``item_id`` with exactly ``audio``.

        ``audio`` may differ a little from what was heard (VAD cuts at ``audio_end_ms``); an
        engine must treat it as the truth. What the engine heard must be known to its
        ``respond`` and ``transcribe`` deferreds made after this call.
        """
        ...

    def turn_dropped(self) -> Deferred[None] | None:
        """The turn in progress will not be committed (the buffer was cleared)."""
        ...


class EngineSession(Engine, Listener, Protocol):
    """One connection's engine: plans responses and transcripts, and hears the input audio."""

    def backlog_ms(self) -> float:
        """Milliseconds of heard audio not yet processed (the server stops reading a client
        whose backlog grows too long, until the engine catches up)."""
        ...

    def close(self) -> None:
        """The connection is over: release what the session holds (must not block; called
        once its deferreds have stopped, possibly in the middle of one)."""
        ...


@runtime_checkable
class SessionfulEngine(Protocol):
    """An engine that keeps per-connection state (see :class:`EngineSession`)."""

    def open_session(self) -> EngineSession:
        """A new session for one connection."""
        ...
