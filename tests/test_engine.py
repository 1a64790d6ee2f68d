"""The simulated engine's documented rules: replies, tool calls, audio, transcripts, pacing."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import orjson
import pytest

from trio_realtime._core._audio import bytes_for_ms, silence, speech_like
from trio_realtime._core._events import ContentPart, ConversationItem, Tool, TranscriptionError
from trio_realtime.server import (
    Engine,
    PlannedAudio,
    PlannedFunctionCall,
    PlannedText,
    ResponsePlan,
    ResponseRequest,
    SimulatedEngine,
    TranscriptionRequest,
)
from trio_realtime.server._engine import REALISTIC_AUDIO_SPEED


def request(
    items: Sequence[ConversationItem],
    *,
    modalities: tuple[str, ...] = ("text",),
    tools: Sequence[str] = (),
    tool_choice: str = "auto",
    voice: str = "alloy",
    fmt: str = "pcm16",
    audio_ms: tuple[float, ...] = (),
) -> ResponseRequest:
    return ResponseRequest(
        items=tuple(items),
        instructions="Be brief.",
        modalities=modalities,
        tools=tuple(Tool(type="function", name=name) for name in tools),
        tool_choice=tool_choice,
        voice=voice,
        output_audio_format=fmt,
        temperature=0.8,
        max_output_tokens=None,
        metadata=None,
        audio_ms=audio_ms,
    )


def user(text: str) -> ConversationItem:
    return ConversationItem.user_text(text)


def user_audio(transcript: str | None = None, audio: bytes | None = None) -> ConversationItem:
    part = ContentPart(
        type="input_audio",
        transcript=transcript,
        audio=None if audio is None else base64.b64encode(audio).decode(),
    )
    return ConversationItem(type="message", role="user", content=[part])


def call(name: str, call_id: str) -> ConversationItem:
    return ConversationItem(type="function_call", name=name, call_id=call_id, arguments="{}")


def reply(plan: ResponsePlan) -> str:
    (output,) = plan.outputs
    if isinstance(output, PlannedText):
        return output.text
    assert isinstance(output, PlannedAudio)
    return output.transcript


def transcription(
    audio: bytes, model: str = "whisper-1", fmt: str = "pcm16"
) -> TranscriptionRequest:
    return TranscriptionRequest(
        item_id="item_1",
        audio=audio,
        input_audio_format=fmt,
        model=model,
        language=None,
        prompt=None,
    )


ENGINE = SimulatedEngine()


def test_the_simulated_engine_satisfies_the_engine_protocol() -> None:
    engine: Engine = ENGINE
    assert isinstance(engine.respond(request([user("hi")])), ResponsePlan)


# --- Replies -------------------------------------------------------------------------------------


def test_text_input_is_echoed_as_you_said() -> None:
    assert reply(ENGINE.respond(request([user("  hello there ")]))) == "You said: hello there"


def test_the_reply_answers_the_last_user_message() -> None:
    items = [user("first"), ConversationItem(type="message", role="assistant"), user("second")]
    assert reply(ENGINE.respond(request(items))) == "You said: second"


def test_audio_with_a_transcript_is_echoed() -> None:
    assert reply(ENGINE.respond(request([user_audio("good morning")]))) == "You said: good morning"


def test_audio_without_a_transcript_is_described_by_its_duration() -> None:
    pcm = bytes(bytes_for_ms(1500, "pcm16"))
    assert reply(ENGINE.respond(request([user_audio(audio=pcm)]))) == (
        "I heard 1.5 seconds of audio."
    )
    assert reply(ENGINE.respond(request([user_audio()]))) == "I heard some audio."


def test_untranscribed_audio_takes_its_duration_from_the_request() -> None:
    # The server's item views carry no audio bytes; it reports each item's duration instead.
    items = [user_audio(), user("hi"), user_audio()]
    assert reply(ENGINE.respond(request(items, audio_ms=(500.0, 0.0, 2340.0)))) == (
        "I heard 2.3 seconds of audio."
    )
    # The request's duration wins over bytes (it knows the format); a transcript wins over both.
    pcm = bytes(bytes_for_ms(1500, "pcm16"))
    assert reply(ENGINE.respond(request([user_audio(audio=pcm)], audio_ms=(800.0,)))) == (
        "I heard 0.8 seconds of audio."
    )
    assert reply(ENGINE.respond(request([user_audio("hello")], audio_ms=(800.0,)))) == (
        "You said: hello"
    )
    # A duration list that does not match the items is ignored.
    assert reply(ENGINE.respond(request(items, audio_ms=(1.0,)))) == "I heard some audio."


def test_an_empty_message_and_an_empty_context_get_fixed_replies() -> None:
    assert reply(ENGINE.respond(request([user("   ")]))) == "I didn't catch that."
    assert reply(ENGINE.respond(request([]))) == "How can I help?"


def test_a_long_user_text_is_cut_in_the_echo() -> None:
    engine = SimulatedEngine(max_echo_chars=10)
    assert reply(engine.respond(request([user("abcdefghijklmnop")]))) == "You said: abcdefghij…"


# --- Tools ---------------------------------------------------------------------------------------


def test_a_named_tool_is_called_with_key_value_arguments() -> None:
    plan = ENGINE.respond(
        request(
            [user('Please get_weather city="New York" days=3 metric=true unit=C.')],
            tools=["get_weather"],
        )
    )
    (output,) = plan.outputs
    assert isinstance(output, PlannedFunctionCall)
    assert output.name == "get_weather"
    assert orjson.loads(output.arguments) == {
        "city": "New York",
        "days": 3,
        "metric": True,
        "unit": "C",
    }


def test_tool_names_match_case_insensitively_with_spaces_for_underscores() -> None:
    plan = ENGINE.respond(request([user("What does Get Weather say?")], tools=["get_weather"]))
    assert plan.outputs == (PlannedFunctionCall(name="get_weather", arguments="{}"),)


def test_several_named_tools_are_called_in_order_each_with_its_own_arguments() -> None:
    plan = ENGINE.respond(
        request(
            [user("lookup_time zone=UTC then get_weather city=Oslo")],
            tools=["get_weather", "lookup_time"],
        )
    )
    assert plan.outputs == (
        PlannedFunctionCall(name="lookup_time", arguments='{"zone":"UTC"}'),
        PlannedFunctionCall(name="get_weather", arguments='{"city":"Oslo"}'),
    )


def test_a_longer_tool_name_hides_a_shorter_one_inside_it() -> None:
    plan = ENGINE.respond(request([user("get_weather now")], tools=["get", "get_weather"]))
    assert plan.outputs == (PlannedFunctionCall(name="get_weather", arguments="{}"),)


def test_a_tool_name_inside_another_word_is_not_a_mention() -> None:
    plan = ENGINE.respond(request([user("forgetting things")], tools=["get"]))
    assert reply(plan) == "You said: forgetting things"


def test_tool_choice_none_never_calls() -> None:
    plan = ENGINE.respond(request([user("get_weather")], tools=["get_weather"], tool_choice="none"))
    assert reply(plan) == "You said: get_weather"


def test_tool_choice_required_calls_the_first_tool_when_none_is_named() -> None:
    plan = ENGINE.respond(request([user("hello")], tools=["a", "b"], tool_choice="required"))
    assert plan.outputs == (PlannedFunctionCall(name="a", arguments="{}"),)


def test_a_forced_tool_choice_calls_only_that_function() -> None:
    plan = ENGINE.respond(request([user("a x=1 b y=2")], tools=["a", "b"], tool_choice="b"))
    assert plan.outputs == (PlannedFunctionCall(name="b", arguments='{"y":2}'),)
    plan = ENGINE.respond(request([user("hello")], tools=["a", "b"], tool_choice="b"))
    assert plan.outputs == (PlannedFunctionCall(name="b", arguments="{}"),)


def test_after_a_tool_output_the_reply_states_it() -> None:
    items = [
        user("get_weather city=Oslo"),
        call("get_weather", "call_1"),
        ConversationItem.function_call_output("call_1", '{"temp": 21}'),
    ]
    plan = ENGINE.respond(request(items, tools=["get_weather"]))
    assert reply(plan) == 'get_weather returned: {"temp": 21}'


def test_several_tool_outputs_are_stated_in_order() -> None:
    items = [
        user("a and b"),
        call("a", "c1"),
        call("b", "c2"),
        ConversationItem.function_call_output("c1", "1"),
        ConversationItem(type="message", role="system", content=[ContentPart.input_text("x")]),
        ConversationItem.function_call_output("c2", "2"),
        ConversationItem.function_call_output("unknown", "3"),
    ]
    assert reply(ENGINE.respond(request(items, tools=["a", "b"]))) == (
        "a returned: 1; b returned: 2; The tool returned: 3"
    )


# --- Audio ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "width"), [("pcm16", 2), ("g711_ulaw", 1), ("g711_alaw", 1)])
def test_spoken_replies_last_60_ms_per_character_in_whole_samples(fmt: str, width: int) -> None:
    plan = ENGINE.respond(request([user("hi")], modalities=("audio", "text"), fmt=fmt))
    (output,) = plan.outputs
    assert isinstance(output, PlannedAudio)
    assert output.transcript == "You said: hi"
    assert len(output.audio) == bytes_for_ms(60 * len("You said: hi"), fmt)
    assert len(output.audio) % width == 0


def test_spoken_replies_are_deterministic_and_differ_by_voice() -> None:
    def audio(engine: SimulatedEngine, voice: str) -> bytes:
        (output,) = engine.respond(
            request([user("hello")], modalities=("text", "audio"), voice=voice)
        ).outputs
        assert isinstance(output, PlannedAudio)
        return output.audio

    first = audio(SimulatedEngine(), "alloy")
    assert audio(SimulatedEngine(), "alloy") == first
    assert audio(ENGINE, "alloy") == first
    assert audio(ENGINE, "verse") != first


def test_long_replies_repeat_one_loop_of_speech_like_audio() -> None:
    engine = SimulatedEngine(max_echo_chars=1000)
    (output,) = engine.respond(request([user("x" * 600)], modalities=("text", "audio"))).outputs
    assert isinstance(output, PlannedAudio)
    assert len(output.audio) == bytes_for_ms(60 * len(output.transcript), "pcm16")
    # The audio starts as the documented test signal does and is made of repeats of a loop.
    head = speech_like(1000, seed=_seed("alloy"))
    assert output.audio.startswith(head)
    loop = len(engine._audio._loop("pcm16", _seed("alloy")))
    assert output.audio[loop : loop + len(head)] == head


def _seed(voice: str) -> int:
    import zlib

    return zlib.crc32(voice.encode())


# --- Transcripts ---------------------------------------------------------------------------------


def test_the_default_transcript_states_the_duration() -> None:
    plan = ENGINE.transcribe(transcription(speech_like(2400)))
    assert plan.transcript == "2.4 seconds of speech."
    plan = ENGINE.transcribe(transcription(speech_like(800, fmt="g711_ulaw"), fmt="g711_ulaw"))
    assert plan.transcript == "0.8 seconds of speech."


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw", "g711_alaw"])
def test_pure_silence_is_transcribed_as_nothing(fmt: str) -> None:
    quiet = silence(2000, fmt)
    for model in ("whisper-1", "gpt-4o-transcribe"):
        plan = ENGINE.transcribe(transcription(quiet, model=model, fmt=fmt))
        assert (plan.transcript, plan.deltas, plan.failure) == ("", (), None)
    # Speech anywhere in it is heard, however much silence surrounds it.
    turn = silence(1500, fmt) + speech_like(300, fmt=fmt) + silence(1500, fmt)
    assert ENGINE.transcribe(transcription(turn, fmt=fmt)).transcript == "3.3 seconds of speech."


def test_whisper_sends_one_delta_and_gpt_4o_models_one_per_word() -> None:
    audio = speech_like(1000)
    assert ENGINE.transcribe(transcription(audio)).deltas == ("1.0 seconds of speech.",)
    plan = ENGINE.transcribe(transcription(audio, model="gpt-4o-mini-transcribe"))
    assert plan.deltas == ("1.0", " seconds", " of", " speech.")
    assert "".join(plan.deltas) == plan.transcript


def test_a_configured_transcript_is_used_as_is_or_computed() -> None:
    fixed = SimulatedEngine(transcript=" get_weather  city=Oslo ")
    plan = fixed.transcribe(transcription(b"\0\0", model="gpt-4o-transcribe"))
    assert plan.transcript == " get_weather  city=Oslo "
    assert "".join(plan.deltas) == plan.transcript
    computed = SimulatedEngine(transcript=lambda r: f"item {r.item_id}")
    assert computed.transcribe(transcription(b"")).transcript == "item item_1"


def test_an_empty_transcript_has_no_deltas() -> None:
    assert SimulatedEngine(transcript="").transcribe(transcription(b"")).deltas == ()


def test_a_configured_transcription_error_fails_every_transcription() -> None:
    error = TranscriptionError(
        type="transcription_error", code="audio_unintelligible", message="no"
    )
    plan = SimulatedEngine(transcription_error=error, transcription_delay=0.2).transcribe(
        transcription(b"\0\0")
    )
    assert plan.failure == error
    assert plan.delay == 0.2


# --- Pacing and validation -----------------------------------------------------------------------


def test_the_default_pacing_is_as_fast_as_possible() -> None:
    plan = ENGINE.respond(request([user("hi")]))
    assert (plan.first_delta_delay, plan.text_chars_per_second, plan.audio_realtime_factor) == (
        0.0,
        None,
        None,
    )
    assert ENGINE.transcribe(transcription(b"")).delay == 0.0


def test_the_realistic_preset_paces_like_the_live_service_and_takes_overrides() -> None:
    engine = SimulatedEngine.realistic(audio_chunk_ms=40)
    plan = engine.respond(request([user("hi")]))
    assert plan.first_delta_delay == 0.3
    # Reply audio is generated ahead of playback, as the live service streamed it.
    assert plan.audio_realtime_factor == REALISTIC_AUDIO_SPEED == 3.0
    real_time = SimulatedEngine.realistic(audio_realtime_factor=1.0)
    assert real_time.respond(request([user("hi")])).audio_realtime_factor == 1.0
    assert plan.text_chars_per_second is not None
    assert plan.audio_chunk_ms == 40
    assert engine.transcribe(transcription(b"")).delay > 0


@pytest.mark.parametrize(
    "settings",
    [
        {"first_delta_delay": -1.0},
        {"text_chars_per_second": 0.0},
        {"audio_realtime_factor": float("nan")},
        {"audio_chunk_ms": 0},
        {"text_chunk_chars": 0},
        {"ms_per_char": float("inf")},
    ],
)
def test_out_of_range_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        SimulatedEngine(**settings)  # type: ignore[arg-type]
