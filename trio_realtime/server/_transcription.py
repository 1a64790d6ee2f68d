"""Input audio transcription of one committed user turn (5.10, 5.13).

A :class:`TranscriptionJob` is made at the commit from the engine's
:class:`~._engine_api.TranscriptionPlan` and is due ``plan.delay`` seconds later; then it
sends its deltas and ``...input_audio_transcription.completed`` (or ``.failed``), all with
the user item's id and ``content_index`` 0. It is not ordered against response events, so a
long delay puts ``completed`` after ``response.done`` (51).

Rules enforced here whatever the engine planned:

* the deltas concatenate to the transcript (otherwise the transcript is sent as one delta);
  ``whisper-1`` sends at most one delta (the whole text) [obs];
* ``usage`` is ``{type: "tokens", ...}`` for the gpt-4o models (audio ``ceil(ms / 50)`` and
  prompt ``ceil(chars / 4)`` tokens in, transcript ``ceil(chars / 4)`` out) and
  ``{type: "duration", seconds}`` for ``whisper-1`` [inf];
* ``logprobs`` appear only when the session's ``include`` asks for them [inf]: one entry per
  word-like token (a word with its leading space), with ``bytes`` its UTF-8 and a
  deterministic ``logprob`` in ``(-0.1, 0]``.
"""

from __future__ import annotations

import math
import re
import zlib
from typing import Final

from .._core._events import (
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    Logprob,
    ServerEvent,
    TokenDetails,
    TranscriptionDurationUsage,
    TranscriptionError,
    TranscriptionTokenUsage,
)
from .._core._unset import UNSET, Unset
from ._engine_api import Deferred, Engine, TranscriptionPlan, TranscriptionRequest
from ._engine_work import EngineWork, Outcome
from ._ids import IdFactory
from ._items import StoredItem
from ._session_config import TranscriptionSettings
from ._usage import audio_tokens, text_tokens

__all__ = ["TranscriptionJob", "logprobs_for", "plan_transcription", "start_transcription"]

_TOKEN: Final = re.compile(r"\s*\S+|\s+")


def logprobs_for(text: str) -> list[Logprob]:
    """Deterministic log probabilities of the word-like tokens of ``text``."""
    return [
        Logprob(
            token=token,
            logprob=-(zlib.crc32(token.encode()) % 1000) / 10000,
            bytes=list(token.encode()),
        )
        for token in _TOKEN.findall(text)
    ]


def _engine_failure(exc: BaseException) -> TranscriptionPlan:
    return TranscriptionPlan(
        failure=TranscriptionError(
            type="transcription_error",
            code="engine_error",
            message=f"{type(exc).__name__}: {exc}",
        )
    )


def plan_transcription(
    engine: Engine, request: TranscriptionRequest
) -> TranscriptionPlan | Deferred[TranscriptionPlan]:
    """The engine's plan; an engine that raises fails this transcript (``engine_error``),
    not the connection."""
    try:
        return engine.transcribe(request)
    except Exception as exc:
        return _engine_failure(exc)


