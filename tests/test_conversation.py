"""Unit tests of ``Conversation``: one rule each, fed hand-written server sequences.

Section numbers refer to the protocol's server-behaviour.md; the sequences follow it event for
event. Property tests over random sessions are in ``test_conversation_properties.py``.
"""

from __future__ import annotations

import gc
import math
from typing import Any

import pytest
from test_conversation_factories import (
    At,
    assistant_item,
    committed,
    function_call_item,
    function_output_item,
    item_created,
    item_deleted,
    item_truncated,
    output_item_added,
    output_item_done,
    rate_limits,
    response_created,
    response_done,
    session_created,
    speech_started,
    speech_stopped,
    text_message,
    transcript_completed,
    transcript_delta,
    transcript_failed,
    usage,
    user_audio_item,
)

from trio_realtime import AudioFormatError, decode
from trio_realtime._core._conversation import Conversation
from trio_realtime._core._events import (
    SERVER_EVENTS,
    ContentPart,
    ConversationItem,
    ConversationItemRetrieved,
    ErrorDetails,
    ErrorEvent,
    InputAudioBufferCleared,
    ResponseAudioDelta,
    ResponseCancel,
    ResponseDone,
    UnknownEvent,
    encode_audio,
)

PCM = bytes(range(256)) * 4  # 1024 bytes: 21.33 ms of pcm16, 128 ms of G.711


def feed(conversation: Conversation, *events: object) -> Conversation:
    for event in events:
        conversation.apply(event)  # type: ignore[arg-type]
    return conversation


def audio_turn(c: Conversation, *, user: str = "item_u", assistant: str = "item_a", rid: str = "resp_1", previous: str | None = None, chunks: tuple[bytes, ...] = (PCM[:480], PCM[480:960]), words: tuple[str, ...] = ("Hel", "lo!"), complete: bool = True) -> At:  # fmt: skip
    """Feed one server-VAD turn of 5.2 (the reply stops before its done events if not complete)."""
    at = At(rid, assistant)
    feed(
        c,
        speech_started(user, 1000),
        speech_stopped(user, 2500),
        committed(user, previous),
        item_created(user_audio_item(user), previous),
        response_created(rid),
        output_item_added(rid, 0, assistant_item(assistant)),
        item_created(assistant_item(assistant), user),
        at.part_added("audio"),
    )
    for i in range(max(len(chunks), len(words))):
        if i < len(words):
            c.apply(at.transcript(words[i]))
        if i < len(chunks):
            c.apply(at.audio(chunks[i]))
    if complete:
        text = "".join(words)
        done_item = assistant_item(
            assistant, "completed", [ContentPart(type="audio", transcript=text)]
        )
        feed(
            c,
            at.audio_done(),
            at.transcript_done(text),
            at.part_done("audio", text),
            output_item_done(rid, 0, done_item),
            response_done(rid, output=[done_item], usage=usage(10, 20, 5, 50, 4)),
            rate_limits(),
        )
    return at


# --- whole sequences ---------------------------------------------------------------------------


def test_an_audio_turn_builds_the_user_and_assistant_items_in_order() -> None:
    c = feed(Conversation(), session_created())
    audio_turn(c, complete=False)
    assert c.active_response is not None
    assert c.active_response.id == "resp_1"
    assert c.last_committed_item_id == "item_u"
    assert not c.user_speaking
    assert c.item("item_a").transcript == "Hello!"  # deltas readable before .done
    text = "Hello!"
    done_item = assistant_item("item_a", "completed", [ContentPart(type="audio", transcript=text)])
    at = At("resp_1", "item_a")
    feed(
        c,
        at.audio_done(),
        at.transcript_done(text),
        at.part_done("audio", text),
        output_item_done("resp_1", 0, done_item),
        response_done("resp_1", output=[done_item], usage=usage(10, 20, 5, 50)),
    )
    user, assistant = c.items
    assert (user.id, user.role, user.type, user.status) == (
        "item_u",
        "user",
        "message",
        "completed",
    )
    assert user.input_transcript is None
    assert user.response_id is None
    assert (assistant.role, assistant.status, assistant.response_id) == (
        "assistant",
        "completed",
        "resp_1",
    )
    assert assistant.transcript == "Hello!"
    assert assistant.audio == PCM[:960]
    assert assistant.audio_received_ms == assistant.audio_ms == 20.0
    assert assistant.audio_format == "pcm16"
    assert assistant.done
    assert c.active_response is None
    r = c.response("resp_1")
    assert (r.status, r.done, r.out_of_band, r.output_item_ids) == (
        "completed",
        True,
        False,
        ("item_a",),
    )
    assert c.usage_totals.total_tokens == 85
    assert c.anomalies == ()


