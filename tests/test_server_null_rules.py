"""The reference server's reading of ``null`` in optional request fields, and the payloads
that foreign clients really send.

Rules these tests follow:

* :data:`RULES` is the table of README.rst ("Nulls in requests") as data: for every optional
  field the catalog lists for ``session.update``, ``transcription_session.update`` and
  ``response.create``, what ``null`` means. A test fails if the catalog grows a field the
  table does not decide.
* The livekit and openai-agents payloads are copied from their sources (file and version
  named beside each), byte for byte in shape: the fields, nulls and nesting they put on the
  wire.
* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
"""

from __future__ import annotations

from typing import Any

import pytest
from protocol_data import catalog
from server_helpers import FakeEngine, Harness, audio_reply, call_reply, only, types

from trio_realtime._core._audio import silence, speech_like

#: What ``null`` means per field: "not given" (nothing changes; a response keeps the
#: session's value), "off" (the feature is switched off), "ignored" (accepted, no effect),
#: or "refused" (``unknown_parameter``: not a request field at all).
RULES: dict[str, dict[str, str]] = {
    "session.update": {
        "client_secret": "ignored",
        "input_audio_format": "not given",
        "input_audio_noise_reduction": "off",
        "input_audio_transcription": "off",
        "instructions": "not given",
        "max_response_output_tokens": "not given",
        "modalities": "not given",
        "model": "not given",
        "output_audio_format": "not given",
        "speed": "not given",
        "temperature": "not given",
        "tool_choice": "not given",
        "tools": "not given",
        "tracing": "off",
        "turn_detection": "off",
        "voice": "not given",
    },
    "transcription_session.update": {
        "client_secret": "ignored",
        "include": "off",
        "input_audio_format": "not given",
        "input_audio_noise_reduction": "off",
        "input_audio_transcription": "off",
        "modalities": "not given",
        "turn_detection": "off",
    },
    "response.create": {
        "conversation": "not given",
        "input": "not given",
        "instructions": "not given",
        "max_response_output_tokens": "not given",
        "metadata": "not given",
        "modalities": "not given",
        "output_audio_format": "not given",
        "temperature": "not given",
        "tool_choice": "not given",
        "tools": "not given",
        "voice": "not given",
    },
}

CATALOG_OBJECTS = {
    "session.update": "SessionUpdateEvent.Session",
    "transcription_session.update": "TranscriptionSessionUpdate.Session",
    "response.create": "ResponseCreateEvent.Response",
}

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}

#: A session with something non-default in every field ``null`` could disturb.
CONFIGURED = {
    "modalities": ["text"],
    "instructions": "Be brief.",
    "voice": "verse",
    "input_audio_format": "g711_ulaw",
    "output_audio_format": "g711_alaw",
    "input_audio_transcription": {"model": "gpt-4o-transcribe"},
    "input_audio_noise_reduction": {"type": "far_field"},
    "turn_detection": {"type": "server_vad", "threshold": 0.7},
    "tools": [TOOL],
    "tool_choice": "required",
    "temperature": 1.1,
    "max_response_output_tokens": 300,
    "speed": 1.25,
    "tracing": "auto",
}
#: Where a field shows in the echoed session when it is off.
OFF_VALUE = {"tracing": None, "turn_detection": None}


def test_the_table_decides_every_optional_field_the_catalog_lists() -> None:
    for event_type, object_name in CATALOG_OBJECTS.items():
        fields = catalog()["objects"][object_name]["fields"]
        optional = {name for name, spec in fields.items() if spec.endswith(", optional")}
        assert set(RULES[event_type]) == optional, event_type


@pytest.mark.parametrize("field", sorted(RULES["session.update"]))
def test_null_in_a_session_update_field(field: str) -> None:
    h = Harness()
    before = h.update(**CONFIGURED)[0]["session"]
    events = h.send({"type": "session.update", "event_id": "e1", "session": {field: None}})
    assert types(events) == ["session.updated"], events
    after = events[0]["session"]
    rule = RULES["session.update"][field]
    if rule == "off":
        assert after[field] is OFF_VALUE.get(field), (field, after[field])
        assert {k: v for k, v in after.items() if k != field} == {
            k: v for k, v in before.items() if k != field
        }
    else:  # "not given" and "ignored": the session is exactly as it was
        assert after == before


