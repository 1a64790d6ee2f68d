"""The reference server's protocol core on a GA connection (no beta marker).

Every event the :class:`Harness` sees is the GA frame, strictly valid for the openai SDK's GA
types and the head snapshot's GA schemas, and never a beta-only name; client events are
written in GA shapes. What these tests pin down is what GA adds to the beta sequence
(``conversation.item.done``, the function's ``name``), what it leaves out (``temperature``),
and that refusals speak GA: its paths, its event types, its field names.
"""

from __future__ import annotations

from typing import Any

from server_helpers import FakeEngine, Harness, audio_reply, call_reply, only, types

from trio_realtime._core._dialects import GA
from trio_realtime.audio import silence, speech_like
from trio_realtime.server._engine_api import PlannedText

USER_TEXT: dict[str, Any] = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
}


def ga(**kwargs: Any) -> Harness:
    return Harness(dialect=GA, **kwargs)


def test_session_created_is_the_ga_session_without_beta_only_fields() -> None:
    (created,) = ga().opening
    session = created["session"]
    assert session["type"] == "realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["idle_timeout_ms"] is None
    assert session["audio"]["output"]["voice"] == "alloy"
    assert session["max_output_tokens"] == "inf"
    for beta_only in ("temperature", "modalities", "voice", "client_secret", "turn_detection"):
        assert beta_only not in session


def test_a_created_item_is_added_then_done() -> None:
    h = ga()
    added, done = h.send(USER_TEXT)
    assert (added["type"], done["type"]) == ("conversation.item.added", "conversation.item.done")
    assert added["item"] == done["item"]
    assert done["previous_item_id"] is None


def test_a_response_item_is_done_right_before_its_output_item_done() -> None:
    h = ga(engine=FakeEngine(outputs=(PlannedText(text="Hello"),)))
    h.send(USER_TEXT)
    events = h.send({"type": "response.create"}) + h.run_until_idle()
    seen = types(events)
    assert seen[:3] == ["response.created", "response.output_item.added", "conversation.item.added"]
    assert "response.output_text.delta" in seen
    done_at = seen.index("conversation.item.done")
    assert seen[done_at + 1] == "response.output_item.done"
    item = events[done_at]["item"]
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_text", "text": "Hello"}]
    assert events[seen.index("conversation.item.added")]["item"]["status"] == "in_progress"
    for response in (only(events, "response.created"), only(events, "response.done")):
        assert "temperature" not in response["response"]
        assert response["response"]["output_modalities"] == ["audio"]


def test_an_out_of_band_response_adds_no_item() -> None:
    h = ga()
    create = {"type": "response.create", "response": {"conversation": "none"}}
    events = h.send(create) + h.run_until_idle()
    assert not [t for t in types(events) if t.startswith("conversation.item.")]
    assert only(events, "response.done")["response"]["conversation_id"] is None


def test_function_call_arguments_done_names_the_function() -> None:
    h = ga(engine=FakeEngine(outputs=(call_reply(),)))
    h.send(USER_TEXT)
    events = h.send({"type": "response.create"}) + h.run_until_idle()
    done = only(events, "response.function_call_arguments.done")
    assert done["name"] == "get_weather"
    assert only(events, "conversation.item.done")["item"]["name"] == "get_weather"


def test_a_cancelled_audio_reply_closes_its_item_with_item_done() -> None:
    pacing = {"audio_realtime_factor": 1.0}
    h = ga(engine=FakeEngine(outputs=(audio_reply(ms=3000),), pacing=pacing))
    h.send(USER_TEXT)
    h.send({"type": "response.create"})
    events = h.advance(h.now + 0.5) + h.send({"type": "response.cancel"})
    seen = types(events)
    assert "response.output_audio.delta" in seen
    assert seen.index("conversation.item.done") + 1 == seen.index("response.output_item.done")
    assert only(events, "conversation.item.done")["item"]["status"] == "incomplete"
    assert only(events, "response.done")["response"]["status"] == "cancelled"