def test_speech_events_track_who_is_speaking() -> None:
    c = feed(Conversation(), speech_started("item_u", 300))
    assert (c.user_speaking, c.speech_item_id, c.speech_started_ms) == (True, "item_u", 300)
    c.apply(speech_stopped("item_u", 900))
    assert (c.user_speaking, c.speech_stopped_ms) == (False, 900)
    feed(c, speech_started("item_v", 1000), InputAudioBufferCleared(event_id="event_1"))
    assert not c.user_speaking


def test_a_text_response_assembles_text_and_the_done_value_replaces_it() -> None:
    c = Conversation()
    at = At("resp_t", "item_t")
    feed(
        c,
        response_created("resp_t"),
        output_item_added("resp_t", 0, assistant_item("item_t")),
        item_created(assistant_item("item_t"), None),
        at.part_added("text"),
        at.text("The "),
        at.text("answer"),
    )
    assert c.item("item_t").text == "The answer"
    feed(
        c,
        at.text(" is 42"),
        at.text_done("The answer is 42"),
        at.part_done("text", "The answer is 42"),
    )
    item = c.item("item_t")
    assert (item.text, item.transcript, item.audio) == ("The answer is 42", None, b"")
    assert item.parts[0].type == "text"
    assert item.parts[0].done
    assert c.anomalies == ()


def test_a_done_value_that_differs_from_the_deltas_wins_and_is_reported() -> None:
    c = Conversation()
    at = At("resp_t", "item_t")
    feed(
        c,
        response_created("resp_t"),
        output_item_added("resp_t", 0, assistant_item("item_t")),
        at.part_added("text"),
        at.text("draft"),
        at.text_done("final"),
    )
    assert c.item("item_t").text == "final"
    assert [a.reason for a in c.anomalies] == ["done_mismatch"]


def test_the_part_and_item_done_values_fill_in_when_a_done_event_is_missing() -> None:
    c = Conversation()
    at = At("resp_1", "item_a")
    feed(
        c,
        response_created("resp_1"),
        output_item_added("resp_1", 0, assistant_item("item_a")),
        at.part_added("audio"),
        at.transcript("Hel"),
        at.part_done("audio", "Hello"),  # no audio_transcript.done, and a different value
    )
    assert c.item("item_a").transcript == "Hello"
    assert [a.reason for a in c.anomalies] == ["done_mismatch"]
    final = assistant_item("item_a", "completed", [ContentPart(type="audio", transcript="Hello")])
    c.apply(output_item_done("resp_1", 0, final))
    assert (c.item("item_a").status, c.item("item_a").transcript) == ("completed", "Hello")
    assert len(c.anomalies) == 1


def test_a_function_call_assembles_arguments_and_keeps_the_name_from_output_item_added() -> None:
    c = Conversation()
    at = At("resp_f", "item_f")
    feed(
        c,
        response_created("resp_f"),
        output_item_added("resp_f", 0, function_call_item("item_f", "call_1", "get_weather")),
        item_created(function_call_item("item_f", "call_1", "get_weather"), None),
        at.arguments("call_1", '{"city": '),
        at.arguments("call_1", '"Oslo"}'),
    )
    assert c.item("item_f").arguments == '{"city": "Oslo"}'
    feed(c, at.arguments_done("call_1", '{"city": "Oslo"}'))  # beta .done has no name
    done = function_call_item("item_f", "call_1", "get_weather", '{"city": "Oslo"}', "completed")
    feed(c, output_item_done("resp_f", 0, done), response_done("resp_f", output=[done]))
    feed(c, item_created(function_output_item("item_o", "call_1", '{"temp": 3}'), "item_f"))
    call, output = c.items
    assert (call.type, call.name, call.call_id, call.parts) == (
        "function_call",
        "get_weather",
        "call_1",
        (),
    )
    assert (output.type, output.call_id, output.output) == (
        "function_call_output",
        "call_1",
        '{"temp": 3}',
    )
    assert c.anomalies == ()


