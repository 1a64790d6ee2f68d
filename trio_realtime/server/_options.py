"""Options of the reference server's protocol core, and its statistics snapshot."""

from __future__ import annotations

from typing import Final, final

import attrs

from ._session_config import DEFAULT_INSTRUCTIONS

__all__ = [
    "DEFAULT_MODELS",
    "REALTIME_MODELS",
    "TRANSCRIPTION_MODELS",
    "ConnectionStatistics",
    "ServerOptions",
]

TRANSCRIPTION_MODELS: Final = frozenset(
    {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"}
)
"""The ``input_audio_transcription.model`` names of the beta API (3.3)."""
REALTIME_MODELS: Final = frozenset(
    {
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-10-01",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
        "gpt-realtime",
        "gpt-realtime-2025-08-28",
    }
)
"""The ``?model=`` names of the beta SDK types (1.1 [doc])."""
DEFAULT_MODELS: Final = REALTIME_MODELS | TRANSCRIPTION_MODELS | {"opeai/AudioLLM/Voice2"}
"""The models :class:`ServerOptions` accepts by default: the realtime and transcription
model names of the beta API, and ``opeai/AudioLLM/Voice2``, the model name of the project's
seed. Anything else gets ``invalid_model`` and close 4000, as on the live service (1.1), so
a client that sends ``?model=undefined`` (openai-node 4.x/5.x without a model) finds out here."""


def _positive(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attr.name} must be > 0, got {value!r}")


def _non_negative(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attr.name} must be >= 0, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class ServerOptions:
    """How the reference server's protocol core behaves; shared by every connection.

    Attributes:
        session_seconds: Session limit: ``session_expired`` and a close this long after the
            connection opened (7: 30 minutes at the end of the beta). ``expires_at`` in the
            session is the Unix time of that deadline.
        send_conversation_created: Send ``conversation.created`` after ``session.created``
            (5.1: the live service did not).
        max_append_audio_bytes: Largest decoded audio one ``input_audio_buffer.append`` may
            carry (7: 15 MiB); larger appends get an ``invalid_value`` error.
        allowed_models: Model names accepted in ``?model=`` (default :data:`DEFAULT_MODELS`);
            ``None`` accepts any non-empty name. Others get ``invalid_model`` and close 4000
            (1.1).
        transcription_models: Accepted ``input_audio_transcription.model`` names.
        keep_input_audio: Keep committed user audio so ``conversation.item.retrieve`` can
            return it (5.11). Off, retrieved user audio parts carry no ``audio`` and memory
            stays flat in long sessions.
        idle_buffer_ms: With server VAD on and no speech in progress, uncommitted audio older
            than this is dropped (never sooner than twice this has piled up).
        requests_per_minute: Size of the ``requests`` rate-limit bucket (reported only).
        tokens_per_minute: Size of the ``tokens`` rate-limit bucket (reported only).
        instructions: The default instructions of new conversation sessions (3.1).
    """

    session_seconds: float = attrs.field(default=1800.0, validator=_positive)
    send_conversation_created: bool = False
    max_append_audio_bytes: int = attrs.field(default=15 * 1024 * 1024, validator=_non_negative)
    allowed_models: frozenset[str] | None = DEFAULT_MODELS
    transcription_models: frozenset[str] = TRANSCRIPTION_MODELS
    keep_input_audio: bool = True
    idle_buffer_ms: int = attrs.field(default=10_000, validator=_non_negative)
    requests_per_minute: int = attrs.field(default=5_000, validator=_non_negative)
    tokens_per_minute: int = attrs.field(default=400_000, validator=_non_negative)
    instructions: str = DEFAULT_INSTRUCTIONS


@final
@attrs.frozen(kw_only=True)
class ConnectionStatistics:
    """A snapshot of one connection's counters (:meth:`ConnectionState.statistics`).

    Attributes:
        events_received: Client frames handled (text and binary).
        events_sent: Server events returned for sending.
        errors_sent: ``error`` events among them.
        audio_bytes_appended: Decoded audio bytes accepted by ``input_audio_buffer.append``.
        buffered_audio_bytes: Uncommitted audio now in the input buffer.
        items: Items now in the default conversation.
        responses_started: Responses started (``response.created`` sent).
        responses_active: Responses now running (default conversation and out-of-band).
        transcriptions_pending: Transcriptions scheduled and not yet sent.
    """

    events_received: int
    events_sent: int
    errors_sent: int
    audio_bytes_appended: int
    buffered_audio_bytes: int
    items: int
    responses_started: int
    responses_active: int
    transcriptions_pending: int
