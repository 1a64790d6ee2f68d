"""Audio tools: format arithmetic, PCM and G.711 codecs, resampling, WAV files, generators."""

from __future__ import annotations

import hashlib
import struct
import warnings
import wave
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_realtime._core import _audio
from trio_realtime._core._audio import (
    G711_ALAW,
    G711_ULAW,
    PCM16,
    AudioFormatError,
    alaw_decode,
    alaw_encode,
    array_to_pcm16,
    audio_format,
    bytes_for_ms,
    bytes_per_ms,
    chunk_audio,
    duration_ms,
    from_protocol,
    load_wav_for_protocol,
    pcm16_to_array,
    pcm16_to_float,
    read_wav,
    resample,
    silence,
    speech_like,
    to_protocol,
    tone,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)

FORMAT_NAMES = ["pcm16", "g711_ulaw", "g711_alaw"]
RATES = [8000, 16000, 22050, 24000, 44100, 48000]
ALL_PCM16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def spectrum_peak_hz(x: npt.NDArray[Any], rate: int) -> float:
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(mag) * rate / len(x))


def rms(x: npt.NDArray[Any]) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


def sine(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> npt.NDArray[Any]:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)


def audioop_or_skip() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop
    except ImportError:  # Python 3.13+
        pytest.skip("audioop is not available on this Python")
    return audioop


# --- formats -------------------------------------------------------------------------------


def test_formats_have_the_protocol_rates_and_sizes() -> None:
    assert (PCM16.sample_rate, PCM16.sample_width, PCM16.bytes_per_ms) == (24000, 2, 48)
    for f in (G711_ULAW, G711_ALAW):
        assert (f.sample_rate, f.sample_width, f.bytes_per_ms) == (8000, 1, 8)
    assert [bytes_per_ms(name) for name in FORMAT_NAMES] == [48, 8, 8]
    assert audio_format(PCM16) is PCM16
    assert audio_format("g711_alaw") is G711_ALAW


def test_unknown_format_name_is_a_value_error_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown audio format 'mp3'.*pcm16.*g711_alaw"):
        bytes_per_ms("mp3")
    with pytest.raises(AudioFormatError):
        silence(10, "wav")


def test_duration_ms_of_bytes() -> None:
    assert duration_ms(4800, "pcm16") == 100.0
    assert duration_ms(800, "g711_ulaw") == 100.0
    assert duration_ms(24, "pcm16") == 0.5
    with pytest.raises(ValueError, match="nbytes"):
        duration_ms(-1, "pcm16")


def test_bytes_for_ms_rounds_down_to_whole_samples() -> None:
    assert bytes_for_ms(100, "pcm16") == 4800
    assert bytes_for_ms(12.5, "pcm16") == 600
    assert bytes_for_ms(0.05, "pcm16") == 2  # 1.2 samples -> 1 sample
    assert bytes_for_ms(0.01, "pcm16") == 0
    assert bytes_for_ms(0.1, "g711_ulaw") == 0
    assert bytes_for_ms(0.125, "g711_alaw") == 1
    with pytest.raises(ValueError, match="ms must be"):
        bytes_for_ms(-1, "pcm16")
    with pytest.raises(ValueError, match="ms must be"):
        bytes_for_ms(float("nan"), "pcm16")


@given(st.sampled_from(FORMAT_NAMES), st.integers(0, 10**7))
def test_whole_ms_round_trip_through_bytes(fmt: str, ms: int) -> None:
    assert duration_ms(bytes_for_ms(ms, fmt), fmt) == ms


# --- PCM16 <-> numpy -----------------------------------------------------------------------


def test_pcm16_is_little_endian() -> None:
    assert array_to_pcm16(np.array([1, -2], dtype=np.int16)) == b"\x01\x00\xfe\xff"
    assert pcm16_to_array(b"\x01\x00\xfe\xff").tolist() == [1, -2]


def test_array_to_pcm16_scales_and_clips_floats() -> None:
    floats = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    assert pcm16_to_array(array_to_pcm16(floats)).tolist() == [
        -32768,
        -32768,
        -16384,
        0,
        16384,
        32767,
        32767,
    ]
    assert pcm16_to_array(array_to_pcm16(np.array([40000, -40000]))).tolist() == [32767, -32768]