def test_an_out_of_band_response_keeps_its_items_out_of_the_conversation() -> None:
    c = Conversation()
    audio_turn(c, complete=False)  # a default response is running
    at = At("resp_o", "item_o")
    feed(
        c,
        response_created("resp_o", oob=True, metadata={"topic": "summary"}),
        output_item_added("resp_o", 0, assistant_item("item_o")),
        at.part_added("text"),
        at.text("A summary."),
        at.text_done("A summary."),
        response_done("resp_o", oob=True, usage=usage(1, 0, 3, 0), metadata={"topic": "summary"}),
    )
    assert c.active_response is not None
    assert c.active_response.id == "resp_1"  # out-of-band responses never count
    assert c.item_ids == ("item_u", "item_a")
    oob = c.response("resp_o")
    assert (oob.out_of_band, oob.conversation_id, oob.metadata) == (
        True,
        None,
        {"topic": "summary"},
    )
    (item,) = oob.output
    assert (item.id, item.text, item.in_conversation) == ("item_o", "A summary.", False)
    assert c.item("item_o") is item
    assert c.anomalies == ()


def test_usage_totals_sum_every_response_and_a_repeated_done_is_not_counted_twice() -> None:
    c = Conversation()
    feed(
        c,
        response_created("resp_1"),
        response_done("resp_1", usage=usage(100, 20, 30, 40, cached=50)),
        response_created("resp_2", oob=True),
        response_done("resp_2", oob=True, usage=usage(1, 2, 3, 4)),
        response_created("resp_3"),
        response_done("resp_3", status="failed", usage=None),
    )
    totals = c.usage_totals
    assert (totals.responses, totals.input_tokens, totals.output_tokens, totals.total_tokens) == (
        2,
        123,
        77,
        200,
    )
    assert (totals.input_text_tokens, totals.input_audio_tokens, totals.input_cached_tokens) == (
        101,
        22,
        50,
    )
    assert (totals.output_text_tokens, totals.output_audio_tokens) == (33, 44)
    c.apply(response_done("resp_2", oob=True, usage=usage(1, 2, 3, 4)))
    assert c.usage_totals == totals
    assert c.response("resp_3").status == "failed"


# --- input transcripts (5.10) ------------------------------------------------------------------


def test_an_input_transcript_arriving_after_the_reply_lands_on_the_user_item() -> None:
    c = Conversation()
    audio_turn(c)
    feed(c, transcript_delta("item_u", "What's "))
    assert c.item("item_u").input_transcript == "What's "
    assert c.item("item_u").input_transcription_status == "in_progress"
    feed(c, transcript_delta("item_u", "up?"), transcript_completed("item_u", "What's up?"))
    user = c.item("item_u")
    assert (user.input_transcript, user.input_transcription_status) == ("What's up?", "completed")
    assert user.parts[0].transcription_usage is not None
    assert c.item("item_a").transcript == "Hello!"  # never attributed by arrival order
    assert c.anomalies == ()


def test_an_input_transcript_before_its_item_is_buffered_until_the_item_is_created() -> None:
    c = Conversation()
    feed(
        c,
        speech_started("item_u"),
        transcript_delta("item_u", "Hi "),
        transcript_delta("item_u", "there"),
        transcript_completed("item_u", "Hi there"),
    )
    assert c.statistics().pending_transcripts == 1
    feed(c, committed("item_u", None), item_created(user_audio_item("item_u"), None))
    assert c.item("item_u").input_transcript == "Hi there"
    assert c.statistics().pending_transcripts == 0
    assert c.anomalies == ()


def test_early_transcripts_are_bounded() -> None:
    c = Conversation()
    for n in range(70):
        c.apply(transcript_delta(f"item_{n}", "x"))
    assert c.statistics().pending_transcripts == 64
    assert {a.reason for a in c.anomalies} == {"transcript_buffer_full"}


