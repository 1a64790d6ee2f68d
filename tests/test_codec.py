"""The codec: strict decoding, precise errors, forward compatibility."""

from __future__ import annotations

import orjson
import pytest

from trio_realtime import ProtocolError, UnknownEvent, converter, decode, encode
from trio_realtime import events as ev

AUDIO_DELTA = {
    "type": "response.audio.delta",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}


def wire(obj: object) -> str:
    return orjson.dumps(obj).decode()


def test_decode_accepts_text_and_bytes() -> None:
    assert decode(wire(AUDIO_DELTA)) == decode(wire(AUDIO_DELTA).encode())
    assert decode(wire(AUDIO_DELTA)).pcm == b"\x00\x00\x00"  # type: ignore[union-attr]


def test_encode_produces_a_text_frame() -> None:
    frame = encode(ev.InputAudioBufferCommit(event_id="evt_1"))
    assert isinstance(frame, str)
    assert orjson.loads(frame) == {"type": "input_audio_buffer.commit", "event_id": "evt_1"}


def test_unknown_fields_are_kept_and_encoded_back_out() -> None:
    raw = {**AUDIO_DELTA, "server_sent_at": 1.25, "future": {"nested": [1, None]}}
    event = decode(wire(raw))
    assert isinstance(event, ev.ResponseAudioDelta)
    assert event.extra == {"server_sent_at": 1.25, "future": {"nested": [1, None]}}
    assert orjson.loads(encode(event)) == raw


def test_unknown_nested_fields_survive_a_round_trip() -> None:
    raw = {
        "type": "session.created",
        "event_id": "event_1",
        "session": {
            "id": "sess_1",
            "prompt": None,
            "turn_detection": {"type": "server_vad", "idle_timeout_ms": None},
        },
    }
    event = decode(wire(raw))
    assert isinstance(event, ev.SessionCreated)
    assert event.session.extra == {"prompt": None}
    assert orjson.loads(encode(event)) == raw


def test_an_unknown_type_decodes_to_an_unknown_event_that_keeps_everything() -> None:
    raw = {"type": "response.output_text.delta", "event_id": "event_9", "delta": "hi", "n": [1]}
    event = decode(wire(raw))
    assert isinstance(event, UnknownEvent)
    assert (event.type, event.event_id) == ("response.output_text.delta", "event_9")
    assert event.raw == raw
    assert orjson.loads(encode(event)) == raw


def test_unknown_enum_values_in_server_events_are_kept_as_strings() -> None:
    raw = {
        "type": "response.done",
        "event_id": "event_1",
        "response": {
            "id": "resp_1",
            "status": "paused_by_future_server",
            "voice": "marin",
            "status_details": {"type": "incomplete", "reason": "brand_new_reason"},
        },
    }
    event = decode(wire(raw))
    assert isinstance(event, ev.ResponseDone)
    assert event.response.status == "paused_by_future_server"
    assert orjson.loads(encode(event)) == raw