class TranscriptionJob:
    """The pending transcription of one user item.

    Args:
        item_id: The user item.
        plan: The engine's plan.
        due: When its events go out, on the caller's clock.
        model: The transcription model configured at the commit.
        audio_ms: Duration of the committed audio.
        prompt: The configured prompt, if any (counted as input tokens).
        logprobs: Whether ``include`` asks for logprobs.
        ids: The connection's id factory.
    """

    __slots__ = (
        "_audio_ms",
        "_ids",
        "_logprobs",
        "_model",
        "_plan",
        "_prompt",
        "due",
        "item_id",
    )

    def __init__(
        self,
        *,
        item_id: str,
        plan: TranscriptionPlan,
        due: float,
        model: str,
        audio_ms: float,
        prompt: str | None,
        logprobs: bool,
        ids: IdFactory,
    ) -> None:
        self.item_id = item_id
        self.due = due
        self._plan = plan
        self._model = model
        self._audio_ms = audio_ms
        self._prompt = prompt or ""
        self._logprobs = logprobs
        self._ids = ids

    @property
    def waiting(self) -> bool:
        """Whether the plan is still being made (a deferred plan: due at infinity)."""
        return self.due == math.inf

    def resolve(self, plan: TranscriptionPlan, now: float) -> None:
        """The deferred plan is in: the job is due ``plan.delay`` from ``now``."""
        self._plan = plan
        self.due = now + max(0.0, plan.delay)

    @property
    def transcript(self) -> str | None:
        """The transcript the job will deliver, or ``None`` if it will fail."""
        return None if self._plan.failure is not None else self._plan.transcript

    def events(self) -> list[ServerEvent]:
        """The job's events, in order: deltas then ``completed``, or ``failed``."""
        plan = self._plan
        if plan.failure is not None:
            return [self._failed(plan.failure)]
        transcript = plan.transcript
        deltas = [d for d in plan.deltas if d]
        if "".join(deltas) != transcript:
            deltas = [transcript] if transcript else []
        if self._model == "whisper-1" and len(deltas) > 1:
            deltas = [transcript]
        events: list[ServerEvent] = [
            InputAudioTranscriptionDelta(
                event_id=self._ids.new("event"),
                item_id=self.item_id,
                content_index=0,
                delta=delta,
                logprobs=logprobs_for(delta) if self._logprobs else UNSET,
            )
            for delta in deltas
        ]
        events.append(
            InputAudioTranscriptionCompleted(
                event_id=self._ids.new("event"),
                item_id=self.item_id,
                content_index=0,
                transcript=transcript,
                usage=self._usage(transcript),
                logprobs=logprobs_for(transcript) if self._logprobs else UNSET,
            )
        )
        return events

    def _usage(self, transcript: str) -> TranscriptionTokenUsage | TranscriptionDurationUsage:
        if self._model == "whisper-1":
            return TranscriptionDurationUsage(seconds=round(self._audio_ms / 1000, 3))
        audio = audio_tokens(self._audio_ms)
        prompt = text_tokens(len(self._prompt))
        output = text_tokens(len(transcript))
        return TranscriptionTokenUsage(
            input_tokens=audio + prompt,
            output_tokens=output,
            total_tokens=audio + prompt + output,
            input_token_details=TokenDetails(text_tokens=prompt, audio_tokens=audio),
        )

    def _failed(self, failure: TranscriptionError) -> InputAudioTranscriptionFailed:
        def given(value: str | Unset | None, default: str | None) -> str | None:
            return default if value is UNSET or value is None else value

        error = TranscriptionError(
            type=given(failure.type, "transcription_error"),
            code=given(failure.code, None),
            message=given(failure.message, "The audio could not be transcribed."),
            param=given(failure.param, None),
        )
        return InputAudioTranscriptionFailed(
            event_id=self._ids.new("event"), item_id=self.item_id, content_index=0, error=error
        )


def start_transcription(
    engine: Engine,
    settings: TranscriptionSettings,
    item: StoredItem,
    audio: bytes,
    *,
    now: float,
    logprobs: bool,
    ids: IdFactory,
    work: EngineWork | None = None,
) -> TranscriptionJob:
    """Plan the transcription of a just-committed user item, due ``plan.delay`` from ``now``.

    The planned transcript is recorded as what the model heard (:attr:`StoredPart.heard`),
    so a response started before ``completed`` goes out still knows what the user said.
    A deferred plan goes to ``work``; the job waits (due at infinity) until it is in.
    """
    part = item.parts[0]
    prompt = settings.prompt if isinstance(settings.prompt, str) else None
    request = TranscriptionRequest(
        item_id=item.id,
        audio=audio,
        input_audio_format=part.audio_format,
        model=settings.model,
        language=settings.language if isinstance(settings.language, str) else None,
        prompt=prompt,
    )
    planned = plan_transcription(engine, request)
    if isinstance(planned, Deferred) and work is None:
        planned = _engine_failure(RuntimeError("a deferred plan needs the connection's work"))
    plan = TranscriptionPlan() if isinstance(planned, Deferred) else planned
    part.heard = plan.transcript if plan.failure is None and plan is planned else None
    job = TranscriptionJob(
        item_id=item.id,
        plan=plan,
        due=math.inf if isinstance(planned, Deferred) else now + max(0.0, plan.delay),
        model=settings.model,
        audio_ms=part.audio_ms,
        prompt=prompt,
        logprobs=logprobs,
        ids=ids,
    )
    if isinstance(planned, Deferred):
        assert work is not None

        def done(outcome: Outcome, when: float) -> list[ServerEvent]:
            ok, value = outcome
            if ok and isinstance(value, TranscriptionPlan):
                plan = value
            elif ok:
                plan = _engine_failure(TypeError(f"expected a TranscriptionPlan, got {value!r}"))
            else:
                plan = _engine_failure(value)
            job.resolve(plan, when)
            part.heard = plan.transcript if plan.failure is None else None
            return []  # the timeline releases the job once due

        work.submit(planned, done)
    return job
