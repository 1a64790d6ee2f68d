"""The reference server's state machine: opening, session updates, expiry, ids.

Rules these tests follow:

* Each test drives one :class:`~trio_realtime.server._state.ConnectionState` through
  :class:`server_helpers.Harness`, which validates every emitted event against the relaxed
  beta schemas, checks event ids and GA names; a test asserts only on wire JSON.
* Time is a number the test chooses; nothing sleeps, nothing is timed.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

from typing import Any

import pytest
from server_helpers import START_UNIX, Harness, error_of, types

from trio_realtime.server import DEFAULT_MODELS
from trio_realtime.server._session_config import DEFAULT_INSTRUCTIONS
from trio_realtime.server._state import ConnectionState, ServerOptions

DEFAULT_SESSION_FIELDS = {
    "object": "realtime.session",
    "model": "gpt-realtime",
    "modalities": ["text", "audio"],
    "instructions": DEFAULT_INSTRUCTIONS,
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "input_audio_noise_reduction": None,
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "create_response": True,
        "interrupt_response": True,
        "idle_timeout_ms": None,  # late beta (3.1 [obs])
    },
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "client_secret": None,
    "include": None,
    "speed": 1.0,
    "tracing": None,
    "prompt": None,  # late beta (3.1 [obs])
}


# -- opening ------------------------------------------------------------------------------------


def test_first_event_of_a_model_connection_is_session_created() -> None:  # checklist 1
    h = Harness()
    assert types(h.opening) == ["session.created"]
    assert h.state.close is None


def test_session_created_has_every_default_of_section_3_1() -> None:  # checklist 10
    session = Harness().opening[0]["session"]
    assert session["id"].startswith("sess_")
    assert session["expires_at"] == int(START_UNIX + 1800)
    assert {k: v for k, v in session.items() if k not in ("id", "expires_at")} == (
        DEFAULT_SESSION_FIELDS
    )


def test_expires_at_is_connect_time_plus_the_session_limit() -> None:  # checklist 10
    session = Harness(session_seconds=900).opening[0]["session"]
    assert session["expires_at"] == int(START_UNIX) + 900


def test_instructions_text_starts_like_the_live_default() -> None:  # checklist 10
    assert DEFAULT_INSTRUCTIONS.startswith(
        "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI"
    )


def test_no_conversation_created_unless_enabled() -> None:  # checklist 11
    assert types(Harness().opening) == ["session.created"]


def test_conversation_created_right_after_session_created_when_enabled() -> None:  # checklist 11
    h = Harness(send_conversation_created=True)
    assert types(h.opening) == ["session.created", "conversation.created"]
    conversation = h.opening[1]["conversation"]
    assert conversation["object"] == "realtime.conversation"
    assert conversation["id"].startswith("conv_")


def test_transcription_intent_opens_a_transcription_session() -> None:  # checklist 2
    h = Harness(None, intent="transcription")
    assert types(h.opening) == ["transcription_session.created"]
    session = h.opening[0]["session"]
    assert session["object"] == "realtime.transcription_session"
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
    }
    assert session["input_audio_format"] == "pcm16"
    assert session["input_audio_transcription"] is None
    assert session["input_audio_noise_reduction"] is None
    assert session["client_secret"] is None  # as in the live capture (3.2)
    assert session["include"] is None
    assert session["expires_at"] == int(START_UNIX) + 1800


def test_transcription_intent_with_a_model_is_invalid_model_and_closes_4000() -> (
    None
):  # checklist 3
    h = Harness("gpt-realtime", intent="transcription")
    error = error_of(h.opening)
    assert error["code"] == "invalid_model"
    assert error["message"] == "You must not provide a model parameter for transcription sessions."
    assert error["param"] is None
    assert error["event_id"] is None
    assert h.state.close == (4000, "invalid_request_error.invalid_model")


def test_no_model_and_no_intent_is_missing_model_and_closes_4000() -> None:  # checklist 4
    h = Harness(None)
    error = error_of(h.opening)
    assert error["code"] == "missing_model"
    assert error["message"].startswith("You must provide a model parameter")
    assert h.state.close == (4000, "invalid_request_error.missing_model")


def test_empty_model_counts_as_missing() -> None:  # checklist 4
    assert error_of(Harness("").opening)["code"] == "missing_model"


def test_model_outside_the_allow_list_is_invalid_model() -> None:
    h = Harness("gpt-nonexistent", allowed_models=frozenset({"gpt-realtime"}))
    assert error_of(h.opening)["code"] == "invalid_model"
    assert h.state.close == (4000, "invalid_request_error.invalid_model")
    assert types(Harness("gpt-realtime", allowed_models=frozenset({"gpt-realtime"})).opening) == [
        "session.created"
    ]


def test_unknown_intent_is_ignored_like_unknown_query_parameters() -> None:
    assert types(Harness(intent="quicksilver").opening) == ["session.created"]


def test_a_closing_state_returns_nothing_more() -> None:
    h = Harness(None)
    assert h.send({"type": "input_audio_buffer.clear"}) == []
    assert h.advance(10_000.0) == []
    assert h.state.next_deadline() is None


def test_misuse_of_the_api_raises() -> None:
    h = Harness(open=False)
    with pytest.raises(RuntimeError):
        h.send({"type": "input_audio_buffer.clear"})
    h.open()
    with pytest.raises(RuntimeError):
        h.state.open()


def test_update_sent_right_after_connecting_is_answered_after_created() -> None:  # checklist 16
    h = Harness(open=False)
    log = h.open() + h.update(instructions="be brief")
    assert types(log) == ["session.created", "session.updated"]


# -- session.update -----------------------------------------------------------------------------


def test_updating_one_field_changes_only_that_field() -> None:  # checklist 12
    h = Harness()
    before = h.opening[0]["session"]
    updated = h.update(voice="coral")
    assert types(updated) == ["session.updated"]
    after = updated[0]["session"]
    assert after == {**before, "voice": "coral"}


def test_session_updated_carries_the_full_configuration() -> None:  # checklist 12
    h = Harness()
    after = h.update(temperature=1.0)[0]["session"]
    assert set(after) == set(h.opening[0]["session"])
    assert after["temperature"] == 1.0


def test_turn_detection_null_comes_back_null() -> None:  # checklist 13
    h = Harness()
    assert h.update(turn_detection=None)[0]["session"]["turn_detection"] is None


def test_empty_instructions_come_back_empty() -> None:  # checklist 13
    h = Harness()
    assert h.update(instructions="")[0]["session"]["instructions"] == ""


def test_transcription_null_and_noise_reduction_null_switch_them_off() -> None:  # checklist 13
    h = Harness()
    on = h.update(
        input_audio_transcription={"model": "gpt-4o-transcribe", "language": "en"},
        input_audio_noise_reduction={},
    )[0]["session"]
    assert on["input_audio_transcription"] == {"model": "gpt-4o-transcribe", "language": "en"}
    assert on["input_audio_noise_reduction"] == {"type": "near_field"}
    off = h.update(input_audio_transcription=None, input_audio_noise_reduction=None)[0]["session"]
    assert off["input_audio_transcription"] is None
    assert off["input_audio_noise_reduction"] is None


def test_a_present_turn_detection_replaces_the_old_one_with_defaults() -> None:
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "threshold": 0.9, "create_response": False})
    turn = h.update(turn_detection={"silence_duration_ms": 500})[0]["session"]["turn_detection"]
    assert turn == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": True,
        "interrupt_response": True,
        "idle_timeout_ms": None,
    }


def test_semantic_vad_echoes_eagerness_and_the_response_flags() -> None:
    h = Harness()
    turn = h.update(turn_detection={"type": "semantic_vad", "eagerness": "high"})[0]["session"]
    assert turn["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }


def test_fields_of_the_other_vad_type_are_unknown_parameters() -> None:
    h = Harness()
    error = error_of(h.update(turn_detection={"type": "semantic_vad", "threshold": 0.3}))
    assert (error["code"], error["param"]) == (
        "unknown_parameter",
        "session.turn_detection.threshold",
    )
    error = error_of(h.update(turn_detection={"type": "server_vad", "eagerness": "low"}))
    assert error["param"] == "session.turn_detection.eagerness"


def test_unknown_field_refuses_the_whole_update() -> None:  # checklist 14
    h = Harness()
    events = h.send(
        {
            "type": "session.update",
            "event_id": "evt_1",
            "session": {"voice": "coral", "input_audio_transcription": {"enabled": True}},
        }
    )
    error = error_of(events)
    assert error["code"] == "unknown_parameter"
    assert error["param"] == "session.input_audio_transcription.enabled"
    assert error["message"] == "Unknown parameter: 'session.input_audio_transcription.enabled'."
    assert error["event_id"] == "evt_1"
    assert h.update()[0]["session"]["voice"] == "alloy"


def test_unknown_top_level_field_is_an_unknown_parameter() -> None:  # checklist 14
    error = error_of(Harness().send({"type": "input_audio_buffer.clear", "foo": 1}))
    assert (error["code"], error["param"]) == ("unknown_parameter", "foo")


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"temperature": 1.5}, "session.temperature"),
        ({"temperature": 0.1}, "session.temperature"),
        ({"speed": 2.0}, "session.speed"),
        ({"voice": "robot"}, "session.voice"),
        ({"modalities": ["audio"]}, "session.modalities"),
        ({"modalities": ["text", "video"]}, "session.modalities[1]"),
        ({"input_audio_format": "mp3"}, "session.input_audio_format"),
        ({"max_response_output_tokens": 0}, "session.max_response_output_tokens"),
        ({"max_response_output_tokens": 4097}, "session.max_response_output_tokens"),
        ({"max_response_output_tokens": "lots"}, "session.max_response_output_tokens"),
        ({"turn_detection": {"type": "push_to_talk"}}, "session.turn_detection.type"),
        ({"turn_detection": {"threshold": 1.5}}, "session.turn_detection.threshold"),
        (
            {"turn_detection": {"type": "semantic_vad", "eagerness": "x"}},
            "session.turn_detection.eagerness",
        ),
        (
            {"input_audio_transcription": {"model": "whisper-2"}},
            "session.input_audio_transcription.model",
        ),
        (
            {"input_audio_noise_reduction": {"type": "mid_field"}},
            "session.input_audio_noise_reduction.type",
        ),
        ({"tool_choice": "sometimes"}, "session.tool_choice"),
        ({"tools": [{"type": "web_search", "name": "x"}]}, "session.tools[0].type"),
        ({"model": "gpt-4o-realtime-preview"}, "session.model"),
        ({"tracing": "manual"}, "session.tracing"),
    ],
)
def test_out_of_range_and_out_of_enum_values_are_invalid_value(session: dict, param: str) -> None:
    h = Harness()
    error = error_of(h.update(**session))
    assert (error["code"], error["param"]) == ("invalid_value", param)
    assert h.update()[0]["session"] == h.opening[0]["session"]


def test_a_tool_without_a_name_is_a_missing_parameter() -> None:
    error = error_of(Harness().update(tools=[{"type": "function"}]))
    assert (error["code"], error["param"]) == (
        "missing_required_parameter",
        "session.tools[0].name",
    )


def test_a_tool_description_over_1024_characters_is_refused() -> None:
    tools = [
        {"type": "function", "name": "a"},
        {"type": "function", "name": "b", "description": "x" * 1025},
    ]
    error = error_of(Harness().update(tools=tools))
    assert error["code"] == "string_above_max_length"
    assert error["param"] == "session.tools[1].description"
    assert error["message"] == (
        "Invalid 'session.tools[1].description': string too long. Expected a string with "
        "maximum length 1024, but got a string with length 1025 instead."
    )


def test_tools_are_echoed_and_tool_choice_may_name_one() -> None:
    h = Harness()
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "d",
        "parameters": {"type": "object"},
    }
    session = h.update(tools=[tool], tool_choice="get_weather")[0]["session"]
    assert session["tools"] == [tool]
    assert session["tool_choice"] == "get_weather"


def test_same_model_is_accepted() -> None:
    assert types(Harness().update(model="gpt-realtime")) == ["session.updated"]


def test_wrong_json_type_is_invalid_type_with_the_dotted_path() -> None:
    h = Harness()
    error = error_of(h.send({"type": "session.update", "event_id": "e1", "session": {"voice": 5}}))
    assert error["code"] == "invalid_type"
    assert error["param"] == "session.voice"
    assert error["message"] == (
        "Invalid type for 'session.voice': expected a string, but got an integer instead."
    )
    assert error["event_id"] == "e1"


def test_null_where_a_value_is_needed_is_invalid_type() -> None:
    # A tool needs a name; null in an optional field is "not given" (test_server_null_rules).
    error = error_of(Harness().update(tools=[{"type": "function", "name": None}]))
    assert (error["code"], error["param"]) == ("invalid_type", "session.tools[0].name")


def test_a_missing_required_field_is_missing_required_parameter() -> None:
    error = error_of(Harness().send({"type": "session.update", "event_id": "e2"}))
    assert (error["code"], error["param"], error["event_id"]) == (
        "missing_required_parameter",
        "session",
        "e2",
    )


def test_session_fields_the_server_owns_are_unknown_parameters() -> None:
    for field in ("id", "object", "expires_at", "include"):
        error = error_of(Harness().update(**{field: None}))
        assert (error["code"], error["param"]) == ("unknown_parameter", f"session.{field}")


def test_client_secret_is_accepted_and_ignored() -> None:
    session = Harness().update(
        client_secret={"expires_after": {"anchor": "created_at", "seconds": 60}}
    )
    assert session[0]["session"]["client_secret"] is None


def test_transcription_session_update_on_a_conversation_session_is_refused() -> None:
    error = error_of(Harness().send({"type": "transcription_session.update", "session": {}}))
    assert (error["code"], error["param"]) == ("invalid_value", "type")


def test_session_update_on_a_transcription_session_is_refused() -> None:
    h = Harness(None, intent="transcription")
    assert error_of(h.update(voice="ash"))["param"] == "type"


# -- transcription_session.update ---------------------------------------------------------------


def test_transcription_session_updated_has_no_secret_or_response_flags() -> None:  # checklist 52
    h = Harness(None, intent="transcription")
    events = h.send(
        {
            "type": "transcription_session.update",
            "session": {
                "input_audio_transcription": {
                    "model": "gpt-4o-transcribe",
                    "language": "en",
                    "prompt": "",
                },
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 500,
                    "create_response": True,
                },
                "input_audio_noise_reduction": {"type": "far_field"},
                "include": ["item.input_audio_transcription.logprobs"],
            },
        }
    )
    assert types(events) == ["transcription_session.updated"]
    session = events[0]["session"]
    assert "client_secret" not in session
    assert "create_response" not in session["turn_detection"]
    assert "interrupt_response" not in session["turn_detection"]
    assert session["turn_detection"]["silence_duration_ms"] == 500
    assert session["input_audio_transcription"] == {
        "model": "gpt-4o-transcribe",
        "language": "en",
        "prompt": "",
    }
    assert session["input_audio_noise_reduction"] == {"type": "far_field"}
    assert session["include"] == ["item.input_audio_transcription.logprobs"]


def test_transcription_include_accepts_only_logprobs() -> None:
    h = Harness(None, intent="transcription")
    error = error_of(
        h.send({"type": "transcription_session.update", "session": {"include": ["x"]}})
    )
    assert (error["code"], error["param"]) == ("invalid_value", "session.include[0]")


def test_transcription_session_refuses_server_owned_fields() -> None:
    h = Harness(None, intent="transcription")
    error = error_of(h.send({"type": "transcription_session.update", "session": {"voice": "ash"}}))
    assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")


# -- expiry -------------------------------------------------------------------------------------


def test_session_limit_sends_session_expired_then_close() -> None:  # checklist 53
    h = Harness(session_seconds=60)
    assert h.state.next_deadline() == pytest.approx(h.now + 60)
    assert h.advance(h.now + 59.9) == []
    events = h.advance(h.now + 0.1)
    error = error_of(events)
    assert error["code"] == "session_expired"
    assert error["message"] == "Your session hit the maximum duration of 1 minute."
    assert error["param"] is None
    assert error["event_id"] is None
    assert h.state.close == (1001, "invalid_request_error.session_expired")
    assert h.send({"type": "input_audio_buffer.clear"}) == []


def test_default_limit_message_says_30_minutes() -> None:  # checklist 53
    h = Harness()
    assert error_of(h.advance(h.now + 1800))["message"] == (
        "Your session hit the maximum duration of 30 minutes."
    )


def test_expiry_is_noticed_by_a_client_event_too() -> None:  # checklist 53
    h = Harness(session_seconds=10)
    events = h.send({"type": "input_audio_buffer.clear"}, at=h.now + 11)
    assert error_of(events)["code"] == "session_expired"
    assert h.state.close is not None


def test_expiry_does_not_cut_short_events_due_before_it() -> None:  # checklist 53
    h = Harness(session_seconds=10)
    h.engine.pacing = {"first_delta_delay": 5.0}
    h.update(turn_detection=None)
    started = h.send({"type": "response.create"})
    assert types(started) == ["response.created"]
    events = h.advance(h.now + 20)
    assert types(events)[-3:] == ["response.done", "rate_limits.updated", "error"]


# -- ids ------------------------------------------------------------------------------------------


def test_ids_have_their_prefix_and_21_alphanumerics() -> None:  # checklist 54
    h = Harness(send_conversation_created=True)
    h.update(turn_detection=None)
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        }
    )
    h.send({"type": "response.create"})
    import re

    pattern = re.compile(r"^(sess|conv|item|resp|event)_[A-Za-z0-9]{21}$")
    for event in h.log:
        for key, value in _walk(event):
            if key in (
                "id",
                "event_id",
                "item_id",
                "response_id",
                "previous_item_id",
            ) and isinstance(value, str):
                assert pattern.match(value), (key, value)


def _walk(node: object, key: str = ""):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)
    else:
        yield key, node


def test_seeded_ids_are_reproducible() -> None:
    from trio_realtime.server._ids import IdFactory

    assert [IdFactory(7).new("item") for _ in range(2)] == [IdFactory(7).new("item")] * 2
    a = IdFactory(7)
    assert a.new("x") != a.new("x")


def test_statistics_count_what_happened() -> None:
    h = Harness()
    h.update(turn_detection=None)
    h.send("not json")
    h.append(b"\x00" * 4800)
    stats = h.state.statistics()
    assert stats.events_received == 3
    assert stats.errors_sent == 1
    assert stats.audio_bytes_appended == 4800
    assert stats.buffered_audio_bytes == 4800
    assert stats.events_sent == len(h.log)


def test_default_options_are_the_documented_ones() -> None:
    options = ServerOptions()
    assert options.session_seconds == 1800
    assert options.max_append_audio_bytes == 15 * 1024 * 1024
    assert not options.send_conversation_created
    assert options.allowed_models == DEFAULT_MODELS
    with pytest.raises(ValueError, match="session_seconds"):
        ServerOptions(session_seconds=0)
    engine: Any = None  # opening asks nothing of the engine
    state = ConnectionState(intent=None, model="gpt-realtime", now=0.0, engine=engine)
    assert types_of(state.open()) == ["session.created"]


def types_of(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.type for e in events]
