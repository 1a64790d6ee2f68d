"""The reference server core's parts on their own, and the state machine with the real engine.

Rules these tests follow:

* Parts are tested through their public functions; the state machine through
  :class:`server_helpers.Harness` (every event validated).
* No timing assertions: clocks are numbers the tests choose.
"""

from __future__ import annotations

import base64

import pytest
from server_helpers import Harness, only, types

from trio_realtime._core._audio import silence, tone
from trio_realtime.events import ConversationItem, ConversationItemCreate, Session, SessionUpdate
from trio_realtime.server._engine_api import Engine, PlannedText, ResponsePlan
from trio_realtime.server._errors import first_unknown_field, quote_list, session_expired
from trio_realtime.server._ids import ID_ALPHABET, IdFactory
from trio_realtime.server._input_audio import InputAudio
from trio_realtime.server._session_config import TurnSettings
from trio_realtime.server._transcription import logprobs_for
from trio_realtime.server._usage import (
    InputTokens,
    RateLimits,
    audio_tokens,
    make_usage,
    text_tokens,
)

# -- ids ------------------------------------------------------------------------------------------


def test_ids_are_prefix_underscore_and_21_alphanumerics() -> None:
    ids = IdFactory()
    made = {ids.new("event") for _ in range(1000)}
    assert len(made) == 1000
    for ident in made:
        prefix, rest = ident.split("_")
        assert prefix == "event"
        assert len(rest) == 21
        assert set(rest) <= set(ID_ALPHABET)


# -- usage ----------------------------------------------------------------------------------------


def test_token_estimate_is_chars_over_4_and_ms_over_50_rounded_up() -> None:
    assert [text_tokens(n) for n in (0, 1, 4, 5)] == [0, 1, 1, 2]
    assert [audio_tokens(ms) for ms in (0, 1, 50, 50.0000000001, 51, 1000)] == [0, 1, 1, 1, 2, 20]


def test_usage_obeys_the_invariants() -> None:
    usage = make_usage(InputTokens(119, 8), 36, 112)
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (127, 148, 275)
    details = usage.input_token_details
    assert details
    assert details.cached_tokens == 0
    assert details.text_tokens == 119
    cached = make_usage(InputTokens(1100, 300, cached_text=1100, cached_audio=180), 0, 0)
    details = cached.input_token_details
    assert details
    assert details.cached_tokens == 1280 <= cached.input_tokens == 1400
    assert details.extra["cached_tokens_details"] == {"text_tokens": 1100, "audio_tokens": 180}


def test_rate_limit_buckets_refill_over_a_minute() -> None:
    limits = RateLimits(60, 6000, now=0.0)
    first = {r.name: r for r in limits.record(0.0, 600)}
    assert (first["requests"].remaining, first["tokens"].remaining) == (59, 5400)
    assert first["tokens"].reset_seconds == pytest.approx(6.0)
    later = {r.name: r for r in limits.record(30.0, 0)}
    assert later["requests"].remaining == 59  # refilled to full, then one more request
    assert later["tokens"].remaining == 6000
    drained = {r.name: r for r in limits.record(30.0, 10**6)}
    assert drained["tokens"].remaining == 0


# -- errors ---------------------------------------------------------------------------------------


def test_values_are_listed_like_the_service_does() -> None:
    assert quote_list(["a"]) == "'a'"
    assert quote_list(["a", "b"]) == "'a' and 'b'"
    assert quote_list(["a", "b", "c"]) == "'a', 'b', and 'c'"


def test_unknown_fields_are_found_at_any_depth() -> None:
    event = SessionUpdate(session=Session(extra={"x": 1}))
    assert first_unknown_field(event) == "session.x"
    event = ConversationItemCreate(item=ConversationItem(content=[], extra={"y": 2}), extra={})
    assert first_unknown_field(event) == "item.y"
    assert first_unknown_field(SessionUpdate(session=Session())) is None