@pytest.mark.parametrize("field", sorted(RULES["transcription_session.update"]))
def test_null_in_a_transcription_session_update_field(field: str) -> None:
    h = Harness(None, intent="transcription")
    configured = {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
        "input_audio_noise_reduction": {"type": "near_field"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
        "include": ["item.input_audio_transcription.logprobs"],
    }
    before = h.send({"type": "transcription_session.update", "session": configured})[0]
    events = h.send({"type": "transcription_session.update", "session": {field: None}})
    assert types(events) == ["transcription_session.updated"], events
    after, was = events[0]["session"], before["session"]
    if RULES["transcription_session.update"][field] == "off":
        assert after[field] is None
        assert {k: v for k, v in after.items() if k != field} == {
            k: v for k, v in was.items() if k != field
        }
    else:
        assert after == was


@pytest.mark.parametrize("field", sorted(RULES["response.create"]))
def test_null_in_a_response_create_field_keeps_the_session_value(field: str) -> None:
    assert RULES["response.create"][field] == "not given"
    engine = FakeEngine(outputs=(audio_reply(),))
    h = Harness(engine=engine)
    h.update(**{**CONFIGURED, "modalities": ["text", "audio"], "turn_detection": None})
    h.send({"type": "conversation.item.create", "item": _user_text("hello")})
    events = h.send({"type": "response.create", "response": {field: None}})
    created = only(events, "response.created")["response"]
    assert (created["voice"], created["output_audio_format"]) == ("verse", "g711_alaw")
    assert (created["temperature"], created["max_output_tokens"]) == (1.1, 300)
    assert created["modalities"] == ["text", "audio"]
    assert created["metadata"] is None
    assert isinstance(created["conversation_id"], str)  # "auto": the default conversation
    (request,) = engine.requests
    assert request.instructions == "Be brief."
    assert [t.name for t in request.tools] == ["get_weather"]
    assert request.tool_choice == "required"
    assert len(request.items) == 1  # null input: the default conversation


def test_null_sub_fields_of_a_nested_object_take_their_defaults() -> None:
    h = Harness()
    session = h.update(
        turn_detection={"type": None, "threshold": None, "create_response": None},
        input_audio_transcription={"model": None, "language": None},
        input_audio_noise_reduction={"type": None},
    )[0]["session"]
    assert session["turn_detection"]["type"] == "server_vad"
    assert session["turn_detection"]["threshold"] == 0.5
    assert session["turn_detection"]["create_response"] is True
    assert session["input_audio_transcription"]["model"] == "whisper-1"
    assert session["input_audio_noise_reduction"] == {"type": "near_field"}


def test_the_fields_the_server_owns_are_refused_even_when_null() -> None:
    for field in ("id", "object", "expires_at"):
        events = Harness().update(**{field: None})
        assert types(events) == ["error"]
        assert events[0]["error"]["code"] == "unknown_parameter"


# -- livekit-plugins-openai 1.2.18, RealtimeModelBeta (realtime/realtime_model_beta.py) ---------
# Its events go out as ``model_dump(by_alias=True, exclude_unset=True, exclude_defaults=False)``
# of models built with ``model_construct``: every argument it passes is on the wire, ``None``
# as ``null``.

LIVEKIT_SESSION_UPDATE = {  # _create_session_update_event(), default options, no instructions
    "type": "session.update",
    "event_id": "session_update_4kZ8bWq2mX3p",
    "session": {
        "model": "gpt-realtime",
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "modalities": ["text", "audio"],
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "create_response": True,
            "interrupt_response": True,
        },
        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
        "input_audio_noise_reduction": None,
        "temperature": 0.8,
        "tool_choice": "auto",
    },
}
LIVEKIT_TOOLS_UPDATE = {  # _create_tools_update_event(): the model rides along
    "type": "session.update",
    "event_id": "tools_update_9TqLm2Zr7Yvd",
    "session": {"model": "gpt-realtime", "tools": [TOOL]},
}
LIVEKIT_OPTIONS_UPDATE = {  # update_options(max_response_output_tokens=None, turn_detection=None)
    "type": "session.update",
    "event_id": "options_update_Pq7Rk1Vn3Bxs",
    "session": {"turn_detection": None, "max_response_output_tokens": None},
}


