"""The reference server's state machine: which responses run, cancellation and barge-in.

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* The engine is :class:`server_helpers.FakeEngine`: fixed outputs, optional pacing.
* Time is a number the test chooses; ``Harness.advance`` releases what fell due.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

from server_helpers import (
    TURN,
    FakeEngine,
    Harness,
    audio_reply,
    create_response,
    error_of,
    only,
    responding_harness,
    types,
)

from trio_realtime._core._audio import silence, tone


def test_a_second_create_while_one_runs_is_refused_naming_it() -> None:  # checklist 34
    h = responding_harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    rid = create_response(h)[0]["response"]["id"]
    error = error_of(h.send({"type": "response.create", "event_id": "r2"}))
    assert error["code"] == "conversation_already_has_active_response"
    assert error["message"] == (
        f"Conversation already has an active response in progress: {rid}. Wait until the "
        "response is finished before creating a new one."
    )
    assert error["event_id"] == "r2"
    done = only(h.advance(h.now + 5), "response.done")
    assert done["response"]["id"] == rid
    assert done["response"]["status"] == "completed"


def test_out_of_band_responses_run_alongside() -> None:  # checklist 34
    h = responding_harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create_response(h)
    assert types(create_response(h, conversation="none")) == ["response.created"]
    assert types(h.advance(h.now + 5)).count("response.done") == 2


def test_cancel_mid_response_closes_open_parts_and_ends_cancelled() -> None:  # checklist 35
    h = responding_harness(audio_reply(ms=2000))
    h.engine.pacing = {"audio_realtime_factor": 1.0, "text_chars_per_second": 10}
    create_response(h)
    h.advance(h.now + 0.5)
    events = h.send({"type": "response.cancel"})
    assert types(events) == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    done = events[4]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert h.advance(h.now + 10) == []


def test_cancel_with_nothing_running_is_response_cancel_not_active() -> None:  # checklist 35
    h = responding_harness()
    error = error_of(h.send({"type": "response.cancel", "event_id": "x"}))
    assert error["code"] == "response_cancel_not_active"
    assert error["message"] == "Cancellation failed: no active response found"
    create_response(h)
    assert error_of(h.send({"type": "response.cancel"}))["code"] == "response_cancel_not_active"


def test_cancel_naming_another_response_is_refused() -> None:  # checklist 35
    h = responding_harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create_response(h)
    error = error_of(h.send({"type": "response.cancel", "response_id": "resp_other"}))
    assert error["code"] == "response_cancel_not_active"


def test_cancel_racing_response_done_is_not_active() -> None:  # checklist 35
    h = responding_harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create_response(h)
    events = h.send({"type": "response.cancel"}, at=h.now + 2)
    assert types(events)[-3:] == ["response.done", "rate_limits.updated", "error"]


def test_cancel_by_id_stops_an_out_of_band_response() -> None:  # checklist 35
    h = responding_harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    rid = create_response(h, conversation="none")[0]["response"]["id"]
    assert error_of(h.send({"type": "response.cancel"}))["code"] == "response_cancel_not_active"
    done = only(h.send({"type": "response.cancel", "response_id": rid}), "response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["output"] == []


def test_new_speech_interrupts_the_response_with_turn_detected() -> None:  # checklist 36
    engine = FakeEngine(outputs=(audio_reply(ms=3000),), pacing={"audio_realtime_factor": 1.0})
    h = Harness(engine=engine)
    h.append(TURN)
    h.advance(h.now + 0.5)
    events = h.append(silence(200) + tone(300))
    assert types(events) == [
        "input_audio_buffer.speech_started",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    done = events[5]["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"


def test_without_interrupt_response_the_running_response_completes_first() -> None:  # checklist 36
    engine = FakeEngine(outputs=(audio_reply(ms=3000),), pacing={"audio_realtime_factor": 1.0})
    h = Harness(engine=engine)
    h.update(turn_detection={"type": "server_vad", "interrupt_response": False})
    first = only(h.append(TURN), "response.created")["response"]["id"]
    events = h.append(TURN)
    assert "response.done" not in types(events)
    assert "response.created" not in types(events)
    later = h.advance(h.now + 10)
    dones = [e["response"] for e in later if e["type"] == "response.done"]
    assert [d["id"] == first for d in dones] == [True, False]
    assert all(d["status"] == "completed" for d in dones)
    assert len(engine.requests) == 2
    assert [i.role for i in engine.requests[1].items] == ["user", "assistant", "user"]


def test_out_of_band_responses_are_not_interrupted() -> None:  # checklist 36
    engine = FakeEngine(outputs=(audio_reply(ms=3000),), pacing={"audio_realtime_factor": 1.0})
    h = Harness(engine=engine)
    h.update(turn_detection={"type": "server_vad", "create_response": False})
    create_response(h, conversation="none")
    events = h.append(TURN)
    assert "response.done" not in types(events)


def test_truncate_after_an_interrupted_response_measures_what_was_sent() -> None:
    engine = FakeEngine(outputs=(audio_reply(ms=3000),), pacing={"audio_realtime_factor": 1.0})
    h = Harness(engine=engine)
    h.append(TURN)
    h.advance(h.now + 0.55)
    events = h.append(silence(200) + tone(300))
    item_id = only(events, "response.output_item.done")["item"]["id"]
    error = error_of(
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 700,
            }
        )
    )
    assert error["message"] == "Audio content of 600ms is already shorter than 700ms"
    assert types(
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 600,
            }
        )
    ) == ["conversation.item.truncated"]
