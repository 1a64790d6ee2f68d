"""The reference server's state machine: what a response sends, in which order.

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
from server_helpers import (
    audio_reply,
    call_reply,
    create_response,
    error_of,
    only,
    responding_harness,
    types,
)

from trio_realtime.server._engine_api import PlannedAudio, PlannedText

AUDIO_SEQUENCE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.created",
    "response.content_part.added",
]


def between(events: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    names = types(events)
    return events[names.index(first) + 1 : names.index(last)]


def test_created_comes_first_and_done_last_with_one_response_id() -> None:  # checklist 26
    events = create_response(responding_harness())
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
    events = create_response(responding_harness())
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
    names = types(create_response(responding_harness()))
    kinds = "".join(
        "T" if n == "response.audio_transcript.delta" else "A"
        for n in names
        if n.endswith(".delta")
    )
    assert kinds == "TAAATAAT"


def test_deltas_concatenate_to_their_done_values() -> None:  # checklist 28
    h = responding_harness(audio_reply("A fairly long transcript, chunked."), PlannedText(text="x"))
    h.engine.outputs = (audio_reply("A fairly long transcript, chunked."),)
    events = create_response(h)
    transcript = "".join(
        e["delta"] for e in events if e["type"] == "response.audio_transcript.delta"
    )
    assert transcript == only(events, "response.audio_transcript.done")["transcript"]
    assert transcript == "A fairly long transcript, chunked."
    part = only(events, "response.content_part.done")["part"]
    assert part == {"type": "audio", "transcript": transcript}


def test_text_deltas_concatenate_to_text_done() -> None:  # checklist 28
    events = create_response(
        responding_harness(PlannedText(text="The answer is forty-two.")), modalities=["text"]
    )
    text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    assert text == only(events, "response.text.done")["text"] == "The answer is forty-two."


@pytest.mark.parametrize(("fmt", "width"), [("pcm16", 2), ("g711_ulaw", 1), ("g711_alaw", 1)])
def test_audio_deltas_are_whole_samples_of_the_output_format(
    fmt: str, width: int
) -> None:  # checklist 29
    pcm = bytes(range(256)) * 41 + b"\x01"  # 10497 bytes: not whole pcm16 samples
    h = responding_harness(PlannedAudio(transcript="hi", audio=pcm))
    h.engine.pacing = {"audio_chunk_ms": 7}
    events = create_response(h, output_audio_format=fmt)
    deltas = [base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"]
    assert deltas
    assert all(len(d) % width == 0 for d in deltas)
    assert len(deltas[0]) == 7 * (48 if fmt == "pcm16" else 8)
    assert b"".join(deltas) == pcm[: len(pcm) - len(pcm) % width]
    assert events[0]["response"]["output_audio_format"] == fmt


def test_response_done_lists_every_item_without_audio_bytes() -> None:  # checklist 30
    h = responding_harness(audio_reply(), call_reply())
    events = create_response(h)
    done_items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    output = only(events, "response.done")["response"]["output"]
    assert output == done_items
    assert len(output) == 2
    assert output[0]["content"] == [{"type": "audio", "transcript": "Sure, here you go."}]


def test_default_conversation_items_get_item_created() -> None:  # checklist 31
    events = create_response(responding_harness())
    created = only(events, "conversation.item.created")
    assert created["item"]["id"] == only(events, "response.output_item.added")["item"]["id"]
    assert created["previous_item_id"] is None
    assert events[0]["response"]["conversation_id"].startswith("conv_")


def test_out_of_band_items_get_no_item_created_and_null_conversation() -> None:  # checklist 31
    h = responding_harness()
    events = create_response(h, conversation="none", metadata={"topic": "x"})
    assert "conversation.item.created" not in types(events)
    assert events[0]["response"]["conversation_id"] is None
    assert only(events, "response.done")["response"]["conversation_id"] is None
    item_id = only(events, "response.output_item.added")["item"]["id"]
    assert error_of(h.send({"type": "conversation.item.retrieve", "item_id": item_id}))


def test_metadata_is_echoed_in_created_and_done() -> None:  # checklist 32
    metadata = {"client_event_id": "abc", "k": "v"}
    events = create_response(responding_harness(), metadata=metadata)
    assert events[0]["response"]["metadata"] == metadata
    assert only(events, "response.done")["response"]["metadata"] == metadata
    assert create_response(responding_harness())[0]["response"]["metadata"] is None


def test_text_modality_yields_text_events_and_no_audio() -> None:  # checklist 33
    events = create_response(responding_harness(), modalities=["text"])
    names = types(events)
    assert not [n for n in names if n.startswith("response.audio")]
    assert "response.text.delta" in names
    assert only(events, "response.content_part.added")["part"] == {"type": "text", "text": ""}
    assert events[0]["response"]["modalities"] == ["text"]


def test_empty_input_ignores_the_history() -> None:  # checklist 33
    h = responding_harness()
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
    create_response(h, input=[])
    create_response(h, conversation="none")
    assert h.engine.requests[0].items == ()
    assert len(h.engine.requests[1].items) == 2  # the user item and the first reply


def test_input_resolves_item_references() -> None:  # checklist 33
    h = responding_harness()
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
    create_response(
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
    error = error_of(create_response(h, input=[{"type": "item_reference", "id": "item_nope"}]))
    assert (error["code"], error["param"]) == ("invalid_value", "response.input[0].id")


def test_function_call_sequence_has_no_content_parts() -> None:  # checklist 37
    events = create_response(
        responding_harness(call_reply(arguments='{"city": "Paris", "unit": "C"}'))
    )
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
    events = create_response(
        responding_harness(PlannedText(text="Let me check."), call_reply()), modalities=["text"]
    )
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == [0, 1]


def test_output_audio_buffer_clear_is_refused_on_a_websocket() -> None:  # checklist 47
    h = responding_harness()
    error = error_of(h.send({"type": "output_audio_buffer.clear", "event_id": "o1"}))
    assert error["type"] == "invalid_request_error"
    assert error["event_id"] == "o1"
    create_response(h)
    assert not [e for e in h.log if e["type"].startswith("output_audio_buffer.")]