def livekit_generate_reply(event_id: str) -> dict[str, Any]:
    """generate_reply() without instructions: ``instructions=instructions or None``."""
    return {
        "type": "response.create",
        "event_id": event_id,
        "response": {"instructions": None, "metadata": {"client_event_id": event_id}},
    }


def test_livekit_beta_session_and_a_spoken_tool_result() -> None:
    replies = iter([(call_reply(),), (audio_reply("It is sunny in Paris."),)])
    engine = FakeEngine(outputs=lambda _request: next(replies))
    h = Harness("gpt-realtime", engine=engine)
    for update in (LIVEKIT_SESSION_UPDATE, LIVEKIT_TOOLS_UPDATE):
        assert types(h.send(update)) == ["session.updated"]
    session = h.send(
        {"type": "session.update", "session": {"instructions": "You are a weather bot."}}
    )[0]["session"]
    assert session["tools"] == [TOOL]
    assert session["input_audio_noise_reduction"] is None
    h.send({"type": "conversation.item.create", "item": _user_text("Weather in Paris?")})
    first = h.send(livekit_generate_reply("response_create_Aa1")) + h.run_until_idle()
    assert only(first, "response.created")["response"]["metadata"] == {
        "client_event_id": "response_create_Aa1"
    }
    done = only(first, "response.done")["response"]
    call = done["output"][0]
    h.send(
        {
            "type": "conversation.item.create",
            "event_id": "chat_ctx_create_Bb2",
            "previous_item_id": call["id"],
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        }
    )
    second = h.send(livekit_generate_reply("response_create_Cc3")) + h.run_until_idle()
    assert "error" not in types(second)
    reply = only(second, "response.done")["response"]
    assert reply["status"] == "completed"
    assert reply["output"][0]["content"][0]["transcript"] == "It is sunny in Paris."
    assert [r.instructions for r in engine.requests] == ["You are a weather bot."] * 2


def test_livekit_options_update_with_nulls() -> None:
    h = Harness("gpt-realtime")
    h.send(LIVEKIT_SESSION_UPDATE)
    h.update(max_response_output_tokens=512)
    session = h.send(LIVEKIT_OPTIONS_UPDATE)[0]["session"]
    assert session["turn_detection"] is None  # documented: off
    assert session["max_response_output_tokens"] == 512  # null: not given


# -- openai-agents 0.2.11 (agents/realtime/openai_realtime.py) ----------------------------------
# ``model_dump_json(exclude_none=True, exclude_unset=True)``: it never sends a null.

AGENTS_SESSION_UPDATE = {  # _get_session_config() with DEFAULT_MODEL_SETTINGS and one tool
    "type": "session.update",
    "session": {
        "instructions": "You are a helpful assistant.",
        "model": "gpt-4o-realtime-preview",
        "voice": "ash",
        "modalities": ["text", "audio"],
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
        "turn_detection": {"type": "semantic_vad"},
        "tools": [TOOL],
    },
}
AGENTS_TRACING_UPDATE = {"type": "session.update", "session": {"tracing": "auto"}}


def test_openai_agents_session_a_voice_turn_and_a_tool_round_trip() -> None:
    replies = iter([(call_reply(),), (audio_reply("Sunny."),)])
    engine = FakeEngine(outputs=lambda _request: next(replies))
    h = Harness("gpt-4o-realtime-preview", engine=engine)
    assert types(h.send(AGENTS_SESSION_UPDATE)) == ["session.updated"]
    session = h.send(AGENTS_TRACING_UPDATE)[0]["session"]
    assert session["tracing"] == "auto"
    assert session["turn_detection"]["type"] == "semantic_vad"
    turn = h.append(silence(300) + speech_like(1200, seed=3) + silence(1500))
    turn += h.run_until_idle()
    assert "input_audio_buffer.speech_stopped" in types(turn)
    call = only(turn, "response.done")["response"]["output"][0]
    assert call["type"] == "function_call"
    h.send(  # _send_tool_output(): the output, then a bare response.create
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "22C"},
        }
    )
    after = h.send({"type": "response.create"}) + h.run_until_idle()
    assert only(after, "response.done")["response"]["status"] == "completed"
    assert "error" not in types(turn + after)


def _user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