def test_array_to_pcm16_refuses_non_numeric_arrays() -> None:
    with pytest.raises(TypeError, match="dtype bool"):
        array_to_pcm16(np.array([True]))


def test_odd_length_pcm16_is_refused() -> None:
    with pytest.raises(AudioFormatError, match="whole number of 2-byte frames, got 3 bytes"):
        pcm16_to_array(b"abc")
    with pytest.raises(AudioFormatError):
        pcm16_to_float(b"a")


def test_pcm16_to_float_is_in_unit_range() -> None:
    x = pcm16_to_float(array_to_pcm16(np.array([-32768, 0, 32767], dtype=np.int16)))
    assert x.dtype == np.float32
    assert x.tolist() == [-1.0, 0.0, 32767 / 32768]


@given(st.binary().map(lambda b: b[: len(b) // 2 * 2]))
def test_pcm16_bytes_round_trip_through_arrays(pcm: bytes) -> None:
    assert array_to_pcm16(pcm16_to_array(pcm)) == pcm
    assert array_to_pcm16(pcm16_to_float(pcm)) == pcm


# --- G.711 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "ulaw", "alaw"),
    [
        (0, 0xFF, 0xD5),
        (1, 0xFF, 0xD5),
        (-1, 0x7E, 0x55),
        (100, 0xF2, 0xD3),
        (-100, 0x72, 0x53),
        (1000, 0xCE, 0xFA),
        (-1000, 0x4E, 0x7A),
        (32767, 0x80, 0xAA),
        (-32768, 0x00, 0x2A),
    ],
)
def test_g711_encodes_known_vectors(sample: int, ulaw: int, alaw: int) -> None:
    pcm = struct.pack("<h", sample)
    assert ulaw_encode(pcm) == bytes([ulaw])
    assert alaw_encode(pcm) == bytes([alaw])


def test_g711_matches_the_reference_tables() -> None:
    # SHA-256 of audioop's output (CPython 3.11, width 2) over every int16 value and every code.
    digests = {
        "ulaw_encode": "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a",
        "alaw_encode": "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b",
        "ulaw_decode": "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827",
        "alaw_decode": "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174",
    }
    outputs = {
        "ulaw_encode": ulaw_encode(ALL_PCM16),
        "alaw_encode": alaw_encode(ALL_PCM16),
        "ulaw_decode": ulaw_decode(ALL_CODES),
        "alaw_decode": alaw_decode(ALL_CODES),
    }
    assert {k: hashlib.sha256(v).hexdigest() for k, v in outputs.items()} == digests


def test_g711_matches_audioop_where_it_still_exists() -> None:
    audioop = audioop_or_skip()
    assert ulaw_encode(ALL_PCM16) == audioop.lin2ulaw(ALL_PCM16, 2)
    assert alaw_encode(ALL_PCM16) == audioop.lin2alaw(ALL_PCM16, 2)
    assert ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)
    assert alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


def test_g711_silence_codes_decode_to_near_zero() -> None:
    assert ulaw_decode(b"\xff\x7f") == b"\x00\x00\x00\x00"
    assert pcm16_to_array(alaw_decode(b"\xd5\x55")).tolist() == [8, -8]


def test_alaw_decode_then_encode_is_the_identity_on_every_code() -> None:
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES


def test_ulaw_decode_then_encode_is_the_identity_except_negative_zero() -> None:
    expected = bytearray(ALL_CODES)
    expected[0x7F] = 0xFF  # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF
    assert ulaw_encode(ulaw_decode(ALL_CODES)) == bytes(expected)


@given(st.binary(max_size=4000).map(lambda b: b[: len(b) // 2 * 2]))
def test_g711_encoding_is_stable_after_one_round_trip(pcm: bytes) -> None:
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        code = encode(pcm)
        assert len(code) == len(pcm) // 2
        assert encode(decode(code)) == code


def test_g711_quantisation_error_is_bounded() -> None:
    x = pcm16_to_array(ALL_PCM16).astype(np.int32)
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        y = pcm16_to_array(decode(encode(ALL_PCM16))).astype(np.int32)
        # within 1/16 of the level (8-bit log coding), 16 near 0; u-law saturates at 32124
        bound = np.where(np.abs(x) <= 32124, np.maximum(np.abs(x) / 16, 16), 644)
        assert np.all(np.abs(y - x) <= bound)


def test_g711_encoders_refuse_odd_length() -> None:
    with pytest.raises(AudioFormatError):
        ulaw_encode(b"\x00")
    with pytest.raises(AudioFormatError):
        alaw_encode(b"\x00\x00\x00")


# --- resampling --------------------------------------------------------------------------


@pytest.mark.parametrize(("from_rate", "to_rate"), [(48000, 24000), (16000, 24000), (44100, 24000)])
def test_resampling_keeps_a_tone_frequency_and_level(from_rate: int, to_rate: int) -> None:
    y = resample(sine(1000.0, from_rate), from_rate, to_rate)
    assert len(y) == to_rate
    middle = y[to_rate // 4 : 3 * to_rate // 4]  # away from the zero-padded edges
    assert abs(spectrum_peak_hz(middle, to_rate) - 1000.0) <= 2.0
    assert abs(20 * np.log10(rms(middle) / (0.5 / np.sqrt(2)))) < 0.1


def test_resampling_down_removes_content_above_the_new_nyquist() -> None:
    x = sine(10_000.0, 48000)
    y = resample(x, 48000, 8000)  # 10 kHz would alias to 2 kHz
    attenuation_db = 20 * np.log10(rms(x) / rms(y[1000:-1000]))
    assert attenuation_db > 30


def test_resampling_keeps_dc_level() -> None:
    y = resample(np.full(4800, 0.25), 48000, 22050)
    np.testing.assert_allclose(y[200:-200], 0.25, atol=1e-9)


def test_resampling_keeps_dtype_and_channels() -> None:
    stereo = np.stack([sine(440.0, 48000, 0.1), -sine(440.0, 48000, 0.1)], axis=1)
    y = resample(stereo.astype(np.float32), 48000, 24000)
    assert y.shape == (2400, 2)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], -y[:, 1], atol=1e-6)
    ints = resample(np.full(1000, 30000, dtype=np.int16), 8000, 24000)
    assert ints.dtype == np.int16
    assert len(ints) == 3000


def test_resampling_at_the_same_rate_returns_a_copy() -> None:
    x = np.arange(10, dtype=np.int16)
    y = resample(x, 16000, 16000)
    assert y is not x
    assert y.tolist() == x.tolist()


def test_resampling_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10), 0, 24000)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        resample(np.zeros((2, 2, 2)), 8000, 24000)
    with pytest.raises(TypeError):
        resample(np.array(["a"]), 8000, 24000)


@settings(max_examples=40)
@given(st.integers(0, 3000), st.sampled_from(RATES), st.sampled_from(RATES))
def test_resampling_preserves_duration_to_the_sample(n: int, from_rate: int, to_rate: int) -> None:
    y = resample(np.zeros(n, dtype=np.float32), from_rate, to_rate)
    exact = n * to_rate / from_rate
    assert len(y) == int(np.floor(exact + 0.5))  # round half up
    assert abs(len(y) - exact) <= 0.5


# --- protocol conversions ------------------------------------------------------------------


def test_to_protocol_mixes_resamples_and_encodes() -> None:
    left = sine(440.0, 48000)
    out = to_protocol(np.stack([left, left], axis=1), 48000, "pcm16")
    assert len(out) == 48000  # 1 s of 24 kHz pcm16
    assert abs(spectrum_peak_hz(pcm16_to_float(out), 24000) - 440.0) <= 2.0
    cancelled = to_protocol(np.stack([left, -left], axis=1), 48000, "g711_ulaw")
    assert len(cancelled) == 8000
    assert set(cancelled) == {0xFF}


def test_to_protocol_accepts_interleaved_pcm_bytes() -> None:
    mono = array_to_pcm16(sine(300.0, 24000, 0.1))
    assert to_protocol(mono, 24000) == mono  # nothing to do
    stereo = array_to_pcm16(np.repeat(pcm16_to_array(mono)[:, None], 2, axis=1))
    assert to_protocol(stereo, 24000, channels=2) == mono
    assert to_protocol(mono, 24000, "g711_alaw") == alaw_encode(
        array_to_pcm16(resample(pcm16_to_float(mono), 24000, 8000))
    )
    with pytest.raises(AudioFormatError, match="4-byte frames"):
        to_protocol(b"\x00" * 6, 24000, channels=2)


def test_from_protocol_gives_int16_and_rate() -> None:
    samples, rate = from_protocol(tone(100, fmt="pcm16"), "pcm16")
    assert samples.dtype == np.int16
    assert (len(samples), rate) == (2400, 24000)
    for fmt in ("g711_ulaw", "g711_alaw"):
        samples, rate = from_protocol(silence(100, fmt), fmt)
        assert samples.dtype == np.int16
        assert (len(samples), rate) == (800, 8000)
        assert np.max(np.abs(samples)) <= 8


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_protocol_audio_round_trips_through_int16(fmt: str) -> None:
    data = speech_like(200, fmt=fmt)
    samples, rate = from_protocol(data, fmt)
    assert rate == audio_format(fmt).sample_rate
    assert to_protocol(samples, rate, fmt) == data


# --- WAV files -----------------------------------------------------------------------------


def write_raw_wav(path: Path, frames: bytes, *, width: int, rate: int, channels: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


def test_wav_16_bit_round_trip(tmp_path: Path) -> None:
    pcm = tone(50, 1000.0)
    write_wav(tmp_path / "a.wav", pcm)
    wav = read_wav(tmp_path / "a.wav")
    assert (wav.sample_rate, wav.sample_width, wav.channels) == (24000, 2, 1)
    assert wav.samples.shape == (1200, 1)
    assert wav.duration_ms == 50.0
    assert array_to_pcm16(wav.mono()) == pcm
    assert load_wav_for_protocol(tmp_path / "a.wav") == pcm


def test_wav_8_bit_is_unsigned(tmp_path: Path) -> None:
    write_raw_wav(tmp_path / "u8.wav", bytes([0, 64, 128, 255]), width=1, rate=8000, channels=1)
    wav = read_wav(tmp_path / "u8.wav")
    assert wav.sample_width == 1
    assert wav.samples[:, 0].tolist() == [-1.0, -0.5, 0.0, 127 / 128]


def test_wav_24_bit(tmp_path: Path) -> None:
    values = [-(2**23), -1, 0, 256, 2**23 - 1]
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    write_raw_wav(tmp_path / "s24.wav", raw, width=3, rate=16000, channels=1)
    wav = read_wav(str(tmp_path / "s24.wav"))
    assert wav.sample_width == 3
    np.testing.assert_allclose(wav.samples[:, 0], np.array(values) / 2**23, rtol=1e-6)


def test_wav_32_bit(tmp_path: Path) -> None:
    raw = np.array([-(2**31), 2**30], dtype="<i4").tobytes()
    write_raw_wav(tmp_path / "s32.wav", raw, width=4, rate=16000, channels=1)
    assert read_wav(tmp_path / "s32.wav").samples[:, 0].tolist() == [-1.0, 0.5]


def test_wav_stereo_44k1_converts_for_the_protocol(tmp_path: Path) -> None:
    left = sine(1000.0, 44100)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    write_wav(tmp_path / "st.wav", array_to_pcm16(stereo), rate=44100, channels=2)
    wav = read_wav(tmp_path / "st.wav")
    assert (wav.sample_rate, wav.channels, wav.samples.shape) == (44100, 2, (44100, 2))
    np.testing.assert_allclose(wav.mono(), wav.samples[:, 0] / 2, atol=1e-7)
    for fmt, nbytes in (("pcm16", 48000), ("g711_ulaw", 8000), ("g711_alaw", 8000)):
        data = load_wav_for_protocol(tmp_path / "st.wav", fmt)
        assert len(data) == nbytes
        samples, rate = from_protocol(data, fmt)
        middle = samples[rate // 4 : 3 * rate // 4]
        assert abs(spectrum_peak_hz(middle, rate) - 1000.0) <= 2.0
        assert abs(rms(middle) / 32768 - 0.25 / np.sqrt(2)) < 0.01  # half-level after mixing


def test_wav_that_is_not_a_wav_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not a RIFF file at all" * 10)
    with pytest.raises(AudioFormatError, match="not a supported WAV file") as info:
        read_wav(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFormatError):
        read_wav(tmp_path / "empty.wav")


def test_missing_wav_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_wav(tmp_path / "nope.wav")


def test_write_wav_refuses_torn_frames(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError):
        write_wav(tmp_path / "x.wav", b"\x00\x00", channels=2)
    with pytest.raises(ValueError, match="rate"):
        write_wav(tmp_path / "x.wav", b"", rate=0)


# --- generators ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "byte"), [("pcm16", 0), ("g711_ulaw", 0xFF), ("g711_alaw", 0xD5)])
def test_silence_is_the_format_zero(fmt: str, byte: int) -> None:
    data = silence(250, fmt)
    assert len(data) == bytes_for_ms(250, fmt)
    assert set(data) == {byte}
    assert silence(0, fmt) == b""


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_tone_has_its_frequency_level_and_length(fmt: str) -> None:
    data = tone(500, freq_hz=1000.0, amplitude=0.5, fmt=fmt)
    assert len(data) == bytes_for_ms(500, fmt)
    samples, rate = from_protocol(data, fmt)
    assert abs(spectrum_peak_hz(samples, rate) - 1000.0) <= 2.0
    assert abs(rms(samples) / 32768 - 0.5 / np.sqrt(2)) < 0.01
    assert tone(500, 1000.0, 0.5, fmt) == data


def test_tone_refuses_bad_amplitude_and_frequency() -> None:
    with pytest.raises(ValueError, match="amplitude"):
        tone(10, amplitude=1.5)
    with pytest.raises(ValueError, match="freq_hz"):
        tone(10, freq_hz=-1.0)


def test_speech_like_is_deterministic_per_seed() -> None:
    assert speech_like(1000, seed=1) == speech_like(1000, seed=1)
    assert speech_like(1000, seed=1) != speech_like(1000, seed=2)
    assert speech_like(2000, seed=3).startswith(speech_like(700, seed=3))
    assert len(speech_like(1000, fmt="g711_ulaw")) == 8000


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_speech_like_alternates_loud_syllables_and_short_quiet_gaps(fmt: str) -> None:
    samples, rate = from_protocol(speech_like(5000, seed=0, fmt=fmt), fmt)
    frames = samples.astype(np.float64).reshape(-1, rate // 100) / 32768
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = level_db > -40  # the VAD's default threshold
    assert loud[0]  # starts with a syllable
    assert 0.5 < loud.mean() < 0.9
    assert np.median(level_db[loud]) > -25
    assert np.median(level_db[~loud]) < -60
    starts = np.flatnonzero(np.diff(loud.astype(int), prepend=-1))
    lengths = np.diff(starts, append=len(loud))
    runs = [(bool(loud[i]), int(n)) for i, n in zip(starts, lengths, strict=True)]
    assert max(n for is_loud, n in runs if not is_loud) < 20  # every gap is under 200 ms
    assert min(n for is_loud, n in runs[:-1] if is_loud) >= 10  # whole syllables: >= 100 ms


# --- chunking ------------------------------------------------------------------------------


@given(st.sampled_from(FORMAT_NAMES), st.integers(0, 3000), st.integers(1, 500))
def test_chunks_join_back_to_the_input(fmt: str, nbytes: int, chunk_ms: int) -> None:
    data = bytes(range(256)) * 12
    data = data[: nbytes - nbytes % audio_format(fmt).sample_width]
    chunks = list(chunk_audio(data, chunk_ms, fmt))
    assert b"".join(chunks) == data
    size = bytes_for_ms(chunk_ms, fmt)
    assert all(len(c) == size for c in chunks[:-1])
    assert all(0 < len(c) <= size for c in chunks)


def test_chunking_checks_its_arguments_at_the_call() -> None:
    with pytest.raises(ValueError, match="shorter than one"):
        chunk_audio(b"\x00\x00", 0.01, "pcm16")
    with pytest.raises(AudioFormatError):
        chunk_audio(b"\x00", 10, "pcm16")
    assert [len(c) for c in chunk_audio(silence(25), 10)] == [480, 480, 240]
    assert [len(c) for c in chunk_audio(silence(0.5, "pcm16"), 0.1)] == [4] * 6


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, value in vars(_audio).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == _audio.__name__
    }
    assert public <= set(_audio.__all__)
    assert all(hasattr(_audio, name) for name in _audio.__all__)
    assert _audio.__all__ == sorted(_audio.__all__, key=lambda n: (not n.isupper(), n))
