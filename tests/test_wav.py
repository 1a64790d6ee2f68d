"""Reading WAV files: the RIFF container, WAVE_FORMAT_EXTENSIBLE, float and G.711 encodings.

Files are built byte by byte here, because the standard library's ``wave`` writes only the
basic PCM header (which is the case these tests check against ``wave`` itself).
"""

from __future__ import annotations

import io
import struct
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_realtime._core._audio import (
    AudioFormatError,
    alaw_decode,
    alaw_encode,
    array_to_pcm16,
    load_wav_for_protocol,
    read_wav,
    to_protocol,
    tone,
    ulaw_decode,
    ulaw_encode,
)

RATES = [8000, 16000, 22050, 24000, 44100, 48000]


def riff(*chunks: tuple[bytes, bytes], data_size: int | None = None) -> bytes:
    """A RIFF/WAVE file of the given (id, body) chunks; ``data_size`` overrides the data size."""
    body = b"WAVE"
    for chunk_id, chunk in chunks:
        size = data_size if chunk_id == b"data" and data_size is not None else len(chunk)
        pad = b"\x00" if size % 2 and size != 0xFFFFFFFF else b""  # streaming: no padding
        body += chunk_id + struct.pack("<I", size) + chunk + pad
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int, channels: int, rate: int, width: int, *, extensible: bool = False) -> bytes:
    align = width * channels
    basic = struct.pack(
        "<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, 8 * width
    )
    if not extensible:
        return basic
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return basic + struct.pack("<HHI", 22, 8 * width, 0) + struct.pack("<H", tag) + guid_tail


def test_float_wav_is_read(tmp_path: Path) -> None:
    values = np.array([[0.5, -0.25], [1.0, 0.0], [-1.0, 0.125]])
    for width, dtype in ((4, "<f4"), (8, "<f8")):
        data = values.astype(dtype).tobytes()
        path = tmp_path / f"float{width}.wav"
        path.write_bytes(riff((b"fmt ", fmt_chunk(3, 2, 16000, width)), (b"data", data)))
        wav = read_wav(path)
        assert (wav.encoding, wav.sample_width, wav.channels, wav.sample_rate) == (
            "float",
            width,
            2,
            16000,
        )
        np.testing.assert_array_equal(wav.samples, values.astype(np.float32))


def test_extensible_wav_is_read(tmp_path: Path) -> None:
    # What ffmpeg writes for 24-bit or multi-channel audio; wave refuses it on Python 3.11.
    values = [-(2**23), -1, 0, 256, 2**23 - 1, 5]
    data = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    path = tmp_path / "ext24.wav"
    path.write_bytes(riff((b"fmt ", fmt_chunk(1, 3, 48000, 3, extensible=True)), (b"data", data)))
    wav = read_wav(path)
    assert (wav.encoding, wav.sample_width, wav.channels, wav.samples.shape) == (
        "pcm",
        3,
        3,
        (2, 3),
    )
    np.testing.assert_allclose(wav.samples.ravel(), np.array(values) / 2**23, rtol=1e-6)


@pytest.mark.parametrize(
    ("tag", "encode", "encoding"), [(7, ulaw_encode, "ulaw"), (6, alaw_encode, "alaw")]
)
def test_g711_wav_is_read(tmp_path: Path, tag: int, encode: Any, encoding: str) -> None:
    pcm = tone(100, 440.0, 0.5, "pcm16")
    pcm8k = to_protocol(pcm, 24000, "pcm16")[: 2 * 800]
    codes = encode(pcm8k)
    path = tmp_path / f"{encoding}.wav"
    path.write_bytes(riff((b"fmt ", fmt_chunk(tag, 1, 8000, 1)), (b"data", codes)))
    wav = read_wav(path)
    assert (wav.encoding, wav.sample_rate, wav.sample_width) == (encoding, 8000, 1)
    decoded = alaw_decode(codes) if encoding == "alaw" else ulaw_decode(codes)
    assert array_to_pcm16(wav.mono()) == decoded
    assert len(load_wav_for_protocol(path)) == 100 * 48  # 100 ms at 24 kHz


def test_wav_chunks_are_walked_and_a_streaming_data_size_reads_to_the_end(tmp_path: Path) -> None:
    pcm = tone(20, 1000.0)
    odd = (b"LIST", b"INFOabc")  # odd length: padded to even, as RIFF requires
    path = tmp_path / "stream.wav"
    path.write_bytes(
        riff(
            odd,
            (b"fmt ", fmt_chunk(1, 1, 24000, 2)),
            (b"data", pcm + b"\x01"),
            data_size=0xFFFFFFFF,
        )
    )
    wav = read_wav(path)
    assert array_to_pcm16(wav.mono()) == pcm  # the torn last sample is dropped


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            riff((b"fmt ", fmt_chunk(2, 1, 8000, 1)), (b"data", b"\x00" * 8)),
            "0x0002 \\(MS ADPCM\\)",
        ),
        (riff((b"data", b"\x00" * 8)), "data chunk before the fmt chunk"),
        (riff((b"fmt ", fmt_chunk(1, 1, 8000, 2))), "no data chunk"),
        (riff((b"fmt ", b"\x01\x00")), "too short"),
        (
            riff((b"fmt ", fmt_chunk(3, 1, 8000, 2)), (b"data", b"")),
            "unsupported float sample width",
        ),
        (riff((b"fmt ", fmt_chunk(1, 1, 0, 2)), (b"data", b"")), "invalid sample rate 0"),
    ],
)
def test_unsupported_wav_files_are_refused_in_one_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=reason) as info:
        load_wav_for_protocol(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}: not a supported WAV file: ")


@settings(max_examples=25)
@given(
    st.sampled_from([1, 2, 3, 4]),
    st.integers(1, 3),
    st.sampled_from(RATES),
    st.binary(max_size=600),
)
def test_any_pcm_wav_the_wave_module_writes_reads_back(
    width: int, channels: int, rate: int, raw: bytes
) -> None:
    frames = raw[: len(raw) - len(raw) % (width * channels)]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "any.wav"
        path.write_bytes(buffer.getvalue())
        wav = read_wav(path)
    assert (wav.sample_width, wav.channels, wav.sample_rate) == (width, channels, rate)
    assert wav.samples.shape == (len(frames) // (width * channels), channels)
    assert np.all(wav.samples >= -1.0)
    assert np.all(wav.samples < 1.0)
