"""The event model: what users build, send and match on, checked against the catalog."""

from __future__ import annotations

import types
import typing

import attrs
import pytest
from protocol_data import catalog, catalog_server_events
from strategies import parse_field

import trio_realtime
from trio_realtime import UNSET, encode
from trio_realtime import events as ev

# Catalog object name → the class that models it. Objects the catalog lists with identical
# shapes, or that differ only in which direction uses which fields, share one class.
OBJECT_CLASSES: dict[str, type] = {
    "ConversationCreatedEvent.Conversation": ev.ConversationInfo,
    "ConversationItem": ev.ConversationItem,
    "ConversationItemContent": ev.ContentPart,
    "ConversationItemInputAudioTranscriptionCompletedEvent.Logprob": ev.Logprob,
    "ConversationItemInputAudioTranscriptionCompletedEvent.UsageTranscriptTextUsageDuration": (
        ev.TranscriptionDurationUsage
    ),
    "ConversationItemInputAudioTranscriptionCompletedEvent.UsageTranscriptTextUsageTokens": (
        ev.TranscriptionTokenUsage
    ),
    "ConversationItemInputAudioTranscriptionCompletedEvent."
    "UsageTranscriptTextUsageTokensInputTokenDetails": ev.TokenDetails,
    "ConversationItemInputAudioTranscriptionDeltaEvent.Logprob": ev.Logprob,
    "ConversationItemInputAudioTranscriptionFailedEvent.Error": ev.TranscriptionError,
    "ConversationItemWithReference": ev.ConversationItem,
    "ConversationItemWithReference.Content": ev.ContentPart,
    "ErrorEvent.Error": ev.ErrorDetails,
    "RateLimitsUpdatedEvent.RateLimit": ev.RateLimit,
    "RealtimeResponse": ev.Response,
    "RealtimeResponseStatus": ev.ResponseStatusDetails,
    "RealtimeResponseStatus.Error": ev.ResponseError,
    "RealtimeResponseUsage": ev.Usage,
    "RealtimeResponseUsage.InputTokenDetails": ev.TokenDetails,
    "RealtimeResponseUsage.OutputTokenDetails": ev.TokenDetails,
    "ResponseContentPartAddedEvent.Part": ev.ContentPart,
    "ResponseContentPartDoneEvent.Part": ev.ContentPart,
    "ResponseCreateEvent.Response": ev.ResponseConfig,
    "ResponseCreateEvent.ResponseTool": ev.Tool,
    "Session": ev.Session,
    "Session.InputAudioNoiseReduction": ev.NoiseReduction,
    "Session.InputAudioTranscription": ev.InputAudioTranscription,
    "Session.Tool": ev.Tool,
    "Session.TracingTracingConfiguration": ev.TracingConfiguration,
    "Session.TurnDetection": ev.TurnDetection,
    "SessionUpdateEvent.Session": ev.Session,
    "SessionUpdateEvent.SessionClientSecret": ev.ClientSecret,
    "SessionUpdateEvent.SessionClientSecretExpiresAfter": ev.ExpiresAfter,
    "SessionUpdateEvent.SessionInputAudioNoiseReduction": ev.NoiseReduction,
    "SessionUpdateEvent.SessionInputAudioTranscription": ev.InputAudioTranscription,
    "SessionUpdateEvent.SessionTool": ev.Tool,
    "SessionUpdateEvent.SessionTracingTracingConfiguration": ev.TracingConfiguration,
    "SessionUpdateEvent.SessionTurnDetection": ev.TurnDetection,
    "TranscriptionSession": ev.TranscriptionSession,
    "TranscriptionSession.ClientSecret": ev.ClientSecret,
    "TranscriptionSession.InputAudioTranscription": ev.InputAudioTranscription,
    "TranscriptionSession.TurnDetection": ev.TurnDetection,
    "TranscriptionSessionUpdate.Session": ev.TranscriptionSession,
    "TranscriptionSessionUpdate.SessionClientSecret": ev.ClientSecret,
    "TranscriptionSessionUpdate.SessionClientSecretExpiresAt": ev.ExpiresAfter,
    "TranscriptionSessionUpdate.SessionInputAudioNoiseReduction": ev.NoiseReduction,
    "TranscriptionSessionUpdate.SessionInputAudioTranscription": ev.InputAudioTranscription,
    "TranscriptionSessionUpdate.SessionTurnDetection": ev.TurnDetection,
}

# Required in one catalog shape but optional in ours, each for a stated reason.
OPTIONAL_ON_PURPOSE = {
    # A shared class: the update-side shapes of the same object make these optional.
    ("TranscriptionSession.ClientSecret", "expires_at"),
    ("TranscriptionSession.ClientSecret", "value"),
    ("SessionUpdateEvent.SessionClientSecretExpiresAfter", "anchor"),
    # Absent on the WebSocket although the SDK marks it required (openai-openapi#568).
    ("TranscriptionSession", "client_secret"),
}


def _field_is_required(cls: type, name: str) -> bool:
    field = attrs.fields_dict(cls)[name]
    return field.default is attrs.NOTHING or (
        # A union discriminator such as ``type: Literal["tokens"]``: always on the wire.
        typing.get_origin(typing.get_type_hints(cls)[name]) is typing.Literal
    )


def _wire_fields(cls: type) -> set[str]:
    return {f.name for f in attrs.fields(cls)} - {"extra"}


