"""The reference server's state machine: rate limits, usage and the output token limit.

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* The engine is :class:`server_helpers.FakeEngine`: fixed outputs, optional pacing.
* Time is a number the test chooses; ``Harness.advance`` releases what fell due.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

import base64
from typing import Any

from server_helpers import (
    audio_reply,
    call_reply,
    create_response,
    only,
    responding_harness,
    types,
)

from trio_realtime._core._audio import tone
from trio_realtime.server._engine_api import PlannedText


def test_one_rate_limits_update_per_response_after_done() -> None:  # checklist 39
    h = responding_harness()
    events = create_response(h)
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
    h = responding_harness(audio_reply("Sure, here you go.", ms=500))
    h.update(instructions="Be brief.")  # 9 chars: 3 tokens
    usage = only(create_response(h), "response.done")["response"]["usage"]
    check_usage(usage)
    assert usage["input_tokens"] == 3
    assert usage["output_token_details"] == {"text_tokens": 5, "audio_tokens": 10}


def test_input_tokens_grow_turn_by_turn() -> None:  # checklist 40
    h = responding_harness()
    totals = []
    for _ in range(3):
        h.append(tone(500))
        h.send({"type": "input_audio_buffer.commit"})
        usage = only(create_response(h), "response.done")["response"]["usage"]
        check_usage(usage)
        totals.append(usage["input_tokens"])
    assert totals[0] < totals[1] < totals[2]


def test_cancelled_responses_report_the_usage_of_what_was_sent() -> None:  # checklist 40
    h = responding_harness(audio_reply(ms=2000))
    h.engine.pacing = {"audio_realtime_factor": 1.0}
    create_response(h)
    h.advance(h.now + 0.55)
    usage = only(h.send({"type": "response.cancel"}), "response.done")["response"]["usage"]
    check_usage(usage)
    assert usage["output_token_details"]["audio_tokens"] == 12  # 600 ms sent: 6 chunks


def test_max_output_tokens_ends_incomplete_with_the_output_cut() -> None:  # checklist 41
    h = responding_harness(PlannedText(text="x" * 100), call_reply())
    events = create_response(h, modalities=["text"], max_response_output_tokens=10)
    done = only(events, "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert only(events, "response.text.done")["text"] == "x" * 40
    assert [item["status"] for item in done["output"]] == ["incomplete"]
    assert done["usage"]["output_tokens"] == 10
    assert done["max_output_tokens"] == 10


def test_max_output_tokens_cuts_audio_and_transcript_in_proportion() -> None:  # checklist 41
    h = responding_harness(audio_reply("y" * 40, ms=1000))  # 10 text + 20 audio tokens
    events = create_response(h, max_response_output_tokens=15)
    done = only(events, "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["usage"]["output_tokens"] <= 15
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
    )
    assert len(audio) == 500 * 48
    assert only(events, "response.audio_transcript.done")["transcript"] == "y" * 20


def test_a_response_within_its_limit_completes() -> None:  # checklist 41
    h = responding_harness(PlannedText(text="x" * 40))
    done = only(
        create_response(h, modalities=["text"], max_response_output_tokens=10), "response.done"
    )
    assert done["response"]["status"] == "completed"