def test_a_failed_input_transcription_is_recorded() -> None:
    c = Conversation()
    audio_turn(c)
    c.apply(transcript_failed("item_u"))
    user = c.item("item_u")
    assert (user.input_transcript, user.input_transcription_status) == (None, "failed")
    assert user.parts[0].transcription_error is not None
    assert user.parts[0].transcription_error.code == "audio_unintelligible"


# --- item order (5.11) -------------------------------------------------------------------------


def test_items_go_after_their_previous_item_root_first_and_deletes_remove_them() -> None:
    c = Conversation()
    feed(
        c,
        item_created(text_message("item_1", "one"), None),
        item_created(text_message("item_3", "three"), "item_1"),
        item_created(text_message("item_2", "two"), "item_1"),  # inserted, not appended
        item_created(text_message("item_0", "zero", role="system"), None),  # root: first
    )
    assert c.item_ids == ("item_0", "item_1", "item_2", "item_3")
    assert [item.text for item in c.items] == ["zero", "one", "two", "three"]
    c.apply(item_deleted("item_2"))
    assert c.item_ids == ("item_0", "item_1", "item_3")
    assert c.item("item_2").deleted
    assert not c.item("item_2").in_conversation
    assert c.anomalies == ()


def test_an_item_with_an_unknown_previous_item_is_appended_and_reported() -> None:
    c = feed(Conversation(), item_created(text_message("item_1", "a"), None))
    c.apply(item_created(text_message("item_2", "b"), "item_gone"))
    assert c.item_ids == ("item_1", "item_2")
    assert [a.reason for a in c.anomalies] == ["unknown_previous_item"]


def test_a_retrieved_item_updates_the_item_and_keeps_user_audio_within_the_bound() -> None:
    c = feed(Conversation(keep_audio_seconds=0.01), item_created(user_audio_item("item_u"), None))
    part = ContentPart(type="input_audio", audio=encode_audio(PCM), transcript="hi")
    item = ConversationItem(id="item_u", type="message", role="user", content=[part])
    c.apply(ConversationItemRetrieved(event_id="event_r", item=item))
    user = c.item("item_u")
    assert user.input_transcript == "hi"
    assert user.audio == PCM[-480:]  # the last 10 ms
    assert user.audio_ms == len(PCM) / 48


# --- robustness --------------------------------------------------------------------------------


def test_events_for_unknown_items_and_responses_never_raise_and_are_counted() -> None:
    c = Conversation(max_anomalies=3)
    at = At("resp_x", "item_x")
    feed(
        c,
        at.audio(PCM),
        at.transcript("x"),
        at.text("x"),
        at.arguments("call_x", "{"),
        item_truncated("item_x", 10),
        item_deleted("item_x"),
        response_done("resp_x"),
        output_item_added("resp_y", 0, assistant_item("item_y")),
    )
    assert c.anomaly_count == 8
    assert len(c.anomalies) == 3  # bounded
    assert [a.reason for a in c.anomalies] == [
        "unknown_item",
        "unknown_response",
        "unknown_response",
    ]
    assert all(a.detail and a.event_type for a in c.anomalies)
    assert c.response("resp_x").done  # still recorded


def test_a_delta_for_an_unannounced_part_creates_it_and_is_reported() -> None:
    c = feed(Conversation(), output_item_added("resp_1", 0, assistant_item("item_a")))
    c.apply(At("resp_1", "item_a", 0, 1).text("hi"))
    assert [p.type for p in c.item("item_a").parts] == [None, "text"]
    assert c.item("item_a").text == "hi"
    assert "unknown_part" in {a.reason for a in c.anomalies}


def test_invalid_base64_audio_is_reported_not_raised() -> None:
    c = Conversation()
    audio_turn(c, chunks=(), complete=False)
    kw: dict[str, Any] = {
        "response_id": "resp_1",
        "item_id": "item_a",
        "output_index": 0,
        "content_index": 0,
    }
    c.apply(ResponseAudioDelta(event_id="e", delta="!!!", **kw))
    assert [a.reason for a in c.anomalies] == ["invalid_audio"]