def test_registries_hold_every_catalog_event_exactly_once() -> None:
    assert set(ev.CLIENT_EVENTS) == set(catalog()["client_events"])
    assert set(ev.SERVER_EVENTS) == set(catalog_server_events())
    assert len(ev.CLIENT_EVENTS) == 12
    assert len(ev.SERVER_EVENTS) == 35
    classes = [*ev.CLIENT_EVENTS.values(), *ev.SERVER_EVENTS.values()]
    assert len(set(classes)) == len(classes)
    for event_type, cls in {**ev.CLIENT_EVENTS, **ev.SERVER_EVENTS}.items():
        assert cls.type == event_type


@pytest.mark.parametrize(
    ("event_type", "spec"),
    sorted({**catalog()["client_events"], **catalog_server_events()}.items()),
)
def test_event_fields_match_the_catalog(event_type: str, spec: dict[str, typing.Any]) -> None:
    cls = {**ev.CLIENT_EVENTS, **ev.SERVER_EVENTS}[event_type]
    fields = {name: parse_field(s) for name, s in spec["fields"].items() if name != "type"}
    assert _wire_fields(cls) == set(fields)
    first = spec.get("first_seen_sdk_version")
    seen = spec.get("first_seen_sdk_version_per_field", {})
    for name, (_, required) in fields.items():
        # A field that arrived during the beta is optional on decode: older servers omit it
        # (test_events_older_payloads).
        late = first is not None and seen.get(name, first) != first
        assert _field_is_required(cls, name) == (required and not late), name


def test_every_catalog_object_has_a_class_with_its_fields() -> None:
    assert set(OBJECT_CLASSES) == set(catalog()["objects"])
    for name, spec in catalog()["objects"].items():
        cls = OBJECT_CLASSES[name]
        for field, field_spec in spec["fields"].items():
            assert field in _wire_fields(cls), f"{name}.{field} missing from {cls.__name__}"
            if parse_field(field_spec)[1] and (name, field) not in OPTIONAL_ON_PURPOSE:
                assert _field_is_required(cls, field), f"{name}.{field} must be required"


def test_every_model_is_frozen_slotted_and_keyword_only() -> None:
    models = {*OBJECT_CLASSES.values(), *ev.CLIENT_EVENTS.values(), *ev.SERVER_EVENTS.values()}
    for cls in models:
        assert "__slots__" in vars(cls), cls
        assert all(f.kw_only for f in attrs.fields(cls)), cls
        instance_fields = {f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING}
        assert "type" not in instance_fields or cls in (ev.ErrorDetails,), (
            f"{cls.__name__}.type must be a class attribute"
        )
    event = ev.InputAudioBufferCommit()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.event_id = "x"  # type: ignore[misc]


def test_public_names_are_complete_and_sorted() -> None:
    # Order is kept by ruff (RUF022); here: no duplicates, nothing missing, nothing extra.
    assert len(set(trio_realtime.__all__)) == len(trio_realtime.__all__)
    assert all(hasattr(trio_realtime, name) for name in trio_realtime.__all__)
    for name in ev.__all__:
        if name not in ("CLIENT_EVENTS", "SERVER_EVENTS", "GA_SERVER_EVENTS"):
            assert getattr(trio_realtime, name) is getattr(ev, name)
    public = {
        name
        for name, value in vars(trio_realtime).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} <= set(trio_realtime.__all__)


def test_an_omitted_field_stays_off_the_wire_and_none_is_sent_as_null() -> None:
    update = ev.SessionUpdate(session=ev.Session(turn_detection=None))
    assert encode(update) == '{"type":"session.update","session":{"turn_detection":null}}'
    assert ev.Session().turn_detection is UNSET
    assert encode(ev.ResponseCreate()) == '{"type":"response.create"}'


def test_the_wire_type_is_a_class_attribute_not_a_constructor_argument() -> None:
    with pytest.raises(TypeError):
        ev.InputAudioBufferCommit(type="x")  # type: ignore[call-arg]
    assert ev.InputAudioBufferCommit.type == "input_audio_buffer.commit"


def test_events_match_by_class_pattern() -> None:
    event = trio_realtime.decode(
        '{"type":"input_audio_buffer.speech_started","event_id":"event_1",'
        '"audio_start_ms":700,"item_id":"item_1"}'
    )
    match event:
        case ev.InputAudioBufferSpeechStarted(audio_start_ms=start, item_id=item):
            assert (start, item) == (700, "item_1")
        case _:
            pytest.fail(f"unexpected {event!r}")


def test_reprs_show_set_fields_shorten_audio_and_hide_secrets() -> None:
    append = ev.InputAudioBufferAppend.from_pcm(bytes(4800))
    assert len(repr(append)) < 120
    assert "event_id" not in repr(append)
    secret = ev.Session(client_secret=ev.ClientSecret(value="ek_live_secret_value"))
    assert "ek_live_secret_value" not in repr(secret)
    assert "ek_live_secret_value" in encode(ev.SessionUpdate(session=secret))


def test_audio_helpers_round_trip_pcm_bytes() -> None:
    pcm = bytes(range(256)) * 10
    append = ev.InputAudioBufferAppend.from_pcm(pcm, event_id="evt_1")
    assert append.pcm == pcm
    assert isinstance(append.audio, str)
    part = ev.ContentPart.input_audio(pcm)
    assert part.pcm == pcm
    assert ev.ContentPart().pcm == b""
    with pytest.raises(ValueError, match="base64"):
        _ = ev.InputAudioBufferAppend(audio="not base64!").pcm


def test_item_helpers_build_the_common_items() -> None:
    item = ev.ConversationItem.user_text("hello")
    assert trio_realtime.to_json_dict(ev.ConversationItemCreate(item=item))["item"] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hello"}],
    }
    output = ev.ConversationItem.function_call_output("call_1", '{"ok":true}')
    assert (output.type, output.call_id, output.output) == (
        "function_call_output",
        "call_1",
        '{"ok":true}',
    )
