"""The GA dialect's codec: the same event classes, the GA wire shapes.

Every difference the translation handles is checked against the official SDK's GA types
(``openai.types.realtime``, strict pydantic validation) and the head OpenAPI snapshot's GA
schemas; the beta codec is the reference it must agree with once translated.
"""

from __future__ import annotations

import typing

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from protocol_data import ga_schema_errors
from pydantic import TypeAdapter
from strategies import instances

import trio_realtime as rt
from trio_realtime import events as ev
from trio_realtime._core._dialects import BETA, GA, dialect_named

SDK_CLIENT = TypeAdapter(RealtimeClientEvent)
SDK_SERVER = TypeAdapter(RealtimeServerEvent)


def ga_json(event: rt.Event) -> dict[str, typing.Any]:
    """The GA frame of ``event``, validated by the SDK's GA types and the GA schemas."""
    text = GA.encode(event)
    adapter = SDK_CLIENT if isinstance(event, rt.ClientEvent) else SDK_SERVER
    adapter.validate_json(text, strict=True)
    obj: dict[str, typing.Any] = orjson.loads(text)
    assert ga_schema_errors(obj) == [], obj
    return obj


# --- client events: the application's classes, GA frames ---------------------------------------


def test_a_session_update_is_the_nested_ga_session() -> None:
    update = ev.SessionUpdate(
        session=ev.Session(
            modalities=["text"],
            instructions="Be brief.",
            voice="marin",
            speed=1.2,
            input_audio_format="g711_ulaw",
            output_audio_format="pcm16",
            input_audio_transcription=ev.InputAudioTranscription(model="whisper-1"),
            input_audio_noise_reduction=None,
            turn_detection=ev.TurnDetection(type="server_vad", silence_duration_ms=300),
            max_response_output_tokens=200,
            tools=[ev.Tool(type="function", name="f", description="d", parameters={})],
            tool_choice="auto",
        )
    )
    assert ga_json(update)["session"] == {
        "type": "realtime",
        "output_modalities": ["text"],
        "instructions": "Be brief.",
        "max_output_tokens": 200,
        "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {}}],
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "whisper-1"},
                "noise_reduction": None,
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
            },
            "output": {
                "voice": "marin",
                "speed": 1.2,
                "format": {"type": "audio/pcm", "rate": 24000},
            },
        },
    }
    # A server decodes it back to the same object.
    assert GA.decode_client_event(GA.encode(update)) == update


def test_a_transcription_session_update_is_a_session_update_of_type_transcription() -> None:
    update = ev.TranscriptionSessionUpdate(
        session=ev.TranscriptionSession(
            input_audio_transcription=ev.InputAudioTranscription(model="gpt-4o-transcribe"),
            turn_detection=None,
            include=["item.input_audio_transcription.logprobs"],
        )
    )
    frame = ga_json(update)
    assert frame["type"] == "session.update"
    assert frame["session"]["type"] == "transcription"
    assert frame["session"]["audio"]["input"]["turn_detection"] is None
    assert GA.decode_client_event(GA.encode(update)) == update


def test_response_create_and_items_use_the_ga_names() -> None:
    create = ev.ResponseCreate(
        response=ev.ResponseConfig(
            modalities=["audio"],
            voice="ash",
            output_audio_format="g711_alaw",
            max_response_output_tokens="inf",
            conversation="none",
            input=[
                ev.ConversationItem(
                    type="message",
                    role="assistant",
                    content=[ev.ContentPart(type="text", text="earlier")],
                )
            ],
            metadata={"k": "v"},
        )
    )
    response = ga_json(create)["response"]
    assert response["output_modalities"] == ["audio"]
    assert response["max_output_tokens"] == "inf"
    assert response["audio"] == {"output": {"voice": "ash", "format": {"type": "audio/pcma"}}}
    assert response["input"][0]["content"] == [{"type": "output_text", "text": "earlier"}]
    assert GA.decode_client_event(GA.encode(create)) == create
    item = ev.ConversationItemCreate(item=ev.ConversationItem.user_text("hi"))
    assert ga_json(item)["item"]["content"] == [{"type": "input_text", "text": "hi"}]


def test_events_ga_did_not_change_encode_exactly_as_in_beta() -> None:
    same = [
        ev.InputAudioBufferAppend(audio="AAAA", event_id="e1"),
        ev.InputAudioBufferCommit(),
        ev.InputAudioBufferClear(),
        ev.ConversationItemTruncate(item_id="i", content_index=0, audio_end_ms=5),
        ev.ConversationItemDelete(item_id="i"),
        ev.ConversationItemRetrieve(item_id="i"),
        ev.ResponseCancel(),
        ev.OutputAudioBufferClear(),
    ]
    for event in same:
        assert ga_json(event) == orjson.loads(rt.encode(event))


