"""One response, from ``response.created`` to ``response.done`` (5.2, 5.3, 5.6-5.8).

A :class:`ResponseRun` turns an engine's :class:`~._engine_api.ResponsePlan` into the exact
event sequence of the beta protocol, scheduled on the caller's clock:

* ``response.created`` at the start (sent by the caller when it makes the run);
* per output item, from ``start + first_delta_delay`` on: ``response.output_item.added``
  (+ ``conversation.item.created`` for the default conversation), for messages
  ``response.content_part.added``, the deltas, then the ``.done`` events (audio before
  transcript), ``response.content_part.done`` and ``response.output_item.done``;
* ``response.done`` (without audio bytes, with usage) and ``rate_limits.updated``.

**Pacing.** Text, transcript and argument deltas of ``text_chunk_chars`` characters are due
``chars_before / text_chars_per_second`` after the item starts; audio deltas of
``audio_chunk_ms`` are due ``ms_before / 1000 / audio_realtime_factor`` after it; an item ends
when both of its streams have had their full time, and the next item starts there. Without
pacing everything is due at once and the streams interleave in proportion (transcript,
audio, transcript, …). Every audio delta holds whole samples of the output format.

**Limits.** ``max_output_tokens`` is applied to the plan up front with the estimate of
:mod:`._usage`: the output that crosses the limit is cut (an audio output loses transcript
and audio in proportion), later outputs are dropped, the cut item ends ``incomplete`` and the
response ``incomplete`` / ``max_output_tokens``.

**Cancellation.** :meth:`ResponseRun.cancel` closes what is open with its done events (the
item ``incomplete``), then sends ``response.done`` ``cancelled`` with the reason.
"""

from __future__ import annotations

import base64
from collections import deque
from typing import Any, Final, Literal

import attrs

from .._core._audio import audio_format, bytes_for_ms
from .._core._events import (
    ContentPart,
    ConversationItem,
    ConversationItemCreated,
    RateLimitsUpdated,
    Response,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseError,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseStatusDetails,
    ResponseTextDelta,
    ResponseTextDone,
    ServerEvent,
    Tool,
)
from ._engine_api import PlannedAudio, PlannedFunctionCall, PlannedOutput, PlannedText, ResponsePlan
from ._ids import IdFactory
from ._items import Conversation, StoredItem, StoredPart
from ._usage import InputTokens, RateLimits, audio_tokens, make_usage, text_tokens

__all__ = ["ResponseOptions", "ResponseRun"]

_ITEM_ADDED: Final = 0
_PART_ADDED: Final = 1
_TEXT: Final = 2
_AUDIO: Final = 3
_CLOSE: Final = 4
_DONE: Final = 5

Kind = Literal["text", "audio", "call"]
_Step = tuple[float, int, int, int, int]  # due, op, output index, start, end


@attrs.frozen(kw_only=True)
class ResponseOptions:
    """One response's settings after overrides.

    Attributes:
        in_conversation: ``True`` for ``conversation: "auto"`` (writes to the default
            conversation), ``False`` for an out-of-band response.
        input: The ``input`` items, or ``None`` to use the default conversation.
    """

    in_conversation: bool
    input: list[ConversationItem] | None
    instructions: str
    modalities: tuple[str, ...]
    voice: str
    output_audio_format: str
    tools: tuple[Tool, ...]
    tool_choice: str
    temperature: float
    max_output_tokens: int | None
    metadata: dict[str, str] | None


class _Output:
    """One output item of the run and how much of it has been streamed."""

    __slots__ = (
        "audio",
        "item",
        "kind",
        "part",
        "sent_bytes",
        "sent_chars",
        "state",
        "status",
        "text",
    )

    def __init__(self, kind: Kind, text: str, audio: bytes, item: StoredItem, status: str) -> None:
        self.kind = kind
        self.text = text  # text, transcript or arguments, after any cut
        self.audio = audio
        self.item = item
        self.part: StoredPart | None = None
        self.sent_chars = 0
        self.sent_bytes = 0
        self.state = 0  # 0 not added, 1 open, 2 closed
        self.status = status  # the status it closes with when it runs to its end


def _whole_samples(audio: bytes, width: int) -> bytes:
    extra = len(audio) % width
    return audio[: len(audio) - extra] if extra else audio