def test_an_unknown_transcription_usage_kind_stays_a_dict() -> None:
    raw = {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "event_1",
        "item_id": "item_1",
        "content_index": 0,
        "transcript": "hi",
        "usage": {"type": "characters", "characters": 2},
    }
    event = decode(wire(raw))
    assert isinstance(event, ev.InputAudioTranscriptionCompleted)
    assert event.usage == {"type": "characters", "characters": 2}
    seconds = decode(wire({**raw, "usage": {"type": "duration", "seconds": 1.5}}))
    assert seconds.usage == ev.TranscriptionDurationUsage(seconds=1.5)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {
                "type": "response.done",
                "event_id": "e",
                "response": {"output": [{"content": [{"type": "text"}, {"type": 5}]}]},
            },
            "response.done: response.output[0].content[1].type: expected str, got int",
        ),
        (
            {**AUDIO_DELTA, "output_index": 1.5},
            "response.audio.delta: output_index: expected int, got float",
        ),
        (
            {**AUDIO_DELTA, "output_index": True},
            "response.audio.delta: output_index: expected int, got bool",
        ),
        (
            {**AUDIO_DELTA, "output_index": "0"},
            "response.audio.delta: output_index: expected int, got str",
        ),
        ({**AUDIO_DELTA, "item_id": None}, "response.audio.delta: item_id: expected str, got null"),
        (
            {k: v for k, v in AUDIO_DELTA.items() if k != "delta"},
            "response.audio.delta: delta: missing required field",
        ),
        (
            {"type": "session.update", "session": {"turn_detection": {"create_response": "false"}}},
            "session.update: session.turn_detection.create_response: expected bool, got str",
        ),
        (
            {"type": "session.update", "session": {"temperature": "0.8"}},
            "session.update: session.temperature: expected number, got str",
        ),
        (
            {"type": "session.update", "session": {"instructions": 3}},
            "session.update: session.instructions: expected str, got int",
        ),
        (
            {"type": "session.update", "session": {"tools": {}}},
            "session.update: session.tools: expected array, got object",
        ),
        (
            {"type": "session.update", "session": []},
            "session.update: session: expected object, got array",
        ),
        (
            {"type": "response.create", "response": {"metadata": {"k": 1}}},
            "response.create: response.metadata['k']: expected str, got int",
        ),
        (
            {"type": "session.update", "session": {"tracing": 5}},
            "session.update: session.tracing: expected str or object, got int",
        ),
    ],
)
def test_wrong_field_types_raise_one_protocol_error_naming_type_and_path(
    raw: object, message: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(wire(raw))
    assert str(info.value) == message
    assert info.value.event_type == message.split(":")[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got array"),
        ('"session.update"', "expected a JSON object, got str"),
        ("{}", "the 'type' field is missing"),
        ('{"type": null}', "the 'type' field is not a string (null)"),
        ('{"type": ["error"]}', "the 'type' field is not a string (array)"),
    ],
)
def test_malformed_frames_raise_protocol_error(data: str | bytes, message: str) -> None:
    with pytest.raises(
        ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as info:
        decode(data)
    assert info.value.event_type is None


def test_protocol_error_is_a_value_error_and_not_an_exception_group() -> None:
    with pytest.raises(ValueError, match="item_id: expected str, got int") as info:
        decode('{"type":"conversation.item.delete","item_id":7}')
    assert type(info.value) is ProtocolError
    assert info.value.path == "item_id"


def test_no_primitive_is_coerced() -> None:
    event = decode('{"type":"session.update","session":{"temperature":1,"instructions":"None"}}')
    assert isinstance(event, ev.SessionUpdate)
    assert event.session.temperature == 1
    assert type(event.session.temperature) is int  # kept as sent; re-encodes as 1
    assert event.session.instructions == "None"


def test_explicit_null_and_omission_stay_different_through_a_round_trip() -> None:
    for session in (
        {"turn_detection": None},
        {},
        {"input_audio_transcription": None, "tools": None},
    ):
        frame = wire({"type": "session.update", "session": session})
        assert orjson.loads(encode(decode(frame))) == {"type": "session.update", "session": session}


def test_the_converter_structures_nested_objects_on_their_own() -> None:
    detection = converter.structure({"type": "server_vad", "threshold": 0.5}, ev.TurnDetection)
    assert detection == ev.TurnDetection(type="server_vad", threshold=0.5)
    assert converter.unstructure(detection) == {"type": "server_vad", "threshold": 0.5}
    with pytest.raises(ProtocolError, match="threshold: expected number, got str"):
        converter.structure({"threshold": "high"}, ev.TurnDetection)


def test_encode_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="not a protocol event"):
        encode({"type": "session.update"})  # type: ignore[arg-type]


def test_an_unknown_event_can_be_sent() -> None:
    custom = UnknownEvent(raw={"type": "x.custom", "value": 1})
    assert orjson.loads(encode(custom)) == {"type": "x.custom", "value": 1}