def test_strict_decoding_refuses_what_a_ga_server_refuses() -> None:
    cases = {
        '{"type":"session.update","session":{"instructions":"x"}}': (
            "session.type",
            "missing required field",
        ),
        '{"type":"session.update","session":{"type":"chat"}}': ("session.type", "Invalid value"),
        '{"type":"session.update","session":{"type":"realtime","temperature":0.8}}': (
            "session.temperature",
            "unknown field",
        ),
        '{"type":"session.update","session":{"type":"realtime","voice":"ash"}}': (
            "session.voice",
            "unknown field",
        ),
        '{"type":"session.update","session":{"type":"realtime","audio":{"loud":1}}}': (
            "session.audio.loud",
            "unknown field",
        ),
        '{"type":"session.update","session":{"type":"realtime",'
        '"audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}}}}': (
            "session.audio.input.format.rate",
            "Invalid value",
        ),
        '{"type":"session.update","session":{"type":"realtime",'
        '"audio":{"output":{"voice":{"id":"voice_1"}}}}}': (
            "session.audio.output.voice",
            "Invalid value",
        ),
        '{"type":"response.create","response":{"modalities":["text"]}}': (
            "response.modalities",
            "unknown field",
        ),
        '{"type":"response.create","response":{"audio":{"input":{}}}}': (
            "response.audio.input",
            "unknown field",
        ),
        '{"type":"conversation.item.create","item":{"type":"message","role":"assistant",'
        '"content":[{"type":"audio","transcript":"x"}]}}': (
            "item.content[0].type",
            "Invalid value",
        ),
        '{"type":"session.update","session":{"type":"realtime",'
        '"audio":{"input":{"turn_detection":{"threshold":"high"}}}}}': (
            "session.audio.input.turn_detection.threshold",
            "expected number",
        ),
    }
    for frame, (path, reason) in cases.items():
        with pytest.raises(rt.ProtocolError) as raised:
            GA.decode_client_event(frame)
        assert (raised.value.path, raised.value.reason[: len(reason)]) == (path, reason), frame
        assert raised.value.event_type is not None
    # The beta-only event is not a GA client event: left for the server to refuse by type.
    unknown = GA.decode_client_event('{"type":"transcription_session.update","session":{}}')
    assert isinstance(unknown, rt.UnknownEvent)


# --- server events: GA frames, the application's classes -----------------------------------------

GA_SESSION_CREATED = {
    "type": "session.created",
    "event_id": "event_1",
    "session": {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_1",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "hi",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": 1756324625,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": {"type": "near_field", "strength": 0.4},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {
                "format": {"type": "audio/pcmu"},
                "voice": {"id": "voice_1234"},
                "speed": 1,
            },
        },
        "include": None,
    },
}


def test_a_ga_session_created_reads_as_the_beta_session_keeping_what_beta_lacks() -> None:
    event = GA.decode_server_event(orjson.dumps(GA_SESSION_CREATED))
    assert isinstance(event, ev.SessionCreated)
    session = event.session
    assert session.modalities == ["audio"]
    assert session.input_audio_format == "pcm16"
    assert session.output_audio_format == "g711_ulaw"
    assert session.max_response_output_tokens == "inf"
    assert session.speed == 1
    assert session.turn_detection == ev.TurnDetection(
        type="server_vad",
        threshold=0.5,
        prefix_padding_ms=300,
        silence_duration_ms=200,
        create_response=True,
        interrupt_response=True,
        extra={"idle_timeout_ms": None},
    )
    assert session.input_audio_noise_reduction == ev.NoiseReduction(
        type="near_field", extra={"strength": 0.4}
    )
    assert session.voice is rt.UNSET  # a custom voice object has no beta place: kept
    assert session.extra["audio"] == {"output": {"voice": {"id": "voice_1234"}}}
    assert session.extra["truncation"] == "auto"
    # ... and all of it goes back out as it came.
    assert orjson.loads(GA.encode(event)) == GA_SESSION_CREATED


@pytest.mark.parametrize(
    ("ga_type", "cls"),
    [
        ("response.output_text.delta", ev.ResponseTextDelta),
        ("response.output_audio.delta", ev.ResponseAudioDelta),
        ("response.output_audio_transcript.delta", ev.ResponseAudioTranscriptDelta),
    ],
)
def test_renamed_deltas_decode_to_the_beta_classes(ga_type: str, cls: type[rt.Event]) -> None:
    frame = {
        "type": ga_type,
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "AAAA",
    }
    event = GA.decode_server_event(orjson.dumps(frame))
    assert type(event) is cls
    assert orjson.loads(GA.encode(event)) == frame
    # The beta name still decodes (servers in GA's deprecation window send some).
    beta = GA.decode_server_event(orjson.dumps({**frame, "type": cls.type}))
    assert type(beta) is cls


