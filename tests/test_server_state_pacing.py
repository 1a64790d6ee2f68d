"""The reference server's state machine: responses paced on the caller's clock.

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* The engine is :class:`server_helpers.FakeEngine`: fixed outputs, optional pacing.
* Time is a number the test chooses; ``Harness.advance`` releases what fell due.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

import pytest
from server_helpers import audio_reply, create_response, responding_harness, types

from trio_realtime.server._engine_api import PlannedText


def test_without_pacing_the_whole_response_comes_out_at_once() -> None:
    h = responding_harness()
    events = create_response(h)
    assert types(events)[-1] == "rate_limits.updated"
    assert h.state.next_deadline() == h.state._expiry


def test_paced_audio_comes_out_at_real_time() -> None:
    h = responding_harness(audio_reply(ms=1000))
    h.engine.pacing = {
        "first_delta_delay": 0.25,
        "audio_realtime_factor": 1.0,
        "text_chars_per_second": 1000,
    }
    start = h.now
    assert types(create_response(h)) == ["response.created"]
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
    h = responding_harness(PlannedText(text="abcdefghijklmnop"))  # two 8-char chunks
    h.engine.pacing = {"text_chars_per_second": 8.0}
    start = h.now
    events = create_response(h, modalities=["text"])
    assert types(events).count("response.text.delta") == 1
    assert h.state.next_deadline() == pytest.approx(start + 1.0)
    assert types(h.advance(start + 1.0)) == ["response.text.delta"]
    assert types(h.advance(start + 2.0))[-2:] == ["response.done", "rate_limits.updated"]


def test_a_client_event_first_releases_what_fell_due() -> None:
    h = responding_harness(PlannedText(text="abcdefghijklmnop"))
    h.engine.pacing = {"text_chars_per_second": 8.0}
    create_response(h, modalities=["text"])
    events = h.send({"type": "input_audio_buffer.clear"}, at=h.now + 1.5)
    assert types(events) == ["response.text.delta", "input_audio_buffer.cleared"]


def test_a_clock_that_steps_back_stands_still() -> None:
    h = responding_harness()
    h.engine.pacing = {"first_delta_delay": 1.0}
    create_response(h)
    assert h.advance(h.now - 50) == []
    assert "response.done" in types(h.advance(h.now + 51.0))
