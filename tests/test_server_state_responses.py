"""The reference server's state machine: responses, pacing, cancellation, usage.

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* The engine is :class:`server_helpers.FakeEngine`: fixed outputs, optional pacing.
* Time is a number the test chooses; ``Harness.advance`` releases what fell due.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from server_helpers import FakeEngine, Harness, audio_reply, call_reply, error_of, only, types

from trio_realtime._core._audio import silence, tone
from trio_realtime.server._engine_api import PlannedAudio, PlannedText

TURN = silence(1000) + tone(1000) + silence(1000)
AUDIO_SEQUENCE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
]


def harness(*outputs: Any, **options: Any) -> Harness:
    """A manual-turn session whose engine answers ``outputs`` (default: 500 ms of audio)."""
    engine = FakeEngine(outputs=outputs or (audio_reply(),))
    h = Harness(engine=engine, **options)
    h.update(turn_detection=None)
    return h


def create(h: Harness, **response: Any) -> list[dict[str, Any]]:
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    return h.send(event)


def between(events: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    names = types(events)
    return events[names.index(first) + 1 : names.index(last)]


# -- sequences ----------------------------------------------------------------------------------


def test_created_comes_first_and_done_last_with_one_response_id() -> None:  # checklist 26
    events = create(harness())
    created, done = events[0], only(events, "response.done")
    assert created["type"] == "response.created"
    assert created["response"]["status"] == "in_progress"
    assert created["response"]["output"] == []
    assert created["response"]["usage"] is None
    assert created["response"]["status_details"] is None
    assert types(events)[-2:] == ["response.done", "rate_limits.updated"]
    rid = created["response"]["id"]
    assert done["response"]["id"] == rid
    for event in between(events, "response.created", "response.done"):
        if event["type"] != "conversation.item.created":
            assert event["response_id"] == rid


def test_audio_reply_follows_the_documented_sequence() -> None:  # checklist 27
    events = create(harness())
    names = types(events)
    assert names[:4] == AUDIO_SEQUENCE
    middle = set(names[4 : names.index("response.audio.done")])
    assert middle == {"response.audio.delta", "response.audio_transcript.delta"}
    assert names[names.index("response.audio.done") :] == [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    for event in events:
        if "output_index" in event:
            assert event["output_index"] == 0
        if "content_index" in event:
            assert event["content_index"] == 0


def test_audio_and_transcript_deltas_interleave() -> None:  # checklist 27
    # 18 transcript characters in 3 chunks, 500 ms of audio in 5: merged in proportion.
    names = types(create(harness()))
    kinds = "".join(
        "T" if n == "response.audio_transcript.delta" else "A"
        for n in names
        if n.endswith(".delta")
    )
    assert kinds == "TAAATAAT"


def test_deltas_concatenate_to_their_done_values() -> None:  # checklist 28
    h = harness(audio_reply("A fairly long transcript, chunked."), PlannedText(text="x"))
    h.engine.outputs = (audio_reply("A fairly long transcript, chunked."),)
    events = create(h)
    transcript = "".join(
        e["delta"] for e in events if e["type"] == "response.audio_transcript.delta"
    )
    assert transcript == only(events, "response.audio_transcript.done")["transcript"]
    assert transcript == "A fairly long transcript, chunked."
    part = only(events, "response.content_part.done")["part"]
    assert part == {"type": "audio", "transcript": transcript}


def test_text_deltas_concatenate_to_text_done() -> None:  # checklist 28
    events = create(harness(PlannedText(text="The answer is forty-two.")), modalities=["text"])
    text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    assert text == only(events, "response.text.done")["text"] == "The answer is forty-two."


@pytest.mark.parametrize(("fmt", "width"), [("pcm16", 2), ("g711_ulaw", 1), ("g711_alaw", 1)])
def test_audio_deltas_are_whole_samples_of_the_output_format(
    fmt: str, width: int
) -> None:  # checklist 29
    pcm = bytes(range(256)) * 41 + b"\x01"  # 10497 bytes: not whole pcm16 samples
    h = harness(PlannedAudio(transcript="hi", audio=pcm))
    h.engine.pacing = {"audio_chunk_ms": 7}
    events = create(h, output_audio_format=fmt)
    deltas = [base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"]
    assert deltas
    assert all(len(d) % width == 0 for d in deltas)
    assert len(deltas[0]) == 7 * (48 if fmt == "pcm16" else 8)
    assert b"".join(deltas) == pcm[: len(pcm) - len(pcm) % width]
    assert events[0]["response"]["output_audio_format"] == fmt


def test_response_done_lists_every_item_without_audio_bytes() -> None:  # checklist 30
    h = harness(audio_reply(), call_reply())
    events = create(h)
    done_items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    output = only(events, "response.done")["response"]["output"]
    assert output == done_items
    assert len(output) == 2
    assert output[0]["content"] == [{"type": "audio", "transcript": "Sure, here you go."}]


def test_default_conversation_items_get_item_created() -> None:  # checklist 31
    events = create(harness())
    created = only(events, "conversation.item.created")
    assert created["item"]["id"] == only(events, "response.output_item.added")["item"]["id"]
    assert created["previous_item_id"] is None
    assert events[0]["response"]["conversation_id"].startswith("conv_")


def test_out_of_band_items_get_no_item_created_and_null_conversation() -> None:  # checklist 31
    h = harness()
    events = create(h, conversation="none", metadata={"topic": "x"})
    assert "conversation.item.created" not in types(events)
    assert events[0]["response"]["conversation_id"] is None
    assert only(events, "response.done")["response"]["conversation_id"] is None
    item_id = only(events, "response.output_item.added")["item"]["id"]
    assert error_of(h.send({"type": "conversation.item.retrieve", "item_id": item_id}))


def test_metadata_is_echoed_in_created_and_done() -> None:  # checklist 32
    metadata = {"client_event_id": "abc", "k": "v"}
    events = create(harness(), metadata=metadata)
    assert events[0]["response"]["metadata"] == metadata
    assert only(events, "response.done")["response"]["metadata"] == metadata
    assert create(harness())[0]["response"]["metadata"] is None


def test_text_modality_yields_text_events_and_no_audio() -> None:  # checklist 33
    events = create(harness(), modalities=["text"])
    names = types(events)
    assert not [n for n in names if n.startswith("response.audio")]
    assert "response.text.delta" in names
    assert only(events, "response.content_part.added")["part"] == {"type": "text", "text": ""}
    assert events[0]["response"]["modalities"] == ["text"]


def test_empty_input_ignores_the_history() -> None:  # checklist 33
    h = harness()
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
    create(h, input=[])
    create(h, conversation="none")
    assert h.engine.requests[0].items == ()
    assert len(h.engine.requests[1].items) == 2  # the user item and the first reply


def test_input_resolves_item_references() -> None:  # checklist 33
    h = harness()
    item_id = h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "ctx"}],
            },
        }
    )[0]["item"]["id"]
    create(
        h,
        conversation="none",
        input=[
            {"type": "item_reference", "id": item_id},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        ],
    )
    items = h.engine.requests[0].items
    assert [i.role for i in items] == ["system", "user"]
    assert items[0].id == item_id
    error = error_of(create(h, input=[{"type": "item_reference", "id": "item_nope"}]))
    assert (error["code"], error["param"]) == ("invalid_value", "response.input[0].id")


def test_a_second_create_while_one_runs_is_refused_naming_it() -> None:  # checklist 34
    h = harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    rid = create(h)[0]["response"]["id"]
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
    h = harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create(h)
    assert types(create(h, conversation="none")) == ["response.created"]
    assert types(h.advance(h.now + 5)).count("response.done") == 2


def test_cancel_mid_response_closes_open_parts_and_ends_cancelled() -> None:  # checklist 35
    h = harness(audio_reply(ms=2000))
    h.engine.pacing = {"audio_realtime_factor": 1.0, "text_chars_per_second": 10}
    create(h)
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
    h = harness()
    error = error_of(h.send({"type": "response.cancel", "event_id": "x"}))
    assert error["code"] == "response_cancel_not_active"
    assert error["message"] == "Cancellation failed: no active response found"
    create(h)
    assert error_of(h.send({"type": "response.cancel"}))["code"] == "response_cancel_not_active"


def test_cancel_naming_another_response_is_refused() -> None:  # checklist 35
    h = harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create(h)
    error = error_of(h.send({"type": "response.cancel", "response_id": "resp_other"}))
    assert error["code"] == "response_cancel_not_active"


def test_cancel_racing_response_done_is_not_active() -> None:  # checklist 35
    h = harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create(h)
    events = h.send({"type": "response.cancel"}, at=h.now + 2)
    assert types(events)[-3:] == ["response.done", "rate_limits.updated", "error"]


def test_cancel_by_id_stops_an_out_of_band_response() -> None:  # checklist 35
    h = harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    rid = create(h, conversation="none")[0]["response"]["id"]
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
    create(h, conversation="none")
    events = h.append(TURN)
    assert "response.done" not in types(events)


def test_function_call_sequence_has_no_content_parts() -> None:  # checklist 37
    events = create(harness(call_reply(arguments='{"city": "Paris", "unit": "C"}')))
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        *["response.function_call_arguments.delta"] * 4,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    added = events[1]["item"]
    assert added["type"] == "function_call"
    assert added["arguments"] == ""
    assert added["call_id"].startswith("call_")
    assert added["name"] == "get_weather"
    args_done = only(events, "response.function_call_arguments.done")
    assert args_done["arguments"] == '{"city": "Paris", "unit": "C"}'
    assert args_done["call_id"] == added["call_id"]
    assert "name" not in args_done
    deltas = "".join(e["delta"] for e in events if e["type"].endswith("arguments.delta"))
    assert deltas == args_done["arguments"]


def test_a_message_then_a_call_counts_output_indices() -> None:  # checklist 27
    events = create(harness(PlannedText(text="Let me check."), call_reply()), modalities=["text"])
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == [0, 1]


def test_one_rate_limits_update_per_response_after_done() -> None:  # checklist 39
    h = harness()
    events = create(h)
    assert types(events).count("rate_limits.updated") == 1
    limits = {r["name"]: r for r in events[-1]["rate_limits"]}
    assert set(limits) == {"requests", "tokens"}
    assert limits["requests"]["remaining"] == limits["requests"]["limit"] - 1
    assert isinstance(limits["tokens"]["reset_seconds"], float)
    usage = only(events, "response.done")["response"]["usage"]
    assert limits["tokens"]["remaining"] == limits["tokens"]["limit"] - usage["total_tokens"]


def check_usage(usage: dict[str, Any]) -> None:
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    details_in, details_out = usage["input_token_details"], usage["output_token_details"]
    assert usage["input_tokens"] == details_in["text_tokens"] + details_in["audio_tokens"]
    assert usage["output_tokens"] == details_out["text_tokens"] + details_out["audio_tokens"]
    assert 0 <= details_in["cached_tokens"] <= usage["input_tokens"]


def test_usage_obeys_the_invariants_and_the_documented_estimate() -> None:  # checklist 40
    h = harness(audio_reply("Sure, here you go.", ms=500))
    h.update(instructions="Be brief.")  # 9 chars: 3 tokens
    usage = only(create(h), "response.done")["response"]["usage"]
    check_usage(usage)
    assert usage["input_tokens"] == 3
    assert usage["output_token_details"] == {"text_tokens": 5, "audio_tokens": 10}


def test_input_tokens_grow_turn_by_turn() -> None:  # checklist 40
    h = harness()
    totals = []
    for _ in range(3):
        h.append(tone(500))
        h.send({"type": "input_audio_buffer.commit"})
        usage = only(create(h), "response.done")["response"]["usage"]
        check_usage(usage)
        totals.append(usage["input_tokens"])
    assert totals[0] < totals[1] < totals[2]


def test_cancelled_responses_report_the_usage_of_what_was_sent() -> None:  # checklist 40
    h = harness(audio_reply(ms=2000))
    h.engine.pacing = {"audio_realtime_factor": 1.0}
    create(h)
    h.advance(h.now + 0.55)
    usage = only(h.send({"type": "response.cancel"}), "response.done")["response"]["usage"]
    check_usage(usage)
    assert usage["output_token_details"]["audio_tokens"] == 12  # 600 ms sent: 6 chunks


def test_max_output_tokens_ends_incomplete_with_the_output_cut() -> None:  # checklist 41
    h = harness(PlannedText(text="x" * 100), call_reply())
    events = create(h, modalities=["text"], max_response_output_tokens=10)
    done = only(events, "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert only(events, "response.text.done")["text"] == "x" * 40
    assert [item["status"] for item in done["output"]] == ["incomplete"]
    assert done["usage"]["output_tokens"] == 10
    assert done["max_output_tokens"] == 10


def test_max_output_tokens_cuts_audio_and_transcript_in_proportion() -> None:  # checklist 41
    h = harness(audio_reply("y" * 40, ms=1000))  # 10 text + 20 audio tokens
    events = create(h, max_response_output_tokens=15)
    done = only(events, "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["usage"]["output_tokens"] <= 15
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
    )
    assert len(audio) == 500 * 48
    assert only(events, "response.audio_transcript.done")["transcript"] == "y" * 20


def test_a_response_within_its_limit_completes() -> None:  # checklist 41
    h = harness(PlannedText(text="x" * 40))
    done = only(create(h, modalities=["text"], max_response_output_tokens=10), "response.done")
    assert done["response"]["status"] == "completed"


def test_output_audio_buffer_clear_is_refused_on_a_websocket() -> None:  # checklist 47
    h = harness()
    error = error_of(h.send({"type": "output_audio_buffer.clear", "event_id": "o1"}))
    assert error["type"] == "invalid_request_error"
    assert error["event_id"] == "o1"
    create(h)
    assert not [e for e in h.log if e["type"].startswith("output_audio_buffer.")]


# -- settings -----------------------------------------------------------------------------------


def test_settings_are_taken_from_the_config_at_response_start() -> None:
    h = harness()
    h.update(
        voice="verse",
        output_audio_format="g711_ulaw",
        temperature=1.1,
        max_response_output_tokens=200,
    )
    response = create(h)[0]["response"]
    assert (response["voice"], response["output_audio_format"]) == ("verse", "g711_ulaw")
    assert (response["temperature"], response["max_output_tokens"]) == (1.1, 200)
    request = h.engine.requests[0]
    assert (request.voice, request.output_audio_format, request.max_output_tokens) == (
        "verse",
        "g711_ulaw",
        200,
    )


def test_per_response_overrides_apply_to_that_response_only() -> None:
    h = harness()
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    response = create(
        h,
        instructions="Say hi.",
        voice="ash",
        tools=[tool],
        tool_choice="required",
        temperature=0.7,
    )[0]["response"]
    assert response["voice"] == "ash"
    assert response["temperature"] == 0.7
    request = h.engine.requests[0]
    assert request.instructions == "Say hi."
    assert request.tool_choice == "required"
    assert [t.name for t in request.tools] == ["f"]
    assert create(h)[0]["response"]["voice"] == "alloy"


def test_max_output_tokens_in_a_request_is_an_unknown_parameter() -> None:
    error = error_of(create(harness(), max_output_tokens=100))
    assert (error["code"], error["param"]) == ("unknown_parameter", "response.max_output_tokens")


@pytest.mark.parametrize(
    ("response", "param"),
    [
        ({"conversation": "conv_1"}, "response.conversation"),
        ({"modalities": ["audio"]}, "response.modalities"),
        ({"temperature": 2.0}, "response.temperature"),
        ({"voice": "robot"}, "response.voice"),
        ({"max_response_output_tokens": 5000}, "response.max_response_output_tokens"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "response.metadata"),
        ({"tool_choice": "nothing"}, "response.tool_choice"),
    ],
)
def test_invalid_overrides_are_refused(response: dict[str, Any], param: str) -> None:
    h = harness()
    error = error_of(create(h, **response))
    assert (error["code"], error["param"]) == ("invalid_value", param)
    assert h.engine.requests == []


def test_long_metadata_values_are_refused() -> None:
    error = error_of(create(harness(), metadata={"k": "v" * 513}))
    assert (error["code"], error["param"]) == ("string_above_max_length", "response.metadata.k")


def test_voice_is_frozen_once_assistant_audio_exists() -> None:  # checklist 15
    h = harness()
    assert h.update(voice="ash")[0]["session"]["voice"] == "ash"  # free before any audio
    create(h)
    error = error_of(
        h.send({"type": "session.update", "event_id": "v1", "session": {"voice": "coral"}})
    )
    assert error["code"] == "cannot_update_voice"
    assert error["message"] == "Cannot update a conversation's voice if assistant audio is present."
    assert error["param"] is None
    assert error["event_id"] == "v1"
    assert h.update()[0]["session"]["voice"] == "ash"
    assert types(h.update(voice="ash")) == ["session.updated"]  # re-sending it is fine
    assert error_of(create(h, voice="coral"))["code"] == "cannot_update_voice"


def test_a_failing_engine_fails_the_response_not_the_session() -> None:
    def boom(request: Any) -> Any:
        raise RuntimeError("no model today")

    h = harness()
    h.engine.outputs = boom
    events = create(h)
    assert types(events) == ["response.created", "response.done", "rate_limits.updated"]
    done = events[1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "engine_error"
    assert h.state.close is None


# -- pacing -------------------------------------------------------------------------------------


def test_without_pacing_the_whole_response_comes_out_at_once() -> None:
    h = harness()
    events = create(h)
    assert types(events)[-1] == "rate_limits.updated"
    assert h.state.next_deadline() == h.state._expiry


def test_paced_audio_comes_out_at_real_time() -> None:
    h = harness(audio_reply(ms=1000))
    h.engine.pacing = {
        "first_delta_delay": 0.25,
        "audio_realtime_factor": 1.0,
        "text_chars_per_second": 1000,
    }
    start = h.now
    assert types(create(h)) == ["response.created"]
    assert h.state.next_deadline() == pytest.approx(start + 0.25)
    first = h.advance(start + 0.25)
    assert types(first)[:3] == [
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
    ]
    assert types(first).count("response.audio.delta") == 1
    halfway = h.advance(start + 0.25 + 0.45)
    assert types(halfway).count("response.audio.delta") == 4  # chunks at 100..400 ms
    rest = h.advance(start + 0.25 + 1.0)
    assert types(rest)[-2:] == ["response.done", "rate_limits.updated"]
    assert types(rest).count("response.audio.delta") == 5


def test_paced_text_follows_characters_per_second() -> None:
    h = harness(PlannedText(text="abcdefghijklmnop"))  # two 8-char chunks
    h.engine.pacing = {"text_chars_per_second": 8.0}
    start = h.now
    events = create(h, modalities=["text"])
    assert types(events).count("response.text.delta") == 1
    assert h.state.next_deadline() == pytest.approx(start + 1.0)
    assert types(h.advance(start + 1.0)) == ["response.text.delta"]
    assert types(h.advance(start + 2.0))[-2:] == ["response.done", "rate_limits.updated"]


def test_a_client_event_first_releases_what_fell_due() -> None:
    h = harness(PlannedText(text="abcdefghijklmnop"))
    h.engine.pacing = {"text_chars_per_second": 8.0}
    create(h, modalities=["text"])
    events = h.send({"type": "input_audio_buffer.clear"}, at=h.now + 1.5)
    assert types(events) == ["response.text.delta", "input_audio_buffer.cleared"]


def test_a_clock_that_steps_back_stands_still() -> None:
    h = harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create(h)
    assert h.advance(h.now - 50) == []
    assert "response.done" in types(h.advance(h.now + 51.0))


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