def test_item_events_and_ga_only_events() -> None:
    item = {
        "id": "item_1",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "hi"}],
    }
    added = GA.decode_server_event(
        orjson.dumps({"type": "conversation.item.added", "event_id": "e", "item": item})
    )
    assert isinstance(added, ev.ConversationItemCreated)
    assert added.item.content == [ev.ContentPart(type="audio", transcript="hi")]
    done = GA.decode_server_event(
        orjson.dumps({"type": "conversation.item.done", "event_id": "e", "item": item})
    )
    assert isinstance(done, ev.ConversationItemDone)
    assert ga_json(done)["item"] == item
    timeout = GA.decode_server_event(
        b'{"type":"input_audio_buffer.timeout_triggered","event_id":"e","audio_start_ms":1,'
        b'"audio_end_ms":5,"item_id":"i"}'
    )
    assert timeout == ev.InputAudioBufferTimeoutTriggered(
        event_id="e", audio_start_ms=1, audio_end_ms=5, item_id="i"
    )
    dtmf = GA.decode_server_event(
        b'{"type":"input_audio_buffer.dtmf_event_received","event":"5","received_at":9}'
    )
    assert dtmf == ev.InputAudioBufferDtmfEventReceived(event="5", received_at=9)
    # On a beta connection the GA-only events stay unknown, as before.
    assert isinstance(rt.decode(GA.encode(done)), rt.UnknownEvent)
    assert set(ev.GA_SERVER_EVENTS) & set(ev.SERVER_EVENTS) == set()


def test_a_transcription_session_is_told_by_its_type() -> None:
    frame = {
        "type": "session.updated",
        "event_id": "e",
        "session": {
            "type": "transcription",
            "id": "sess_1",
            "object": "realtime.transcription_session",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
            "include": None,
        },
    }
    event = GA.decode_server_event(orjson.dumps(frame))
    assert isinstance(event, ev.TranscriptionSessionUpdated)
    assert event.session.input_audio_format == "pcm16"
    assert ga_json(event) == frame


def test_decode_errors_name_the_ga_type_and_path() -> None:
    bad = {**GA_SESSION_CREATED, "session": {**GA_SESSION_CREATED["session"], "model": 3}}
    with pytest.raises(rt.ProtocolError, match=r"^session\.created: session\.model: expected"):
        GA.decode_server_event(orjson.dumps(bad))
    frame = b'{"type":"response.output_audio.delta","event_id":"e","response_id":"r"}'
    with pytest.raises(rt.ProtocolError, match=r"^response\.output_audio\.delta: item_id"):
        GA.decode_server_event(frame)
    for junk, message in ((b"[]", "JSON object"), (b"{}", "missing"), (b"{", "invalid JSON")):
        with pytest.raises(rt.ProtocolError, match=message):
            GA.decode_server_event(junk)
    assert isinstance(GA.decode_server_event(b'{"type":"brand.new"}'), rt.UnknownEvent)


_GA_ONLY_CONTENT = {"output_text", "output_audio"}


def _content_types(value: object) -> set[str]:
    found: set[str] = set()
    if isinstance(value, ev.ContentPart) and isinstance(value.type, str):
        found.add(value.type)
    if isinstance(value, list | tuple):
        for entry in value:
            found |= _content_types(entry)
    if isinstance(value, rt.Event | ev.Model):
        for name in value.__attrs_attrs__:  # type: ignore[union-attr]
            found |= _content_types(getattr(value, name.name))
    return found


@given(st.sampled_from(sorted(ev.SERVER_EVENTS.values(), key=lambda c: c.type)).flatmap(instances))
def test_every_server_event_survives_the_ga_round_trip(event: rt.Event) -> None:
    # GA's names for beta's assistant content types cannot be told from beta's own.
    assume(not _content_types(event) & _GA_ONLY_CONTENT)
    assert GA.decode_server_event(GA.encode(event)) == event


def test_dialects_by_name() -> None:
    assert dialect_named("beta") is BETA
    assert dialect_named("ga") is GA
    assert BETA.decode_server_event is rt.decode  # the beta path is the codec, untouched
    assert BETA.encode is rt.encode
    with pytest.raises(ValueError, match="'beta' or 'ga'"):
        dialect_named("GA")
