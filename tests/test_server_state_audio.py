"""The reference server's state machine: malformed input, the input buffer, VAD turns.

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* Audio is generated (:mod:`trio_realtime._core._audio`), so VAD timings are exact: the energy
  detector of :mod:`trio_realtime._core._vad` turns 1 s silence + 1 s tone + 1 s silence into
  ``speech_started(700)`` and ``speech_stopped(2200)`` at the default settings.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

import base64

import pytest
from server_helpers import TURN, FakeEngine, Harness, error_of, only, types

from trio_realtime._core._audio import silence, speech_like, tone
from trio_realtime.server import SimulatedEngine

VAD_TURN_EVENTS = [
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.created",
]


def manual(**options: object) -> Harness:
    h = Harness(**options)  # type: ignore[arg-type]
    h.update(turn_detection=None)
    return h


# -- malformed frames ---------------------------------------------------------------------------


def test_binary_frame_is_invalid_event_and_the_session_stays_open() -> None:  # checklist 8
    h = Harness()
    error = error_of(h.binary(b"\x00\x01"))
    assert error["code"] == "invalid_event"
    assert error["message"] == "Expected a text WebSocket message; binary frames are not supported."
    assert h.state.close is None
    assert types(h.send({"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]


def test_non_json_text_is_invalid_json() -> None:  # checklist 8
    h = Harness()
    error = error_of(h.send("{not json"))
    assert error["code"] == "invalid_json"
    assert error["message"].startswith("Invalid event: failed to parse JSON value.")
    assert error["event_id"] is None
    assert h.state.close is None


def test_json_that_is_not_an_object_is_invalid_event() -> None:  # checklist 8
    assert error_of(Harness().send("[1, 2]"))["code"] == "invalid_event"


def test_json_without_type_is_invalid_event() -> None:  # checklist 8
    error = error_of(Harness().send({"event_id": "e7"}))
    assert (error["code"], error["message"]) == ("invalid_event", "The 'type' field is missing.")
    assert error["event_id"] == "e7"  # checklist 9


def test_a_type_that_is_not_a_string_is_invalid_type() -> None:  # checklist 8
    error = error_of(Harness().send({"type": 5}))
    assert (error["code"], error["param"]) == ("invalid_type", "type")


def test_unknown_type_is_invalid_value_listing_the_client_types() -> None:  # checklist 8
    h = Harness()
    error = error_of(h.send({"type": "session.destroy", "event_id": "e8"}))
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "e8")
    assert error["message"].startswith("Invalid value: 'session.destroy'. Supported values are: ")
    assert "'input_audio_buffer.append'" in error["message"]
    assert error["message"].endswith(".")
    assert h.state.close is None


def test_a_server_event_type_from_the_client_is_an_unknown_type() -> None:  # checklist 8
    error = error_of(Harness().send({"type": "response.done", "response": {}}))
    assert (error["code"], error["param"]) == ("invalid_value", "type")
    error = error_of(Harness().send({"type": "session.created"}))  # fields missing, too
    assert (error["code"], error["param"]) == ("invalid_value", "type")


def test_refused_event_ids_come_back_in_the_error() -> None:  # checklist 9
    h = manual()
    error = error_of(h.send({"type": "input_audio_buffer.commit", "event_id": "evt_42"}))
    assert error["event_id"] == "evt_42"


def test_a_non_string_event_id_is_invalid_type_with_no_event_id() -> None:  # checklist 9
    error = error_of(Harness().send({"type": "input_audio_buffer.clear", "event_id": 3}))
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_type", "event_id", None)


def test_event_id_survives_a_field_type_error() -> None:  # checklist 9
    h = Harness()
    error = error_of(h.send({"type": "conversation.item.delete", "event_id": "e9", "item_id": 4}))
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_type", "item_id", "e9")


# -- appends ------------------------------------------------------------------------------------


def test_appends_are_never_acknowledged() -> None:  # checklist 17
    h = manual()
    for _ in range(5):
        assert h.append(silence(100)) == []


def test_an_append_of_15_mib_of_decoded_audio_is_accepted() -> None:  # checklist 17
    h = manual()
    assert h.append(bytes(15 * 1024 * 1024)) == []
    assert h.state.statistics().buffered_audio_bytes == 15 * 1024 * 1024


def test_an_oversize_append_is_refused_and_the_session_stays_open() -> None:
    h = manual(max_append_audio_bytes=1000)
    error = error_of(h.append(bytes(1002), event_id="big"))
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "audio", "big")
    assert "1002" in error["message"]
    assert h.append(bytes(999)) == []
    assert h.state.statistics().buffered_audio_bytes == 999


@pytest.mark.parametrize("audio", ["not base64!", "AAA", "AA==AA==", "ÄÄÄÄ", "AAAA\n"])
def test_bad_base64_is_invalid_value_with_the_live_message(audio: str) -> None:
    h = manual()
    error = error_of(h.send({"type": "input_audio_buffer.append", "audio": audio}))
    assert (error["code"], error["param"]) == ("invalid_value", "audio")
    assert error["message"] == (
        "Invalid 'audio'. Expected base64-encoded audio bytes (mono PCM16 at 24kHz) "
        "but got an invalid value."
    )
    assert h.state.statistics().buffered_audio_bytes == 0


def test_appends_are_judged_by_the_config_in_force_when_they_arrive() -> None:
    h = Harness()
    assert types(h.append(TURN)) == [*VAD_TURN_EVENTS, *types(h.log[5:])]
    h = Harness()
    h.update(turn_detection=None)
    assert h.append(TURN) == []


# -- VAD turns ----------------------------------------------------------------------------------


def test_speech_then_silence_gives_the_turn_events_with_one_item_id() -> None:  # checklist 18
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    events = h.append(TURN)
    assert types(events) == VAD_TURN_EVENTS
    ids = {
        events[0]["item_id"],
        events[1]["item_id"],
        events[2]["item_id"],
        events[3]["item"]["id"],
    }
    assert len(ids) == 1


def test_vad_times_include_padding_and_trailing_silence() -> None:  # checklist 19
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    events = h.append(TURN)
    assert events[0]["audio_start_ms"] == 700
    assert events[1]["audio_end_ms"] == 2200


def test_vad_times_count_audio_since_the_session_began_across_commits() -> None:  # checklist 19
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    h.append(TURN)
    second = h.append(TURN)
    assert second[0]["audio_start_ms"] == 3700
    assert second[1]["audio_end_ms"] == 5200


def test_audio_start_is_not_before_the_buffer_start() -> None:  # checklist 19
    h = Harness()
    h.update(
        turn_detection={"type": "server_vad", "create_response": False, "prefix_padding_ms": 1000}
    )
    h.append(silence(500))
    h.send({"type": "input_audio_buffer.clear"})
    events = h.append(silence(200) + tone(500) + silence(500))
    assert events[0]["audio_start_ms"] == 500  # onset 700 - 1000 padding, floored at the clear


def test_a_clear_keeps_the_clock_running() -> None:  # checklist 19
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    h.append(silence(2000))
    h.send({"type": "input_audio_buffer.clear"})
    assert h.append(TURN)[0]["audio_start_ms"] == 2700


def test_vad_settings_are_honoured() -> None:  # checklist 19
    h = Harness()
    h.update(
        turn_detection={
            "type": "server_vad",
            "create_response": False,
            "prefix_padding_ms": 100,
            "silence_duration_ms": 500,
        }
    )
    events = h.append(TURN)
    assert (events[0]["audio_start_ms"], events[1]["audio_end_ms"]) == (900, 2500)
    quiet = Harness()
    quiet.update(turn_detection={"type": "server_vad", "threshold": 0.95, "create_response": False})
    assert quiet.append(TURN) == []  # a -9 dBFS tone is under a -4 dBFS threshold


def test_semantic_vad_waits_for_the_eagerness_silence() -> None:  # checklist 19
    h = Harness()
    h.update(turn_detection={"type": "semantic_vad", "eagerness": "high", "create_response": False})
    events = h.append(TURN)
    assert events[1]["audio_end_ms"] == 2300  # high: 300 ms of silence
    low = Harness()
    low.update(
        turn_detection={"type": "semantic_vad", "eagerness": "low", "create_response": False}
    )
    assert types(low.append(TURN)) == ["input_audio_buffer.speech_started"]
    assert types(low.append(silence(1000)))[0] == "input_audio_buffer.speech_stopped"


def test_vad_works_on_g711_input() -> None:  # checklist 19
    for fmt in ("g711_ulaw", "g711_alaw"):
        h = Harness()
        h.update(
            input_audio_format=fmt, turn_detection={"type": "server_vad", "create_response": False}
        )
        events = h.append(silence(1000, fmt) + tone(1000, fmt=fmt) + silence(1000, fmt))
        assert types(events) == VAD_TURN_EVENTS
        assert (events[0]["audio_start_ms"], events[1]["audio_end_ms"]) == (700, 2200)


def test_the_committed_turn_holds_the_audio_from_start_to_end() -> None:  # checklist 19
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    item_id = h.append(TURN)[0]["item_id"]
    retrieved = h.send({"type": "conversation.item.retrieve", "item_id": item_id})
    audio = base64.b64decode(retrieved[0]["item"]["content"][0]["audio"])
    assert audio == TURN[700 * 48 : 2200 * 48]


def test_committed_previous_item_id_is_null_then_the_last_item() -> None:  # checklist 20
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    first = only(h.append(TURN), "input_audio_buffer.committed")
    assert first["previous_item_id"] is None
    second = only(h.append(TURN), "input_audio_buffer.committed")
    assert second["previous_item_id"] == first["item_id"]


def test_the_user_item_is_a_completed_user_message_with_null_transcript() -> None:  # checklist 21
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    item = only(h.append(TURN), "conversation.item.created")["item"]
    assert item["object"] == "realtime.item"
    assert (item["type"], item["role"], item["status"]) == ("message", "user", "completed")
    assert item["content"] == [{"type": "input_audio", "transcript": None}]


def test_create_response_true_starts_a_response_after_the_commit() -> None:  # checklist 22
    events = Harness().append(TURN)
    assert types(events)[:5] == [*VAD_TURN_EVENTS, "response.created"]
    assert types(events)[-2:] == ["response.done", "rate_limits.updated"]


def test_create_response_false_starts_nothing() -> None:  # checklist 22
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    assert types(h.append(TURN)) == VAD_TURN_EVENTS


def test_turn_detection_null_gives_no_vad_events() -> None:  # checklist 13
    h = manual()
    assert h.append(TURN) == []


def test_switching_vad_back_on_resumes_on_the_session_clock() -> None:
    h = manual()
    h.append(silence(1000))
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    assert h.append(TURN)[0]["audio_start_ms"] == 1700


def test_a_clear_during_speech_forgets_it_without_speech_stopped() -> None:
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    assert types(h.append(silence(500) + tone(500))) == ["input_audio_buffer.speech_started"]
    assert types(h.send({"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    assert h.append(silence(1000)) == []


def test_a_manual_commit_during_speech_keeps_the_announced_item_id() -> None:
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    started = h.append(silence(500) + tone(500))[0]
    committed = h.send({"type": "input_audio_buffer.commit"})
    assert types(committed) == ["input_audio_buffer.committed", "conversation.item.created"]
    assert committed[0]["item_id"] == started["item_id"]
    assert h.append(silence(1000)) == []


def test_speech_like_audio_is_one_turn() -> None:
    h = Harness()
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    events = h.append(silence(500) + speech_like(2000) + silence(500))
    assert types(events) == VAD_TURN_EVENTS


def test_long_silence_with_vad_on_keeps_the_buffer_bounded() -> None:
    h = Harness(idle_buffer_ms=1000)
    for _ in range(50):
        h.append(silence(100))
    assert h.state.statistics().buffered_audio_bytes <= 2000 * 48
    events = h.append(TURN)
    assert events[0]["audio_start_ms"] == 5700  # the clock is untouched by the trimming


# -- manual commits and clears ------------------------------------------------------------------


def test_manual_commit_yields_only_committed_and_item_created() -> None:  # checklist 23
    h = manual()
    h.append(tone(300))
    events = h.send({"type": "input_audio_buffer.commit"})
    assert types(events) == ["input_audio_buffer.committed", "conversation.item.created"]
    assert events[0]["item_id"] == events[1]["item"]["id"]


def test_commit_under_100_ms_is_refused_and_keeps_the_buffer() -> None:  # checklist 24
    h = manual()
    h.append(silence(99.5))
    error = error_of(h.send({"type": "input_audio_buffer.commit", "event_id": "c1"}))
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["message"] == (
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
        "audio, but buffer only has 99.50ms of audio."
    )
    assert error["param"] is None
    assert error["event_id"] == "c1"
    h.append(silence(0.5))
    assert types(h.send({"type": "input_audio_buffer.commit"}))[0] == "input_audio_buffer.committed"


def test_commit_of_nothing_is_refused() -> None:  # checklist 24
    error = error_of(manual().send({"type": "input_audio_buffer.commit"}))
    assert error["message"].endswith("buffer only has 0.00ms of audio.")


def test_100_ms_of_g711_is_800_bytes() -> None:  # checklist 24
    h = manual()
    h.update(input_audio_format="g711_ulaw")
    h.append(silence(99, "g711_ulaw"))
    assert error_of(h.send({"type": "input_audio_buffer.commit"}))["message"].endswith(
        "99.00ms of audio."
    )
    h.append(silence(1, "g711_ulaw"))
    assert types(h.send({"type": "input_audio_buffer.commit"}))[0] == "input_audio_buffer.committed"


def test_clear_is_always_cleared_even_when_empty() -> None:  # checklist 25
    h = manual()
    assert types(h.send({"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    h.append(tone(500))
    assert types(h.send({"type": "input_audio_buffer.clear"})) == ["input_audio_buffer.cleared"]
    assert h.state.statistics().buffered_audio_bytes == 0


def test_a_format_change_converts_the_buffered_audio() -> None:
    h = manual()
    h.append(tone(200))
    h.update(input_audio_format="g711_alaw")
    assert h.state.statistics().buffered_audio_bytes == 200 * 8
    events = h.send({"type": "input_audio_buffer.commit"})
    retrieved = h.send({"type": "conversation.item.retrieve", "item_id": events[0]["item_id"]})
    assert len(base64.b64decode(retrieved[0]["item"]["content"][0]["audio"])) == 1600


def test_user_audio_is_not_kept_when_the_option_is_off() -> None:
    h = manual(keep_input_audio=False)
    h.append(tone(200))
    item_id = h.send({"type": "input_audio_buffer.commit"})[0]["item_id"]
    part = h.send({"type": "conversation.item.retrieve", "item_id": item_id})[0]["item"]["content"][
        0
    ]
    assert part == {"type": "input_audio", "transcript": None}


def test_an_odd_byte_append_waits_for_its_other_half() -> None:
    h = manual()
    h.append(tone(100)[:-1])
    h.append(tone(100)[-1:])
    assert types(h.send({"type": "input_audio_buffer.commit"}))[0] == "input_audio_buffer.committed"


def test_the_engine_hears_the_turn_it_answers() -> None:
    engine = FakeEngine()
    h = Harness(engine=engine)
    h.update(input_audio_transcription={"model": "gpt-4o-transcribe"})
    engine.transcription_delay = 5.0
    h.append(TURN)
    (request,) = engine.requests
    assert request.items[-1].content[0].transcript == "what is the weather"  # type: ignore[index]
    assert engine.transcriptions[0].audio == TURN[700 * 48 : 2200 * 48]


def test_the_engine_is_told_how_long_each_audio_item_is() -> None:
    engine = FakeEngine()
    h = Harness(engine=engine)
    h.append(TURN)  # a turn of 700 .. 2200 ms, no transcription
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    h.send({"type": "conversation.item.create", "item": item})
    h.send({"type": "response.create"})
    first, second = engine.requests
    assert first.audio_ms == (1500.0,)
    assert not isinstance(first.items[0].content[0].audio, str)  # type: ignore[index]
    assert second.audio_ms == (1500.0, 0.0, 0.0)  # the turn, the assistant reply, the text


def test_an_untranscribed_turn_is_answered_with_its_duration() -> None:
    h = Harness(engine=SimulatedEngine())
    events = h.append(TURN)
    done = [e for e in events if e["type"] == "response.done"]
    assert done[0]["response"]["output"][0]["content"][0]["transcript"] == (
        "I heard 1.5 seconds of audio."
    )