def test_session_expired_names_minutes_or_seconds() -> None:
    assert session_expired(1800).message.endswith("30 minutes.")
    assert session_expired(60).message.endswith("1 minute.")
    assert session_expired(90).message.endswith("90 seconds.")


def test_logprobs_cover_the_text_token_by_token() -> None:
    entries = logprobs_for("hello big world")
    assert [e.token for e in entries] == ["hello", " big", " world"]
    assert logprobs_for("hello big world") == entries


# -- input audio ----------------------------------------------------------------------------------


def test_the_clock_counts_whole_samples_across_formats() -> None:
    audio = InputAudio("pcm16", None, idle_keep_ms=0)
    audio.append(silence(100))
    audio.configure("g711_ulaw", None)
    audio.append(silence(50, "g711_ulaw"))
    assert audio.clock_ticks == 150 * 24
    assert audio.buffered_bytes == 150 * 8  # the pcm16 part was converted


def test_vad_created_mid_session_reports_session_clock_times() -> None:
    audio = InputAudio("pcm16", None, idle_keep_ms=10_000)
    audio.append(silence(1234))
    audio.configure("pcm16", TurnSettings(create_response=False))
    events = audio.append(silence(1000) + tone(1000) + silence(1000))
    assert [type(e).__name__ for e in events] == ["SpeechStarted", "SpeechStopped"]
    assert events[0].audio_start_ms == 1234 + 700  # type: ignore[union-attr]


def test_take_turn_keeps_what_followed_the_turn() -> None:
    audio = InputAudio("pcm16", TurnSettings(), idle_keep_ms=10_000)
    data = silence(1000) + tone(1000) + silence(1000)
    audio.append(data)
    turn = audio.take_turn(700, 2200)
    assert turn == data[700 * 48 : 2200 * 48]
    assert audio.buffered_bytes == 800 * 48
    assert audio.start_ms == 2200


# -- the real engine ------------------------------------------------------------------------------


def test_the_simulated_engine_drives_a_whole_turn() -> None:
    engine_module = pytest.importorskip("trio_realtime.server._engine")
    engine: Engine = engine_module.SimulatedEngine()
    h = Harness(engine=engine)
    h.update(input_audio_transcription={"model": "gpt-4o-transcribe"})
    events = h.append(silence(1000) + tone(1000) + silence(1000))
    assert "response.done" in types(events)
    transcript = only(events, "response.audio_transcript.done")["transcript"]
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta"
    )
    assert transcript
    assert len(audio) % 2 == 0
    assert audio
    completed = only(events, "conversation.item.input_audio_transcription.completed")
    assert completed["transcript"]


def test_the_simulated_engine_answers_a_text_turn_and_a_tool_call() -> None:
    engine_module = pytest.importorskip("trio_realtime.server._engine")
    h = Harness(engine=engine_module.SimulatedEngine())
    h.update(turn_detection=None, tools=[{"type": "function", "name": "get_weather"}])
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "get_weather city=Paris"}],
            },
        }
    )
    events = h.send({"type": "response.create"})
    call = only(events, "response.function_call_arguments.done")
    assert call["arguments"] == '{"city":"Paris"}' or '"Paris"' in call["arguments"]
    h.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        }
    )
    events = h.send({"type": "response.create", "response": {"modalities": ["text"]}})
    assert "sunny" in only(events, "response.text.done")["text"]


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def respond(self, request: object) -> ResponsePlan:
        self.calls += 1
        return ResponsePlan(outputs=(PlannedText(text="ok"),))

    def transcribe(self, request: object) -> object:  # pragma: no cover - never asked
        raise AssertionError


def test_the_engine_is_asked_once_per_response() -> None:
    engine = _Counting()
    h = Harness(engine=engine)
    h.update(turn_detection=None)
    for _ in range(3):
        h.send({"type": "response.create"})
    assert engine.calls == 3
