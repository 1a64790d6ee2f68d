"""The server VAD model: thresholds, onset and stop timing, the audio clock, chunking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_realtime._core import _vad
from trio_realtime._core._audio import (
    AudioFormatError,
    from_protocol,
    silence,
    speech_like,
    to_protocol,
)
from trio_realtime._core._audio import tone as _tone
from trio_realtime._core._vad import (
    VAD_FRAME_MS,
    VAD_ONSET_MS,
    SpeechStarted,
    SpeechStopped,
    VadConfig,
    VadEvent,
    VoiceActivityDetector,
    silence_ms_for_eagerness,
    threshold_to_dbfs,
)

FORMAT_NAMES = ["pcm16", "g711_ulaw", "g711_alaw"]


def tone(ms: int, fmt: str = "pcm16", amplitude: float = 0.5) -> bytes:
    return _tone(ms, freq_hz=440.0, amplitude=amplitude, fmt=fmt)


def noise(ms: int, amplitude: float, fmt: str = "pcm16", seed: int = 0) -> bytes:
    samples = np.random.default_rng(seed).uniform(-amplitude, amplitude, ms * 24)
    return to_protocol(samples, 24000, fmt)


def feed_all(audio: bytes, config: VadConfig | None = None, fmt: str = "pcm16") -> list[VadEvent]:
    return VoiceActivityDetector(config, fmt).feed(audio)


# --- configuration -------------------------------------------------------------------------


def test_default_config_is_the_beta_service_default() -> None:
    assert VadConfig() == VadConfig(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    assert VadConfig(threshold=1).threshold == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": -0.1},
        {"threshold": 1.5},
        {"prefix_padding_ms": -1},
        {"silence_duration_ms": -10},
        {"silence_duration_ms": 2.5},
        {"prefix_padding_ms": True},
    ],
)
def test_config_refuses_values_out_of_range(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_")[0]):
        VadConfig(**kwargs)  # type: ignore[arg-type]


def test_threshold_maps_linearly_onto_dbfs() -> None:
    assert [threshold_to_dbfs(t) for t in (0.0, 0.25, 0.5, 1.0)] == [-80.0, -60.0, -40.0, 0.0]
    with pytest.raises(ValueError, match="threshold"):
        threshold_to_dbfs(2.0)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(AudioFormatError):
        VoiceActivityDetector(fmt="opus")


@pytest.mark.parametrize(
    ("eagerness", "ms"), [("low", 2000), ("medium", 800), ("auto", 800), ("high", 300)]
)
def test_semantic_eagerness_maps_to_a_silence_duration(eagerness: str, ms: int) -> None:
    assert silence_ms_for_eagerness(eagerness) == ms


def test_unknown_eagerness_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown eagerness 'eager'"):
        silence_ms_for_eagerness("eager")


# --- what counts as speech -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_silence_tone_silence_gives_exact_turn_times(fmt: str) -> None:
    audio = silence(1000, fmt) + tone(1000, fmt) + silence(1000, fmt)
    # onset 1000 - 300 ms padding; stop when 200 ms of silence after 2000 have been fed
    assert feed_all(audio, fmt=fmt) == [SpeechStarted(700), SpeechStopped(2200)]


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_speech_like_audio_is_one_turn(fmt: str) -> None:
    speech = speech_like(1000, seed=0, fmt=fmt)
    samples, rate = from_protocol(speech, fmt)
    frames = samples.astype(np.float64).reshape(-1, rate // 100) / 32768
    voiced = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12) >= -40
    assert voiced[:3].all()  # speech_like starts with a syllable: the onset is its start
    last_voiced_end_ms = 1000 + 10 * (int(np.flatnonzero(voiced)[-1]) + 1)
    audio = silence(1000, fmt) + speech + silence(1000, fmt)
    events = feed_all(audio, fmt=fmt)
    assert events == [SpeechStarted(700), SpeechStopped(last_voiced_end_ms + 200)]
    assert 2000 < events[1].audio_end_ms <= 2200  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_silence_and_quiet_noise_never_trigger(fmt: str) -> None:
    assert feed_all(silence(10_000, fmt), fmt=fmt) == []
    assert feed_all(noise(3000, 0.003, fmt), fmt=fmt) == []
    assert feed_all(noise(3000, 0.05, fmt), fmt=fmt) == [SpeechStarted(0)]


def test_higher_threshold_needs_louder_audio() -> None:
    audio = silence(500) + tone(500, amplitude=0.5) + silence(500)  # about -9 dBFS
    assert feed_all(audio, VadConfig(threshold=0.8)) == [SpeechStarted(200), SpeechStopped(1200)]
    assert feed_all(audio, VadConfig(threshold=0.9)) == []  # needs -8 dBFS
    quiet = silence(500) + tone(500, amplitude=0.003) + silence(500)  # about -53 dBFS
    assert feed_all(quiet) == []
    assert feed_all(quiet, VadConfig(threshold=0.3)) == [SpeechStarted(200), SpeechStopped(1200)]


def test_clicks_shorter_than_the_onset_are_ignored() -> None:
    assert VAD_ONSET_MS == 30
    assert VAD_FRAME_MS == 10
    click = silence(1000) + tone(20) + silence(1000)
    assert feed_all(click) == []
    burst = silence(1000) + tone(30) + silence(1000)
    assert feed_all(burst) == [SpeechStarted(700), SpeechStopped(1230)]
    # two 20 ms clicks with a 10 ms gap are not one 50 ms burst
    assert feed_all(silence(1000) + tone(20) + silence(10) + tone(20) + silence(500)) == []


def test_short_pauses_do_not_end_speech() -> None:
    audio = silence(500) + tone(300) + silence(190) + tone(300) + silence(500)
    assert feed_all(audio) == [SpeechStarted(200), SpeechStopped(1290 + 200)]


def test_silence_duration_rounds_up_to_whole_frames() -> None:
    audio = silence(1000) + tone(1000) + silence(1000)
    assert feed_all(audio, VadConfig(silence_duration_ms=205))[1] == SpeechStopped(2210)
    assert feed_all(audio, VadConfig(silence_duration_ms=0))[1] == SpeechStopped(2010)
    assert feed_all(audio, VadConfig(silence_duration_ms=800))[1] == SpeechStopped(2800)


def test_prefix_padding_is_floored_at_the_clock_start() -> None:
    assert feed_all(silence(100) + tone(500)) == [SpeechStarted(0)]
    assert feed_all(silence(1000) + tone(500), VadConfig(prefix_padding_ms=0)) == [
        SpeechStarted(1000)
    ]


def test_prefix_padding_is_floored_at_the_buffer_start() -> None:
    vad = VoiceActivityDetector()
    assert vad.feed(silence(1000)) == []
    vad.set_buffer_start_ms(900)
    assert vad.buffer_start_ms == 900
    assert vad.feed(tone(500)) == [SpeechStarted(900)]


# --- clock, reset and reconfiguration ------------------------------------------------------


@pytest.mark.parametrize(("fmt", "nbytes"), [("pcm16", 48), ("g711_ulaw", 8), ("g711_alaw", 8)])
def test_clock_counts_audio_fed(fmt: str, nbytes: int) -> None:
    vad = VoiceActivityDetector(fmt=fmt)
    assert vad.clock_ms == 0.0
    vad.feed(b"\x00" * (nbytes * 1234))
    assert vad.clock_ms == 1234.0
    vad.feed(b"\x00" * (nbytes // 8 * 3))  # 3/8 ms: whole samples only
    assert vad.clock_ms == 1234.375


def test_reset_drops_speech_without_an_event_and_keeps_the_clock() -> None:
    vad = VoiceActivityDetector()
    assert vad.feed(silence(1000) + tone(500)) == [SpeechStarted(700)]
    assert vad.in_speech
    vad.reset()  # as on input_audio_buffer.clear at clock 1500
    assert (vad.in_speech, vad.clock_ms, vad.buffer_start_ms) == (False, 1500.0, 1500)
    # the tone goes on: it is a new onset at 1500, floored at the new buffer start
    assert vad.feed(tone(500) + silence(300)) == [SpeechStarted(1500), SpeechStopped(2200)]


def test_reset_forgets_a_voiced_run_in_progress() -> None:
    vad = VoiceActivityDetector()
    vad.feed(silence(1000) + tone(20))
    vad.reset(buffer_start_ms=0)
    assert vad.buffer_start_ms == 0
    assert vad.feed(tone(20) + silence(100)) == []  # 20 + 20 ms, but split by the reset
    assert vad.feed(tone(30)) == [SpeechStarted(1140 - 300)]


def test_config_can_change_between_feeds() -> None:
    vad = VoiceActivityDetector()
    assert vad.feed(silence(1000) + tone(1000) + silence(100)) == [SpeechStarted(700)]
    vad.config = VadConfig(silence_duration_ms=500)
    assert vad.feed(silence(390)) == []
    assert vad.feed(silence(10)) == [SpeechStopped(2500)]
    vad.configure(VadConfig(threshold=0.95))
    assert vad.feed(tone(500)) == []


def test_format_can_change_between_feeds() -> None:
    vad = VoiceActivityDetector()
    vad.feed(silence(995))  # a partial 5 ms frame is carried...
    vad.fmt = "g711_ulaw"  # ...and dropped from analysis (not from the clock) on a change
    assert vad.fmt.name == "g711_ulaw"
    assert vad.clock_ms == 995.0
    events = vad.feed(tone(1000, "g711_ulaw") + silence(1000, "g711_ulaw"))
    assert events == [SpeechStarted(695), SpeechStopped(2195)]
    vad.configure(fmt="g711_ulaw")  # same format: no change
    assert vad.clock_ms == 2995.0


# --- chunking invariance and timing properties ----------------------------------------------

SCENE = (
    silence(700)
    + speech_like(1500, seed=4)
    + silence(400)
    + tone(25)
    + silence(300)
    + tone(600, amplitude=0.02)
    + silence(250)
)
SCENES = {fmt: to_protocol(from_protocol(SCENE, "pcm16")[0], 24000, fmt) for fmt in FORMAT_NAMES}


@given(
    st.sampled_from(FORMAT_NAMES),
    st.lists(st.integers(0, len(SCENE)), max_size=40),
    st.sampled_from([VadConfig(), VadConfig(silence_duration_ms=50, prefix_padding_ms=0)]),
)
def test_events_do_not_depend_on_chunking(fmt: str, cuts: list[int], config: VadConfig) -> None:
    audio = SCENES[fmt]
    whole = VoiceActivityDetector(config, fmt).feed(audio)
    assert len(whole) >= 4
    vad = VoiceActivityDetector(config, fmt)
    bounds = [0, *sorted(c * len(audio) // len(SCENE) for c in cuts), len(audio)]
    pieces = [vad.feed(audio[a:b]) for a, b in itertools.pairwise(bounds)]
    assert [event for events in pieces for event in events] == whole
    assert vad.clock_ms == len(audio) / (48 if fmt == "pcm16" else 8)


@settings(max_examples=30)
@given(
    st.sampled_from(FORMAT_NAMES),
    st.integers(0, 150).map(lambda n: 10 * n),
    st.integers(3, 100).map(lambda n: 10 * n),
    st.integers(0, 1000),
    st.integers(0, 600),
)
def test_turn_times_follow_the_documented_rule(
    fmt: str, lead_ms: int, speech_ms: int, padding_ms: int, silence_ms: int
) -> None:
    config = VadConfig(prefix_padding_ms=padding_ms, silence_duration_ms=silence_ms)
    stop_after = 10 * max(1, -(-silence_ms // 10))
    audio = silence(lead_ms, fmt) + tone(speech_ms, fmt) + silence(stop_after + 30, fmt)
    assert feed_all(audio, config, fmt) == [
        SpeechStarted(max(lead_ms - padding_ms, 0)),
        SpeechStopped(lead_ms + speech_ms + stop_after),
    ]


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, value in vars(_vad).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == _vad.__name__
    }
    assert public <= set(_vad.__all__)
    assert all(hasattr(_vad, name) for name in _vad.__all__)