class ResponseRun:
    """A response in progress; see the module docstring for the sequence and pacing.

    Args:
        response_id: The ``resp_…`` id.
        options: The response's effective settings (voice, format, limits, metadata).
        plan: The engine's plan, or ``None`` for a response that failed before it began.
        start: When ``response.created`` goes out, on the caller's clock.
        conversation: The default conversation, or ``None`` for an out-of-band response.
        input_tokens: The context's input tokens, cached ones included.
        ids: The connection's id factory.
        rate_limits: The connection's rate-limit buckets.
        failure: For a failed response: ``(code, message)`` of ``status_details.error``.
        waiting: The plan is deferred: nothing is scheduled until :meth:`resolve` (the run
            is active meanwhile, so it can be cancelled).
    """

    def __init__(
        self,
        *,
        response_id: str,
        options: ResponseOptions,
        plan: ResponsePlan | None,
        start: float,
        conversation: Conversation | None,
        input_tokens: InputTokens,
        ids: IdFactory,
        rate_limits: RateLimits,
        failure: tuple[str, str] | None = None,
        waiting: bool = False,
    ) -> None:
        self.id = response_id
        self.options = options
        self.conversation = conversation
        self.has_audio = False  # assistant audio streamed: freezes the voice (4.7)
        self.finished = False
        self._ids = ids
        self._rate_limits = rate_limits
        self._input_tokens = input_tokens
        self._failure = failure
        fmt = audio_format(options.output_audio_format)
        self._width = fmt.sample_width
        self._bytes_per_ms = fmt.bytes_per_ms
        self._outputs: list[_Output] = []
        self._incomplete = False
        self._steps: deque[_Step] = deque()
        if plan is not None:
            self._plan_outputs(plan)
            self._schedule(plan, start)
        elif not waiting:
            self._steps.append((start, _DONE, 0, 0, 0))

    def resolve(self, outcome: tuple[bool, object], now: float) -> list[ServerEvent]:
        """A deferred plan is in (``(True, plan)``) or failed (``(False, exception)``): the
        run streams it from ``now``. Ignored once the run has finished (cancelled)."""
        if self.finished or self._steps:
            return []
        ok, value = outcome
        if ok and isinstance(value, ResponsePlan):
            self._plan_outputs(value)
            self._schedule(value, now)
        else:
            if ok:
                value = TypeError(f"expected a ResponsePlan, got {value!r}")
            self._failure = ("engine_error", f"{type(value).__name__}: {value}")
            self._steps.append((now, _DONE, 0, 0, 0))
        return []  # the timeline releases the steps once due

    # -- planning -----------------------------------------------------------------------------

    def _cost(self, text: str, audio: bytes) -> int:
        return text_tokens(len(text)) + audio_tokens(len(audio) / self._bytes_per_ms)

    def _plan_outputs(self, plan: ResponsePlan) -> None:
        budget = self.options.max_output_tokens
        speak = "audio" in self.options.modalities
        for planned in plan.outputs:
            kind, text, audio = self._normalise(planned, speak)
            status = "completed"
            if budget is not None:
                cost = self._cost(text, audio)
                if budget <= 0:
                    self._incomplete = True
                    break
                if cost > budget:
                    text, audio = self._shrink(text, audio, budget)
                    status = "incomplete"
                    self._incomplete = True
                budget -= cost
            self._outputs.append(_Output(kind, text, audio, self._new_item(kind, planned), status))
            if status == "incomplete":
                break

    def _normalise(self, planned: PlannedOutput, speak: bool) -> tuple[Kind, str, bytes]:
        if isinstance(planned, PlannedFunctionCall):
            return "call", planned.arguments, b""
        if isinstance(planned, PlannedAudio):
            if speak:
                return "audio", planned.transcript, _whole_samples(planned.audio, self._width)
            return "text", planned.transcript, b""  # text-only response: say it in text
        assert isinstance(planned, PlannedText)
        return "text", planned.text, b""

    def _shrink(self, text: str, audio: bytes, budget: int) -> tuple[str, bytes]:
        """Cut an output to ``budget`` tokens, text and audio in proportion."""
        text_cost = text_tokens(len(text))
        audio_cost = audio_tokens(len(audio) / self._bytes_per_ms)
        text_budget = budget * text_cost // (text_cost + audio_cost)
        audio_budget = budget - text_budget
        text = text[: text_budget * 4]
        if audio:
            keep = bytes_for_ms(audio_budget * 50, self.options.output_audio_format)
            audio = audio[:keep]
        return text, audio

    def _new_item(self, kind: Kind, planned: PlannedOutput) -> StoredItem:
        item_id = self._ids.new("item")
        if kind == "call":
            assert isinstance(planned, PlannedFunctionCall)
            return StoredItem(
                id=item_id,
                type="function_call",
                status="in_progress",
                call_id=self._ids.new("call"),
                name=planned.name,
                arguments="",
            )
        return StoredItem(id=item_id, type="message", status="in_progress", role="assistant")

    def _schedule(self, plan: ResponsePlan, start: float) -> None:
        cps = plan.text_chars_per_second if plan.text_chars_per_second else None
        factor = plan.audio_realtime_factor if plan.audio_realtime_factor else None
        chunk_chars = max(1, plan.text_chunk_chars)
        chunk_bytes = max(
            self._width,
            bytes_for_ms(max(0, plan.audio_chunk_ms), self.options.output_audio_format),
        )
        steps = self._steps
        t = start + max(0.0, plan.first_delta_delay)
        for i, out in enumerate(self._outputs):
            steps.append((t, _ITEM_ADDED, i, 0, 0))
            if out.kind != "call":
                steps.append((t, _PART_ADDED, i, 0, 0))
            stream: list[tuple[float, float, int, int, int, int]] = []
            n = len(out.text)
            for s in range(0, n, chunk_chars):
                due = t + s / cps if cps else t
                stream.append((due, s / n, 0, _TEXT, s, min(n, s + chunk_chars)))
            end = t + n / cps if cps else t
            nbytes = len(out.audio)
            for s in range(0, nbytes, chunk_bytes):
                due = t + s / self._bytes_per_ms / 1000 / factor if factor else t
                stream.append((due, s / nbytes, 1, _AUDIO, s, min(nbytes, s + chunk_bytes)))
            if factor and nbytes:
                end = max(end, t + nbytes / self._bytes_per_ms / 1000 / factor)
            stream.sort(key=lambda step: step[:3])
            steps.extend((due, op, i, a, b) for due, _, _, op, a, b in stream)
            t = end
            steps.append((t, _CLOSE, i, 0, 0))
        steps.append((t, _DONE, 0, 0, 0))

    # -- events -------------------------------------------------------------------------------

    def _response(self, status: str, **fields: Any) -> Response:
        s = self.options
        return Response(
            id=self.id,
            object="realtime.response",
            status=status,
            conversation_id=None if self.conversation is None else self.conversation.id,
            modalities=list(s.modalities),
            voice=s.voice,
            output_audio_format=s.output_audio_format,
            temperature=s.temperature,
            max_output_tokens="inf" if s.max_output_tokens is None else s.max_output_tokens,
            metadata=s.metadata,
            **fields,
        )

    def created_event(self) -> ResponseCreated:
        """``response.created``: ``in_progress``, no output, ``usage`` null (26)."""
        return ResponseCreated(
            event_id=self._ids.new("event"),
            response=self._response("in_progress", status_details=None, output=[], usage=None),
        )

    def next_due(self) -> float | None:
        """When the next event is due, or ``None`` once ``response.done`` has gone out."""
        return self._steps[0][0] if self._steps else None

    def step(self) -> list[ServerEvent]:
        """Emit the next scheduled step (whatever its due time; the caller checks)."""
        due, op, i, a, b = self._steps.popleft()
        if op == _DONE:
            return self._finish("incomplete" if self._incomplete else "completed", due)
        out = self._outputs[i]
        if op == _TEXT:
            return [self._text_delta(i, out, a, b)]
        if op == _AUDIO:
            return [self._audio_delta(i, out, a, b)]
        if op == _ITEM_ADDED:
            return self._item_added(i, out)
        if op == _PART_ADDED:
            return [self._part_added(i, out)]
        return self._close(i, out, out.status)

    def cancel(self, reason: str, now: float) -> list[ServerEvent]:
        """Close what is open, then ``response.done`` ``cancelled`` with ``reason`` (5.8).

        Args:
            reason: ``client_cancelled`` or ``turn_detected``.
            now: When it happens (charged to the rate limits).
        """
        events: list[ServerEvent] = []
        for i, out in enumerate(self._outputs):
            if out.state == 1:
                events += self._close(i, out, "incomplete")
        self._steps.clear()
        return events + self._finish("cancelled", now, reason)

    def _new_event_id(self) -> str:
        return self._ids.new("event")

    def _item_added(self, i: int, out: _Output) -> list[ServerEvent]:
        out.state = 1
        item = out.item
        events: list[ServerEvent] = []
        conversation = self.conversation
        if conversation is not None:
            while item.id in conversation:  # a client took this id: draw another
                item.id = self._ids.new("item")
        events.append(
            ResponseOutputItemAdded(
                event_id=self._new_event_id(),
                response_id=self.id,
                output_index=i,
                item=item.wire(),
            )
        )
        if conversation is not None:
            previous = conversation.insert(item)
            events.append(
                ConversationItemCreated(
                    event_id=self._new_event_id(), previous_item_id=previous, item=item.wire()
                )
            )
        return events

    def _part_added(self, i: int, out: _Output) -> ServerEvent:
        if out.kind == "audio":
            part = StoredPart(
                type="audio",
                transcript="",
                audio=bytearray(),
                audio_format=self.options.output_audio_format,
            )
            shown = ContentPart(type="audio", transcript="")
        else:
            part = StoredPart(type="text", text="")
            shown = ContentPart(type="text", text="")
        out.part = part
        out.item.parts.append(part)
        return ResponseContentPartAdded(
            event_id=self._new_event_id(),
            response_id=self.id,
            item_id=out.item.id,
            output_index=i,
            content_index=0,
            part=shown,
        )

    def _text_delta(self, i: int, out: _Output, a: int, b: int) -> ServerEvent:
        delta = out.text[a:b]
        out.sent_chars = b
        so_far = out.text[:b]
        common: dict[str, Any] = {
            "event_id": self._new_event_id(),
            "response_id": self.id,
            "item_id": out.item.id,
            "output_index": i,
            "delta": delta,
        }
        if out.kind == "call":
            out.item.arguments = so_far
            return ResponseFunctionCallArgumentsDelta(call_id=out.item.call_id or "", **common)
        part = out.part
        assert part is not None
        if out.kind == "audio":
            if not part.frozen:
                part.transcript = so_far
            return ResponseAudioTranscriptDelta(content_index=0, **common)
        part.text = so_far
        return ResponseTextDelta(content_index=0, **common)

    def _audio_delta(self, i: int, out: _Output, a: int, b: int) -> ServerEvent:
        chunk = out.audio[a:b]
        out.sent_bytes = b
        self.has_audio = True
        part = out.part
        assert part is not None
        assert part.audio is not None
        if not part.frozen:
            part.audio += chunk
            part.audio_ms = len(part.audio) / self._bytes_per_ms
        return ResponseAudioDelta(
            event_id=self._new_event_id(),
            response_id=self.id,
            item_id=out.item.id,
            output_index=i,
            content_index=0,
            delta=base64.b64encode(chunk).decode("ascii"),
        )

    def _close(self, i: int, out: _Output, status: str) -> list[ServerEvent]:
        """The done events of an output, whether it ran to its end or was stopped."""
        out.state = 2
        item = out.item
        item.status = status
        ids = self._new_event_id
        where: dict[str, Any] = {"response_id": self.id, "item_id": item.id, "output_index": i}
        sent = out.text[: out.sent_chars]
        events: list[ServerEvent] = []
        if out.kind == "call":
            events.append(
                ResponseFunctionCallArgumentsDone(
                    event_id=ids(), call_id=item.call_id or "", arguments=sent, **where
                )
            )
        elif out.part is not None:
            if out.kind == "audio":
                events.append(ResponseAudioDone(event_id=ids(), content_index=0, **where))
                events.append(
                    ResponseAudioTranscriptDone(
                        event_id=ids(), content_index=0, transcript=sent, **where
                    )
                )
                part = ContentPart(type="audio", transcript=sent)
            else:
                events.append(ResponseTextDone(event_id=ids(), content_index=0, text=sent, **where))
                part = ContentPart(type="text", text=sent)
            events.append(
                ResponseContentPartDone(event_id=ids(), content_index=0, part=part, **where)
            )
        events.append(
            ResponseOutputItemDone(
                event_id=ids(), response_id=self.id, output_index=i, item=item.wire()
            )
        )
        return events

    def _finish(self, status: str, now: float, reason: str | None = None) -> list[ServerEvent]:
        """``response.done``, then ``rate_limits.updated`` right after it (5.2 [inf])."""
        self.finished = True
        details: ResponseStatusDetails | None = None
        if self._failure is not None:
            status = "failed"
            code, message = self._failure
            details = ResponseStatusDetails(
                type="failed",
                error=ResponseError(type="server_error", code=code, extra={"message": message}),
            )
        elif status == "cancelled":
            details = ResponseStatusDetails(type="cancelled", reason=reason)
        elif status == "incomplete":
            details = ResponseStatusDetails(type="incomplete", reason="max_output_tokens")
        out_text = out_audio = 0
        output = []
        for out in self._outputs:
            if out.state:
                out_text += text_tokens(out.sent_chars)
                out_audio += audio_tokens(out.sent_bytes / self._bytes_per_ms)
                output.append(out.item.wire())
        usage = make_usage(self._input_tokens, out_text, out_audio)
        done = ResponseDone(
            event_id=self._new_event_id(),
            response=self._response(status, status_details=details, output=output, usage=usage),
        )
        limits = self._rate_limits.record(now, self._input_tokens.total + out_text + out_audio)
        return [done, RateLimitsUpdated(event_id=self._new_event_id(), rate_limits=limits)]