def test_a_server_vad_turn_adds_and_finishes_the_user_item() -> None:
    h = ga(engine=FakeEngine(outputs=(audio_reply(),)))
    events = h.append(silence(300) + speech_like(800) + silence(700)) + h.run_until_idle()
    seen = types(events)
    assert seen[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert "response.output_audio.delta" in seen
    assert "response.output_audio_transcript.done" in seen


def test_updates_use_the_nested_session_and_ga_realtime_sessions_have_include() -> None:
    h = ga()
    (updated,) = h.update(
        type="realtime",
        output_modalities=["text"],
        audio={
            "input": {
                "format": {"type": "audio/pcmu"},
                "turn_detection": None,
                "transcription": {"model": "whisper-1"},
            },
            "output": {"voice": "ash", "speed": 1.25},
        },
        include=["item.input_audio_transcription.logprobs"],
        max_output_tokens=100,
    )
    session = updated["session"]
    assert session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["output"]["voice"] == "ash"
    assert session["audio"]["output"]["speed"] == 1.25
    assert session["include"] == ["item.input_audio_transcription.logprobs"]
    assert session["max_output_tokens"] == 100


def refusal(h: Harness, event: dict[str, Any] | str) -> dict[str, Any]:
    (error,) = h.send(event)
    assert error["type"] == "error", error
    return error["error"]  # type: ignore[no-any-return]


def test_refusals_speak_ga() -> None:
    h = ga()
    error = refusal(h, {"type": "session.update", "session": {"type": "realtime", "voice": "x"}})
    assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")
    error = refusal(h, {"type": "session.update", "session": {"temperature": 0.8}})
    assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")
    td = {"type": "server_vad", "threshold": 7}
    update = {"type": "realtime", "audio": {"input": {"turn_detection": td}}}
    error = refusal(h, {"type": "session.update", "session": update, "event_id": "ev_1"})
    assert error["param"] == "session.audio.input.turn_detection.threshold"
    assert "session.audio.input.turn_detection.threshold" in error["message"]
    assert error["event_id"] == "ev_1"
    fmt = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/ogg"}}}}
    error = refusal(h, {"type": "session.update", "session": fmt})
    assert (error["code"], error["param"]) == ("invalid_value", "session.audio.input.format.type")
    assert "'audio/pcm'" in error["message"]
    error = refusal(h, {"type": "transcription_session.update", "session": {}})
    assert (error["code"], error["param"]) == ("invalid_value", "type")
    listed = error["message"].split("Supported values are: ")[1]
    assert "transcription_session.update" not in listed
    assert "session.update" in listed
    beta_item = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "x"}],
        },
    }
    error = refusal(h, beta_item)
    assert (error["code"], error["param"]) == ("invalid_value", "item.content[0].type")
    error = refusal(h, {"type": "response.create", "response": {"temperature": 0.8}})
    assert (error["code"], error["param"]) == ("unknown_parameter", "response.temperature")
    error = refusal(h, {"type": "session.update", "session": {"type": "transcription"}})
    assert error["param"] == "session.type"
    # None of the refused updates changed anything.
    (updated,) = h.update(type="realtime")
    assert updated["session"]["audio"]["input"]["turn_detection"]["threshold"] == 0.5


def test_a_transcription_session_is_configured_by_session_update_of_type_transcription() -> None:
    h = ga(model=None, intent="transcription")
    (created,) = h.opening
    assert created["type"] == "session.created"
    assert created["session"]["type"] == "transcription"
    assert "client_secret" not in created["session"]
    (updated,) = h.update(
        type="transcription",
        audio={"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
    )
    assert updated["type"] == "session.updated"
    assert updated["session"]["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
    events = h.append(speech_like(800) + silence(700)) + h.run_until_idle()
    seen = types(events)
    assert seen[2:5] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    completed = only(events, "conversation.item.input_audio_transcription.completed")
    assert completed["usage"]["type"] == "tokens"
    error = refusal(h, {"type": "session.update", "session": {"type": "realtime"}})
    assert (error["code"], error["param"]) == ("invalid_value", "session.type")
