"""The reference server behaves like a real one where clients can tell: cached tokens for a
repeated prefix, nothing transcribed from silence, reply audio generated ahead of playback.

Rules these tests follow:

* Each test drives a :class:`~trio_realtime.server._state.ConnectionState` through
  :class:`server_helpers.Harness` (every event validated against the relaxed schemas); time is
  the harness's number, nothing sleeps.
* Token counts follow the documented estimate of ``trio_realtime.server._usage``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from server_helpers import FakeEngine, Harness, only, types

from trio_realtime._cli._main import main
from trio_realtime._core._audio import duration_ms, silence, speech_like
from trio_realtime.server import PlannedText, SimulatedEngine
from trio_realtime.server._usage import CACHE_BLOCK_TOKENS, CACHE_MIN_TOKENS, CACHE_TTL_SECONDS

LONG_INSTRUCTIONS = "Answer in one short sentence. " * 170  # 5,100 chars: 1,275 tokens


def _text_session(**engine: Any) -> Harness:
    h = Harness(engine=FakeEngine(outputs=(PlannedText(text="Sure."),), **engine))
    h.update(turn_detection=None, instructions=LONG_INSTRUCTIONS, modalities=["text"])
    return h


def _ask(h: Harness, text: str, *, at: float | None = None) -> dict[str, Any]:
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        },
        at=at,
    )
    events = h.send({"type": "response.create"}) + h.run_until_idle()
    return only(events, "response.done")["response"]["usage"]  # type: ignore[no-any-return]


def _cached(usage: dict[str, Any]) -> tuple[int, int, int]:
    details = usage["input_token_details"]
    split = details["cached_tokens_details"]
    return details["cached_tokens"], split["text_tokens"], split["audio_tokens"]


def test_a_repeated_prefix_is_read_from_the_cache() -> None:
    h = _text_session()
    first = _ask(h, "What is trio?")
    assert _cached(first) == (0, 0, 0)  # nothing seen before
    second = _ask(h, "And what is a nursery?")
    cached, text, audio = _cached(second)
    # The whole first context repeats: at least 1,024 tokens, counted in blocks of 128.
    assert cached >= CACHE_MIN_TOKENS
    assert cached % CACHE_BLOCK_TOKENS == 0
    assert (text, audio) == (cached, 0)
    assert cached <= second["input_tokens"]
    assert second["input_tokens"] - cached < CACHE_BLOCK_TOKENS + 20  # only the new turn


def test_a_changed_instruction_or_a_short_prompt_reads_nothing_from_the_cache() -> None:
    h = _text_session()
    _ask(h, "What is trio?")
    h.update(instructions=LONG_INSTRUCTIONS.replace("short", "long"))
    assert _cached(_ask(h, "Again?")) == (0, 0, 0)  # the first segment differs
    short = Harness(engine=FakeEngine(outputs=(PlannedText(text="Sure."),)))
    short.update(turn_detection=None, modalities=["text"])
    _ask(short, "hi")
    assert _cached(_ask(short, "hi again"))[0] == 0  # under 1,024 tokens: never cached


def test_cached_entries_expire_after_minutes_of_disuse() -> None:
    h = _text_session()
    _ask(h, "What is trio?")
    assert _cached(_ask(h, "Soon after.", at=h.now + 10))[0] > 0
    assert _cached(_ask(h, "Much later.", at=h.now + CACHE_TTL_SECONDS + 1))[0] == 0


def test_cached_audio_tokens_come_from_the_audio_of_the_prefix() -> None:
    engine = FakeEngine(outputs=(PlannedText(text="Sure."),), transcript="")
    h = Harness(engine=engine)
    h.update(turn_detection=None, modalities=["text"], instructions="Be brief.")
    h.append(speech_like(60_000, seed=2))  # a minute of speech: 1,200 audio tokens
    h.send({"type": "input_audio_buffer.commit"})
    h.send({"type": "response.create"})
    h.run_until_idle()
    usage = _ask(h, "Summarise that.")
    cached, text, audio = _cached(usage)
    assert cached >= CACHE_MIN_TOKENS
    assert cached % CACHE_BLOCK_TOKENS == 0
    assert audio > 0
    assert text + audio == cached
    assert audio <= usage["input_token_details"]["audio_tokens"]


@pytest.mark.parametrize("model", ["whisper-1", "gpt-4o-transcribe"])
def test_pure_silence_is_transcribed_as_nothing_on_the_wire(model: str) -> None:
    h = Harness(engine=SimulatedEngine())
    h.update(turn_detection=None, input_audio_transcription={"model": model})
    h.append(silence(1500))
    events = h.send({"type": "input_audio_buffer.commit"}) + h.run_until_idle()
    assert "conversation.item.input_audio_transcription.delta" not in types(events)
    completed = only(events, "conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == ""
    h.append(speech_like(1000, seed=4))
    events = h.send({"type": "input_audio_buffer.commit"}) + h.run_until_idle()
    completed = only(events, "conversation.item.input_audio_transcription.completed")
    assert completed["transcript"] == "1.0 seconds of speech."


def test_realistic_reply_audio_is_generated_ahead_of_playback() -> None:
    h = Harness(engine=SimulatedEngine.realistic())
    h.update(turn_detection=None)
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Tell me about structured concurrency."}
                ],
            },
        }
    )
    start = h.now
    h.send({"type": "response.create"})
    timeline: list[tuple[float, dict[str, Any]]] = []
    while (deadline := h.state.next_deadline()) is not None and deadline < start + 60:
        timeline += [(h.now, event) for event in h.advance(deadline)]
        if timeline and timeline[-1][1]["type"] == "rate_limits.updated":
            break
    audio = [(t, e) for t, e in timeline if e["type"] == "response.audio.delta"]
    first = audio[0][0]
    assert first - start == pytest.approx(0.3)  # the first delta's delay
    received_ms = 0.0
    for t, event in audio:
        received_ms += duration_ms(len(base64.b64decode(event["delta"])), "pcm16")
        # What has arrived is ahead of what a speaker started at the first delta has played.
        played_ms = (t - first) * 1000
        assert received_ms > played_ms
    total_ms = received_ms
    assert total_ms > 2000
    # All of it was generated in a third of its duration: 3x real time.
    assert (total_ms - 100) / 3000 <= audio[-1][0] - first <= total_ms / 3000
    # The transcript ran ahead of the audio it describes.
    last_text = max(t for t, e in timeline if e["type"] == "response.audio_transcript.delta")
    assert last_text < audio[-1][0]


def test_serve_audio_speed_needs_realistic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--audio-speed", "2"]) == 2
    assert "--audio-speed needs --realistic" in capsys.readouterr().err


# -- late-beta fields, where the evidence puts them (server-behaviour.md 3.1, 3.2) --------------


def test_session_created_carries_the_late_beta_nulls() -> None:
    session = Harness().opening[0]["session"]
    assert "prompt" in session
    assert session["prompt"] is None
    assert session["tracing"] is None
    assert "idle_timeout_ms" in session["turn_detection"]
    assert session["turn_detection"]["idle_timeout_ms"] is None
    semantic = Harness().update(turn_detection={"type": "semantic_vad"})[0]["session"]
    assert "idle_timeout_ms" not in semantic["turn_detection"]  # a server_vad setting


def test_transcription_session_created_has_a_null_client_secret_and_updated_none() -> None:
    h = Harness(None, intent="transcription")
    created = h.opening[0]["session"]
    assert "client_secret" in created
    assert created["client_secret"] is None  # the live capture (3.2)
    assert "idle_timeout_ms" not in created["turn_detection"]  # not in that capture either
    updated = h.send({"type": "transcription_session.update", "session": {}})[0]["session"]
    assert "client_secret" not in updated  # documented absent (4, end)


def test_a_session_sent_back_with_its_late_beta_nulls_is_accepted() -> None:
    h = Harness()
    session = h.opening[0]["session"]
    echoed = {
        k: v for k, v in session.items() if k not in ("id", "object", "expires_at", "include")
    }
    events = h.send({"type": "session.update", "session": echoed})
    assert types(events) == ["session.updated"]
    assert events[0]["session"] == session
    for update in ({"prompt": {"id": "pmpt_1"}}, {"turn_detection": {"idle_timeout_ms": 5000}}):
        (error,) = h.send({"type": "session.update", "session": update})
        assert error["error"]["code"] == "invalid_value"
        assert error["error"]["param"] in (
            "session.prompt",
            "session.turn_detection.idle_timeout_ms",
        )
