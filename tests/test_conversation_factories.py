"""Server event factories for the ``Conversation`` tests, shaped like the reference server's.

Each factory builds one server event as server-behaviour.md 5.2-5.11 describes it, with fresh
server-style ids; :class:`At` builds the content events of one part. The test here checks that
every factory's output validates against the relaxed beta schemas, so the conversation tests
are fed realistic traffic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from protocol_data import schema_errors

from trio_realtime import to_json_dict
from trio_realtime._core._events import (
    ContentPart,
    ConversationItem,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemTruncated,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    RateLimit,
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
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseStatusDetails,
    ResponseTextDelta,
    ResponseTextDone,
    ServerEvent,
    Session,
    SessionCreated,
    SessionUpdated,
    TokenDetails,
    TranscriptionError,
    TranscriptionTokenUsage,
    TurnDetection,
    Usage,
    encode_audio,
)
from trio_realtime._core._unset import UNSET

# --- ids and factories -------------------------------------------------------------------------

_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """A server-style id: prefix, underscore, 21 alphanumerics."""
    return f"{prefix}_{next(_counter):021d}"


def eid() -> str:
    return new_id("event")


def session_created(output: str = "pcm16", input: str = "pcm16") -> SessionCreated:
    return SessionCreated(event_id=eid(), session=_session(output, input))


def session_updated(output: str = "pcm16", input: str = "pcm16") -> SessionUpdated:
    return SessionUpdated(event_id=eid(), session=_session(output, input))


def _session(output: str, input: str) -> Session:
    return Session(
        id="sess_000000000000000000001",
        object="realtime.session",
        model="gpt-4o-realtime-preview",
        modalities=["text", "audio"],
        voice="alloy",
        input_audio_format=input,
        output_audio_format=output,
        input_audio_transcription=None,
        turn_detection=TurnDetection(
            type="server_vad",
            threshold=0.5,
            prefix_padding_ms=300,
            silence_duration_ms=200,
            create_response=True,
            interrupt_response=True,
        ),
        tools=[],
        tool_choice="auto",
        temperature=0.8,
        max_response_output_tokens="inf",
    )


def user_audio_item(item_id: str) -> ConversationItem:
    return ConversationItem(
        id=item_id,
        object="realtime.item",
        type="message",
        status="completed",
        role="user",
        content=[ContentPart(type="input_audio", transcript=None)],
    )


def text_message(item_id: str, text: str, role: str = "user") -> ConversationItem:
    return ConversationItem(
        id=item_id,
        object="realtime.item",
        type="message",
        status="completed",
        role=role,
        content=[ContentPart(type="input_text", text=text)],
    )


def assistant_item(
    item_id: str, status: str = "in_progress", content: list[ContentPart] | None = None
) -> ConversationItem:
    return ConversationItem(
        id=item_id,
        object="realtime.item",
        type="message",
        status=status,
        role="assistant",
        content=content or [],
    )


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str = "", status: str = "in_progress"
) -> ConversationItem:
    return ConversationItem(
        id=item_id,
        object="realtime.item",
        type="function_call",
        status=status,
        call_id=call_id,
        name=name,
        arguments=arguments,
    )


def function_output_item(item_id: str, call_id: str, output: str) -> ConversationItem:
    return ConversationItem(
        id=item_id,
        object="realtime.item",
        type="function_call_output",
        status="completed",
        call_id=call_id,
        output=output,
    )


def speech_started(item_id: str, ms: int = 0) -> InputAudioBufferSpeechStarted:
    return InputAudioBufferSpeechStarted(event_id=eid(), item_id=item_id, audio_start_ms=ms)


def speech_stopped(item_id: str, ms: int = 0) -> InputAudioBufferSpeechStopped:
    return InputAudioBufferSpeechStopped(event_id=eid(), item_id=item_id, audio_end_ms=ms)


def committed(item_id: str, previous: str | None) -> InputAudioBufferCommitted:
    return InputAudioBufferCommitted(event_id=eid(), item_id=item_id, previous_item_id=previous)


def item_created(item: ConversationItem, previous: str | None) -> ConversationItemCreated:
    return ConversationItemCreated(event_id=eid(), item=item, previous_item_id=previous)


def item_deleted(item_id: str) -> ConversationItemDeleted:
    return ConversationItemDeleted(event_id=eid(), item_id=item_id)


def item_truncated(item_id: str, ms: int, content_index: int = 0) -> ConversationItemTruncated:
    return ConversationItemTruncated(
        event_id=eid(), item_id=item_id, content_index=content_index, audio_end_ms=ms
    )


def response(
    response_id: str,
    status: str = "in_progress",
    *,
    oob: bool = False,
    output: list[ConversationItem] | None = None,
    usage: Usage | None = None,
    details: ResponseStatusDetails | None = None,
    fmt: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Response:
    return Response(
        id=response_id,
        object="realtime.response",
        status=status,
        status_details=details,
        output=output or [],
        usage=usage,
        conversation_id=None if oob else "conv_000000000000000000001",
        metadata=metadata,
        output_audio_format=UNSET if fmt is None else fmt,
    )


def response_created(response_id: str, **kwargs: Any) -> ResponseCreated:
    return ResponseCreated(event_id=eid(), response=response(response_id, **kwargs))


def response_done(response_id: str, status: str = "completed", **kwargs: Any) -> ResponseDone:
    return ResponseDone(event_id=eid(), response=response(response_id, status, **kwargs))


def cancelled(reason: str) -> ResponseStatusDetails:
    return ResponseStatusDetails(type="cancelled", reason=reason)


def usage(in_text: int, in_audio: int, out_text: int, out_audio: int, cached: int = 0) -> Usage:
    return Usage(
        total_tokens=in_text + in_audio + out_text + out_audio,
        input_tokens=in_text + in_audio,
        output_tokens=out_text + out_audio,
        input_token_details=TokenDetails(
            text_tokens=in_text, audio_tokens=in_audio, cached_tokens=cached
        ),
        output_token_details=TokenDetails(text_tokens=out_text, audio_tokens=out_audio),
    )


def output_item_added(rid: str, index: int, item: ConversationItem) -> ResponseOutputItemAdded:
    return ResponseOutputItemAdded(event_id=eid(), response_id=rid, output_index=index, item=item)


def output_item_done(rid: str, index: int, item: ConversationItem) -> ResponseOutputItemDone:
    return ResponseOutputItemDone(event_id=eid(), response_id=rid, output_index=index, item=item)


def rate_limits() -> RateLimitsUpdated:
    return RateLimitsUpdated(
        event_id=eid(),
        rate_limits=[
            RateLimit(name="requests", limit=1000, remaining=999, reset_seconds=0.06),
            RateLimit(name="tokens", limit=50000, remaining=49000, reset_seconds=1.2),
        ],
    )


def transcript_delta(item_id: str, delta: str) -> InputAudioTranscriptionDelta:
    return InputAudioTranscriptionDelta(
        event_id=eid(), item_id=item_id, content_index=0, delta=delta
    )


def transcript_completed(item_id: str, transcript: str) -> InputAudioTranscriptionCompleted:
    return InputAudioTranscriptionCompleted(
        event_id=eid(),
        item_id=item_id,
        content_index=0,
        transcript=transcript,
        usage=TranscriptionTokenUsage(input_tokens=5, output_tokens=3, total_tokens=8),
    )


def transcript_failed(item_id: str) -> InputAudioTranscriptionFailed:
    return InputAudioTranscriptionFailed(
        event_id=eid(),
        item_id=item_id,
        content_index=0,
        error=TranscriptionError(
            type="transcription_error",
            code="audio_unintelligible",
            message="The audio could not be transcribed.",
            param=None,
        ),
    )


@dataclass(frozen=True)
class At:
    """Where a content event goes: response, item, output index, content index."""

    rid: str
    item_id: str
    output_index: int = 0
    content_index: int = 0

    def _kw(self) -> dict[str, Any]:
        return {
            "event_id": eid(),
            "response_id": self.rid,
            "item_id": self.item_id,
            "output_index": self.output_index,
            "content_index": self.content_index,
        }

    def part_added(self, kind: str) -> ResponseContentPartAdded:
        part = (
            ContentPart(type=kind, transcript="")
            if kind == "audio"
            else ContentPart(type=kind, text="")
        )
        return ResponseContentPartAdded(part=part, **self._kw())

    def part_done(self, kind: str, text: str) -> ResponseContentPartDone:
        part = (
            ContentPart(type=kind, transcript=text)
            if kind == "audio"
            else ContentPart(type=kind, text=text)
        )
        return ResponseContentPartDone(part=part, **self._kw())

    def audio(self, pcm: bytes) -> ResponseAudioDelta:
        return ResponseAudioDelta(delta=encode_audio(pcm), **self._kw())

    def audio_done(self) -> ResponseAudioDone:
        return ResponseAudioDone(**self._kw())

    def transcript(self, delta: str) -> ResponseAudioTranscriptDelta:
        return ResponseAudioTranscriptDelta(delta=delta, **self._kw())

    def transcript_done(self, text: str) -> ResponseAudioTranscriptDone:
        return ResponseAudioTranscriptDone(transcript=text, **self._kw())

    def text(self, delta: str) -> ResponseTextDelta:
        return ResponseTextDelta(delta=delta, **self._kw())

    def text_done(self, text: str) -> ResponseTextDone:
        return ResponseTextDone(text=text, **self._kw())

    def arguments(self, call_id: str, delta: str) -> ResponseFunctionCallArgumentsDelta:
        kw = self._kw()
        del kw["content_index"]
        return ResponseFunctionCallArgumentsDelta(call_id=call_id, delta=delta, **kw)

    def arguments_done(self, call_id: str, arguments: str) -> ResponseFunctionCallArgumentsDone:
        kw = self._kw()
        del kw["content_index"]
        return ResponseFunctionCallArgumentsDone(call_id=call_id, arguments=arguments, **kw)


# --- the factories' own test -------------------------------------------------------------------


def wire_errors(event: ServerEvent) -> list[str]:
    """Schema violations of ``event`` (relaxed as ``protocol_data`` documents)."""
    return schema_errors(to_json_dict(event))


def test_every_factory_builds_a_schema_valid_event() -> None:
    at = At("resp_1", "item_1")
    events: list[ServerEvent] = [
        session_created(),
        session_updated("g711_ulaw"),
        speech_started("item_1"),
        speech_stopped("item_1", 700),
        committed("item_1", None),
        item_created(user_audio_item("item_1"), None),
        item_created(text_message("item_2", "hi"), "item_1"),
        item_created(function_output_item("item_3", "call_1", "{}"), "item_2"),
        item_deleted("item_3"),
        item_truncated("item_1", 10),
        response_created("resp_1", metadata={"k": "v"}),
        output_item_added("resp_1", 0, assistant_item("item_4")),
        output_item_added("resp_1", 1, function_call_item("item_5", "call_1", "f")),
        at.part_added("audio"),
        at.audio(b"\0\0"),
        at.audio_done(),
        at.transcript("a"),
        at.transcript_done("a"),
        at.text("b"),
        at.text_done("b"),
        at.part_done("audio", "a"),
        at.arguments("call_1", "{"),
        at.arguments_done("call_1", "{}"),
        output_item_done("resp_1", 0, assistant_item("item_4", "completed")),
        response_done(
            "resp_1", oob=True, usage=usage(1, 2, 3, 4, 1), details=cancelled("client_cancelled")
        ),
        rate_limits(),
        transcript_delta("item_1", "he"),
        transcript_completed("item_1", "hello"),
        transcript_failed("item_1"),
    ]
    for event in events:
        assert wire_errors(event) == [], event
