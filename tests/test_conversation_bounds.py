"""Bounds on what one server event can make the client's conversation allocate or walk.

Every index, count and duration a server sends that the conversation uses to allocate or
loop is checked against a bound: past it, the value is an ``implausible_value`` anomaly and
the event is applied as far as the bound allows. One event then costs bounded work and
memory, whatever a hostile server (or a proxy in between) puts in it.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from test_conversation_factories import (
    At,
    assistant_item,
    item_truncated,
    output_item_added,
    response_created,
    response_done,
    session_created,
    speech_started,
    transcript_delta,
)

from trio_realtime import Conversation, decode
from trio_realtime._core._conversation_apply import MAX_PENDING_EVENTS
from trio_realtime._core._conversation_state import MAX_OUTPUT_ITEMS, MAX_PARTS
from trio_realtime._core._events import ServerEvent

#: What one event may allocate, at most (its own decoded size aside).
EVENT_BUDGET = 256 * 1024
HUGE = [MAX_PARTS, 10**5, 2**31, 2**63 - 1, -1, -(2**63)]


def started(item_id: str = "item_a") -> Conversation:
    c = Conversation(max_anomalies=10_000)
    for event in (
        session_created(),
        response_created("resp_1"),
        output_item_added("resp_1", 0, assistant_item(item_id)),
    ):
        c.apply(event)
    return c


def peak_bytes(apply: Callable[[], Any]) -> int:
    """Peak memory allocated while ``apply()`` runs."""
    tracemalloc.start()
    try:
        apply()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


CONTENT_EVENTS: dict[str, Callable[[At], ServerEvent]] = {
    "audio delta": lambda at: at.audio(bytes(480)),
    "audio done": lambda at: at.audio_done(),
    "transcript delta": lambda at: at.transcript("hi"),
    "text delta": lambda at: at.text("hi"),
    "content part added": lambda at: at.part_added("audio"),
    "content part done": lambda at: at.part_done("text", "hi"),
}


@pytest.mark.parametrize("index", HUGE)
@pytest.mark.parametrize("kind", list(CONTENT_EVENTS))
def test_an_implausible_content_index_is_an_anomaly_and_allocates_nothing(
    kind: str, index: int
) -> None:
    c = started()
    event = CONTENT_EVENTS[kind](At("resp_1", "item_a", 0, index))
    assert peak_bytes(lambda: c.apply(event)) < EVENT_BUDGET
    assert len(c.item("item_a").parts) <= MAX_PARTS
    assert [a.reason for a in c.anomalies] == ["implausible_value"]
    assert str(index) in c.anomalies[0].detail
    c.apply(At("resp_1", "item_a", 0, 0).text("still tracked"))  # the item still works
    assert c.item("item_a").text == "still tracked"


def test_a_content_index_inside_the_bound_still_creates_the_missing_parts() -> None:
    c = started()
    c.apply(At("resp_1", "item_a", 0, MAX_PARTS - 1).text("last"))
    assert len(c.item("item_a").parts) == MAX_PARTS
    assert c.item("item_a").text == "last"
    assert [a.reason for a in c.anomalies] == ["unknown_part"]


def test_an_input_transcript_for_an_implausible_part_is_an_anomaly() -> None:
    c = started()
    wire = transcript_delta("item_a", "hello")
    raw = {
        "type": wire.type,
        "event_id": wire.event_id,
        "item_id": "item_a",
        "content_index": 2**62,
        "delta": "hello",
    }
    event = decode(orjson.dumps(raw))
    assert peak_bytes(lambda: c.apply(event)) < EVENT_BUDGET
    assert [a.reason for a in c.anomalies] == ["implausible_value"]


@pytest.mark.parametrize("index", [MAX_OUTPUT_ITEMS, 2**63 - 1, -1])
def test_an_implausible_output_index_is_an_anomaly_and_the_item_is_still_placed(
    index: int,
) -> None:
    c = started()
    c.apply(output_item_added("resp_1", index, assistant_item("item_b")))
    assert [a.reason for a in c.anomalies] == ["implausible_value"]
    assert set(c.response("resp_1").output_item_ids) == {"item_a", "item_b"}


def test_a_response_tracks_a_bounded_number_of_output_items() -> None:
    c = started()
    for n in range(MAX_OUTPUT_ITEMS + 10):
        c.apply(output_item_added("resp_1", 0, assistant_item(f"item_{n}")))
    assert len(c.response("resp_1").output) == MAX_OUTPUT_ITEMS
    assert {a.reason for a in c.anomalies} == {"implausible_value"}


def test_a_response_done_listing_many_items_costs_linear_work() -> None:
    # Each listed item used to be looked up in the output list: quadratic in one event.
    c = started()
    items = [assistant_item(f"item_{n}", status="completed") for n in range(5000)]
    c.apply(response_done("resp_1", output=items))
    assert len(c.response("resp_1").output) == MAX_OUTPUT_ITEMS
    assert "implausible_value" in {a.reason for a in c.anomalies}


@pytest.mark.parametrize("ms", [2**63 - 1, -5])
def test_an_implausible_truncation_is_an_anomaly_and_still_applied(ms: int) -> None:
    c = started()
    c.apply(At("resp_1", "item_a", 0, 0).part_added("audio"))
    c.apply(At("resp_1", "item_a", 0, 0).audio(bytes(48 * 100)))
    c.apply(item_truncated("item_a", ms))
    assert "implausible_value" in {a.reason for a in c.anomalies}
    part = c.item("item_a").parts[0]
    assert part.truncated_at_ms is not None
    assert part.audio_ms == (0.0 if ms < 0 else 100.0)


def test_an_implausible_speech_offset_is_an_anomaly() -> None:
    c = started()
    c.apply(speech_started("item_u", 2**62))
    assert [a.reason for a in c.anomalies] == ["implausible_value"]
    assert c.user_speaking


def test_early_input_transcripts_wait_in_a_bounded_buffer() -> None:
    c = Conversation()
    for n in range(MAX_PENDING_EVENTS + 100):
        c.apply(transcript_delta(f"item_{n % 7}", "x"))
    assert sum(len(v) for v in c._pending.values()) == MAX_PENDING_EVENTS
    assert "transcript_buffer_full" in {a.reason for a in c.anomalies}