def test_unknown_and_error_events_are_counted_and_otherwise_ignored() -> None:
    c = Conversation()
    error = ErrorDetails(
        type="invalid_request_error", message="no", code="response_cancel_not_active"
    )
    feed(
        c, UnknownEvent(raw={"type": "response.new_thing"}), ErrorEvent(event_id="e1", error=error)
    )
    stats = c.statistics()
    assert (stats.unknown_events, stats.errors, stats.anomalies) == (1, 1, 0)
    assert c.last_error == error


def test_every_server_event_type_has_a_rule() -> None:
    c = Conversation()
    missing = [t for t, cls in SERVER_EVENTS.items() if cls not in c._server_handlers]
    assert missing == []


def test_decoded_wire_json_is_accepted() -> None:
    c = Conversation()
    c.apply(decode('{"type":"conversation.item.created","event_id":"e","previous_item_id":null,"item":{"id":"item_1","type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}}'))  # type: ignore[arg-type]  # fmt: skip
    assert c.item("item_1").text == "hi"


def test_misused_feeding_raises_type_error() -> None:
    c = Conversation()
    with pytest.raises(TypeError, match="sent"):
        c.apply(ResponseCancel())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="apply"):
        c.sent(rate_limits())  # type: ignore[arg-type]
    c.sent(ResponseCancel())  # client events without a rule are fine


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"output_audio_format": "mp3"}, AudioFormatError),
        ({"input_audio_format": "opus"}, AudioFormatError),
        ({"keep_audio_seconds": -1}, ValueError),
        ({"keep_audio_seconds": math.nan}, ValueError),
        ({"max_anomalies": -1}, ValueError),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Conversation(**kwargs)  # type: ignore[arg-type]


def test_views_are_read_only_and_lookups_of_unknown_ids_raise_key_error() -> None:
    c = Conversation()
    audio_turn(c)
    item = c.item("item_a")
    with pytest.raises(AttributeError):
        item.transcript = "edited"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.items_by_id["x"] = item  # type: ignore[index]
    with pytest.raises(KeyError):
        c.item("item_missing")
    with pytest.raises(KeyError):
        c.response("resp_missing")
    assert c.items_by_id.get("item_missing") is None
    assert "item_a" in repr(item)
    assert "resp_1" in repr(c.response("resp_1"))
    assert "2 items" in repr(c)


def test_a_finished_response_keeps_its_wire_response_as_text_the_collector_does_not_scan() -> None:
    wire_done = decode(
        '{"type":"response.done","event_id":"e9","response":{"id":"resp_p","object":'
        '"realtime.response","status":"completed","status_details":null,"output":[{"id":'
        '"item_p","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}]'
        ',"future_field":[1,null]}],"conversation_id":"conv_1","modalities":["text"],'
        '"usage":{"total_tokens":3,"input_tokens":1,"output_tokens":2,"input_token_details":'
        '{"text_tokens":1,"audio_tokens":0,"cached_tokens":0},"output_token_details":'
        '{"text_tokens":2,"audio_tokens":0}},"new_response_field":{"nested":true}}}'
    )
    assert isinstance(wire_done, ResponseDone)
    c = feed(Conversation(), response_created("resp_p"), wire_done)
    view = c.response("resp_p")
    assert view.raw == wire_done.response  # unknown fields and the explicit null included
    assert view.raw is not wire_done.response  # unpacked again: nothing of it is held
    assert view.raw.extra == {"new_response_field": {"nested": True}}
    assert (view.status, view.status_details, view.conversation_id) == ("completed", None, "conv_1")
    assert view.modalities == ("text",)
    assert view.usage == wire_done.response.usage
    assert view.usage is not None
    assert view.usage.total_tokens == 3
    gc.collect()  # untracks tuples of plain numbers (the usage counted into the totals)
    held = [o for o in gc.get_referents(view) if not isinstance(o, type)]
    assert [o for o in held if gc.is_tracked(o)] == [view._output]  # the item views, no more
    assert [item.id for item in view.output] == ["item_p"]


def test_a_running_response_reports_no_usage_and_its_created_wire_response() -> None:
    created = response_created("resp_r", metadata={"topic": "t"})
    c = feed(Conversation(), created)
    view = c.response("resp_r")
    assert view.raw is created.response
    assert (view.usage, view.metadata, view.done) == (None, {"topic": "t"}, False)
