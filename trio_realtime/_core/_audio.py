"""Audio tools for the Realtime protocol's three formats, sans-I/O (WAV helpers aside).

The protocol carries audio as base64 of raw bytes in one of three formats:

* ``"pcm16"``: 16-bit signed little-endian mono PCM at 24 kHz, 48 bytes per millisecond.
* ``"g711_ulaw"`` / ``"g711_alaw"``: ITU G.711 at 8 kHz, one byte per sample, 8 bytes per ms.

Sample conventions used throughout:

* "int16 samples" are :class:`numpy.int16` arrays; "float samples" are floats where full scale
  is ``[-1, 1)``, with ``float = int16 / 32768``. Converting float to int16 multiplies by 32768,
  rounds to nearest and clips to ``[-32768, 32767]``.
* Multi-channel arrays have shape ``(frames, channels)``; mono arrays have shape ``(frames,)``.

Nothing here uses :mod:`audioop` (removed in Python 3.13); G.711 and resampling are numpy.
"""

from __future__ import annotations

import math
import os
import wave
from typing import Any, Final, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from ._audio_format import (
    FORMATS,
    G711_ALAW,
    G711_ULAW,
    PCM16,
    AudioFormat,
    audio_format,
    bytes_for_ms,
    bytes_per_ms,
    check_whole_samples,
    chunk_audio,
    duration_ms,
    silence,
)
from ._errors import AudioFormatError
from ._g711 import ALAW_TO_PCM16, ULAW_TO_PCM16, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ._wav import WavEncoding, decode_wav

# fmt: off
__all__ = [
    "FORMATS", "G711_ALAW", "G711_ULAW", "PCM16", "AudioFormat", "AudioFormatError", "WavAudio",
    "alaw_decode", "alaw_encode", "array_to_pcm16", "audio_format", "bytes_for_ms", "bytes_per_ms",
    "chunk_audio", "duration_ms", "from_protocol", "load_wav_for_protocol", "pcm16_to_array",
    "pcm16_to_float", "read_wav", "resample", "silence", "speech_like", "to_protocol", "tone",
    "ulaw_decode", "ulaw_encode", "write_wav",
]
# fmt: on

Int16Array: TypeAlias = npt.NDArray[np.int16]
Float32Array: TypeAlias = npt.NDArray[np.float32]
_FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
_PathLike: TypeAlias = str | os.PathLike[str]


# --- PCM16 <-> numpy ---------------------------------------------------------------------------


def pcm16_to_array(pcm: bytes) -> Int16Array:
    """Decode 16-bit little-endian PCM into a new writable int16 array.

    Raises AudioFormatError if ``len(pcm)`` is odd.
    """
    check_whole_samples(pcm, PCM16)
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


def pcm16_to_float(pcm: bytes) -> Float32Array:
    """Decode 16-bit little-endian PCM into float32 samples in ``[-1, 1)`` (``int16 / 32768``).

    Raises AudioFormatError if ``len(pcm)`` is odd.
    """
    check_whole_samples(pcm, PCM16)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)


def _float_to_int16(a: npt.NDArray[Any]) -> Int16Array:
    scaled = np.rint(np.asarray(a, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def _as_int16(a: npt.ArrayLike) -> Int16Array:
    arr = np.asarray(a)
    if arr.dtype == np.int16:
        return arr.astype(np.int16, copy=False)
    if arr.dtype.kind in "iu":
        clipped: npt.NDArray[Any] = np.clip(arr, -32768, 32767)
        return clipped.astype(np.int16)
    if arr.dtype.kind == "f":
        return _float_to_int16(arr)
    raise TypeError(f"expected an integer or float sample array, got dtype {arr.dtype}")


def array_to_pcm16(a: npt.ArrayLike) -> bytes:
    """Encode samples as 16-bit little-endian PCM.

    ``a`` holds int16 samples (other integer types are clipped into the int16 range) or
    float samples (times 32768, rounded to nearest, clipped to the int16 range, so values
    outside ``[-1, 1]`` saturate). A 2-D ``(frames, channels)`` array gives interleaved PCM.

    Raises:
        TypeError: ``a`` is neither integer nor float (bool, complex, object).
    """
    return _as_int16(a).astype("<i2", copy=False).tobytes()


# --- Resampling: windowed-sinc rational resampler ----------------------------------------------

_ZERO_CROSSINGS: Final = 16  # sinc lobes kept on each side of the kernel centre
_ROLLOFF: Final = 0.94  # cutoff as a fraction of the lower Nyquist frequency
_KAISER_BETA: Final = 9.0
_BLOCK: Final = 4096  # output samples computed per vectorised block


def resample(samples: npt.ArrayLike, from_rate: int, to_rate: int) -> npt.NDArray[Any]:
    """Change the sample rate of a signal with a band-limited (anti-aliased) interpolator.

    Output sample ``n`` sits at input position ``n * from_rate / to_rate`` and is a
    Kaiser-windowed sinc interpolation, low-passed at 94 % of the lower Nyquist frequency,
    16 sinc lobes each side. The rate ratio is reduced to lowest terms, so at most
    ``to_rate / gcd`` filter phases exist; each is normalised to unit DC gain. The input is
    taken as zero outside the signal. Output length is ``round(len * to_rate / from_rate)``
    with halves rounded up, in integers: ``(len * to_rate + from_rate // 2) // from_rate``,
    so duration is preserved to the sample.

    Args:
        samples: Shape ``(frames,)`` or ``(frames, channels)``; each channel is resampled.
        from_rate: Input rate in Hz (> 0).
        to_rate: Output rate in Hz (> 0).

    Returns:
        A new array. Float input keeps its dtype (float32 stays float32); integer input is
        rounded and clipped back to its own dtype. Equal rates return a copy.

    Raises:
        ValueError: A rate is not positive or ``samples`` is not 1-D or 2-D.
        TypeError: ``samples`` is not an integer or float array.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    x = np.asarray(samples)
    if x.ndim not in (1, 2):
        raise ValueError(f"samples must be 1-D or 2-D (frames, channels), got {x.ndim}-D")
    if x.dtype.kind not in "iuf":
        raise TypeError(f"expected an integer or float sample array, got dtype {x.dtype}")
    if from_rate == to_rate:
        return x.copy()
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    n_in = x.shape[0]
    n_out = (n_in * to_rate + from_rate // 2) // from_rate
    xf = x.astype(np.float64).reshape(n_in, x.shape[1] if x.ndim == 2 else 1)

    scale = _ROLLOFF * min(1.0, to_rate / from_rate)  # cutoff, in cycles per 2 input samples
    half = math.ceil(_ZERO_CROSSINGS / scale)  # kernel half-width in input samples
    taps = 2 * half
    padded = np.concatenate(
        [np.zeros((half + 1, xf.shape[1])), xf, np.zeros((half + 1, xf.shape[1]))]
    )
    # Filter phases: output n sits at base + p / up with base = n*down // up, p = n*down % up.
    # Tap k reads input base - half + 1 + k, at distance (p / up) + half - 1 - k from the output.
    k = np.arange(taps)
    out = np.empty((n_out, xf.shape[1]))
    phase_cache: dict[int, npt.NDArray[np.float64]] = {}
    for start in range(0, n_out, _BLOCK):
        n = np.arange(start, min(start + _BLOCK, n_out), dtype=np.int64)
        base = n * down // up
        phase = n * down % up
        uniq, inverse = np.unique(phase, return_inverse=True)
        missing = [int(p) for p in uniq if int(p) not in phase_cache]
        if missing:
            dist = np.asarray(missing)[:, None] / up + (half - 1) - k[None, :]
            h = scale * np.sinc(scale * dist)
            arg = np.clip(1.0 - (dist / (half + 1)) ** 2, 0.0, None)
            h *= np.i0(_KAISER_BETA * np.sqrt(arg)) / np.i0(_KAISER_BETA)
            h /= h.sum(axis=1, keepdims=True)
            for p, row in zip(missing, h, strict=True):
                phase_cache[p] = row
        coeffs = np.stack([phase_cache[int(p)] for p in uniq])[inverse.ravel()]
        idx = (base + 2)[:, None] + k[None, :]  # padded index of input base - half + 1 + k
        out[start : start + len(n)] = np.einsum("nk,nkc->nc", coeffs, padded[idx])
    result = out.reshape((n_out, *x.shape[1:]))
    if x.dtype.kind == "f":
        return result.astype(x.dtype)
    info = np.iinfo(x.dtype)
    return np.clip(np.rint(result), info.min, info.max).astype(x.dtype)


# --- Protocol conversions ----------------------------------------------------------------------


def _encode_int16(pcm: Int16Array, f: AudioFormat) -> bytes:
    raw = pcm.astype("<i2", copy=False).tobytes()
    if f.name == "pcm16":
        return raw
    return ulaw_encode(raw) if f.name == "g711_ulaw" else alaw_encode(raw)


def to_protocol(
    samples_or_pcm: bytes | npt.ArrayLike,
    rate: int,
    fmt: str | AudioFormat = "pcm16",
    *,
    channels: int = 1,
) -> bytes:
    """Convert audio at ``rate`` Hz to ``fmt``: mix to mono, resample, encode.

    ``samples_or_pcm`` is either bytes of interleaved 16-bit little-endian PCM with
    ``channels`` channels, or a sample array (int16, or float in ``[-1, 1]``) of shape
    ``(frames,)`` or ``(frames, channels)``. pcm16 is resampled to 24 kHz, G.711 to 8 kHz.
    The result is ready to base64 into ``input_audio_buffer.append``.

    Raises:
        AudioFormatError: Unknown format, or PCM bytes not a whole number of frames.
        ValueError: ``rate`` is not positive or the array is not 1-D or 2-D.
    """
    f = audio_format(fmt)
    if isinstance(samples_or_pcm, bytes | bytearray | memoryview):
        raw = bytes(samples_or_pcm)
        check_whole_samples(raw, PCM16, channels)
        arr: npt.NDArray[Any] = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)
    else:
        arr = np.asarray(samples_or_pcm)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        arr = arr.astype(np.float64) / (32768.0 if arr.dtype.kind in "iu" else 1.0)
        arr = arr.mean(axis=1)
    elif arr.ndim != 1:
        raise ValueError(f"samples must be 1-D or 2-D (frames, channels), got {arr.ndim}-D")
    if rate != f.sample_rate:
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.float64) / 32768.0
        arr = resample(arr, rate, f.sample_rate)
    return _encode_int16(_as_int16(arr), f)


def from_protocol(data: bytes, fmt: str | AudioFormat) -> tuple[Int16Array, int]:
    """Decode protocol audio to int16 samples.

    Returns:
        ``(samples, sample_rate)``: a writable int16 array of shape ``(frames,)`` and 24000
        for pcm16 or 8000 for G.711.

    Raises:
        AudioFormatError: Unknown format, or pcm16 of odd length.
    """
    f = audio_format(fmt)
    if f.name == "pcm16":
        return pcm16_to_array(data), f.sample_rate
    table = ULAW_TO_PCM16 if f.name == "g711_ulaw" else ALAW_TO_PCM16
    return table[np.frombuffer(data, dtype=np.uint8)], f.sample_rate


# --- WAV files ---------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class WavAudio:
    """Decoded WAV audio.

    Attributes:
        samples: float32 samples in ``[-1, 1)``, always of shape ``(frames, channels)``.
        sample_rate: Frames per second.
        sample_width: Bytes per sample in the file (1, 2, 3 or 4; 8 for 64-bit float).
        encoding: How the file coded its samples: ``"pcm"`` (integer PCM), ``"float"``
            (IEEE float), ``"ulaw"`` or ``"alaw"`` (G.711).
        missing_ms: Audio the file's header announces beyond the end of the file, in
            milliseconds: a file cut short (its samples are read as far as they go). 0 for a
            whole file, and for a streamed one whose size was left at 0xFFFFFFFF.
    """

    samples: Float32Array
    sample_rate: int
    sample_width: int
    encoding: WavEncoding = "pcm"
    missing_ms: float = 0.0

    @property
    def channels(self) -> int:
        """Number of channels."""
        return int(self.samples.shape[1])

    @property
    def duration_ms(self) -> float:
        """Duration in milliseconds."""
        return int(self.samples.shape[0]) * 1000 / self.sample_rate

    def mono(self) -> Float32Array:
        """The channels averaged into one float32 array of shape ``(frames,)``."""
        mixed: npt.NDArray[Any] = self.samples.mean(axis=1, dtype=np.float64)
        return mixed.astype(np.float32)


def read_wav(path: _PathLike) -> WavAudio:
    """Read a WAV file of any rate and channel count, in any common uncompressed encoding.

    Reads 8-bit unsigned and 16/24/32-bit signed PCM, 32/64-bit IEEE float and 8-bit G.711
    (mu-law, A-law), with the basic or the ``WAVE_FORMAT_EXTENSIBLE`` header (see
    :mod:`trio_realtime._core._wav`).

    Returns:
        The audio, as float32 of shape ``(frames, channels)``; use :meth:`WavAudio.mono` to
        mix down. A torn last frame is dropped; a file cut short is read as far as it goes,
        and :attr:`WavAudio.missing_ms` says how much it lacks.

    Raises:
        AudioFormatError: Not a WAV file, a compressed one (ADPCM, MP3, ...), or a malformed
            header. The message is one line and names the file.
        OSError: The file cannot be opened (``FileNotFoundError`` if it does not exist).
    """
    layout, samples = decode_wav(path)
    frame_bytes = layout.sample_width * layout.channels
    missing_ms = layout.missing_bytes / frame_bytes * 1000 / layout.sample_rate
    return WavAudio(
        samples, layout.sample_rate, layout.sample_width, layout.encoding, max(0.0, missing_ms)
    )


def load_wav_for_protocol(path: _PathLike, fmt: str | AudioFormat = "pcm16") -> bytes:
    """Read a WAV file and convert it for ``fmt``: mono, resampled, encoded.

    Raises the same exceptions as :func:`read_wav`, and AudioFormatError for an unknown format.
    """
    f = audio_format(fmt)
    wav = read_wav(path)
    return to_protocol(wav.mono(), wav.sample_rate, f)


def write_wav(path: _PathLike, pcm16: bytes, rate: int = 24000, channels: int = 1) -> None:
    """Write 16-bit little-endian PCM (interleaved if ``channels > 1``) as a WAV file.

    Raises:
        AudioFormatError: ``pcm16`` is not a whole number of frames.
        ValueError: ``rate`` or ``channels`` is not positive.
        OSError: The file cannot be written.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    check_whole_samples(pcm16, PCM16, channels)
    # The file is opened first: wave.open(path) failing to open it leaves a half-made
    # Wave_write whose __del__ prints an "Exception ignored" traceback.
    with open(os.fspath(path), "wb") as file, wave.open(file, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm16)


# --- Generators and chunking -------------------------------------------------------------------


def _encode_float(x: _FloatArray, f: AudioFormat) -> bytes:
    return _encode_int16(_float_to_int16(x), f)


def tone(
    ms: float, freq_hz: float = 440.0, amplitude: float = 0.5, fmt: str | AudioFormat = "pcm16"
) -> bytes:
    """A sine tone starting at phase 0, ``ms`` milliseconds long (whole samples, rounded down).

    ``amplitude`` is the peak as a fraction of full scale, in ``[0, 1]``; keep ``freq_hz``
    under half the format's rate (12 kHz / 4 kHz). ValueError for values out of range.
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError(f"amplitude must be in [0, 1], got {amplitude}")
    if freq_hz < 0:
        raise ValueError(f"freq_hz must be >= 0, got {freq_hz}")
    f = audio_format(fmt)
    t = np.arange(bytes_for_ms(ms, f) // f.sample_width) / f.sample_rate
    return _encode_float(amplitude * np.sin(2 * np.pi * freq_hz * t), f)


def speech_like(ms: float, seed: int = 0, fmt: str | AudioFormat = "pcm16") -> bytes:
    """A deterministic syllable-like test signal, ``ms`` milliseconds long.

    Syllables of 120-280 ms (a harmonic tone with a 90-230 Hz gliding fundamental, vowel-like
    formant weighting, and a rise-and-fall envelope peaking at 0.3-0.5 of full scale) alternate
    with 40-120 ms gaps, on whole-millisecond boundaries; a noise floor near -66 dBFS runs
    throughout. The audio starts with a syllable. Syllables are 10-40 dB above an energy VAD's
    default threshold, gaps 25 dB below it and shorter than a 200 ms silence. The layout
    depends only on ``seed``, not on the format or on ``ms`` (a longer signal extends a
    shorter one's pattern).

    ``ms`` is rounded down to whole samples; equal seeds give equal audio.
    """
    f = audio_format(fmt)
    rate = f.sample_rate
    n = bytes_for_ms(ms, f) // f.sample_width
    rng = np.random.default_rng([seed, 0])  # layout and voice; independent of ``n``
    out = np.random.default_rng([seed, 1]).normal(0.0, 0.0005, n)
    top = min(3800.0, 0.45 * rate)
    pos_ms = 0
    while pos_ms * rate // 1000 < n:
        length_ms, gap_ms = int(rng.integers(120, 281)), int(rng.integers(40, 121))
        f0, glide, peak = rng.uniform(90.0, 230.0), rng.uniform(-0.25, 0.15), rng.uniform(0.3, 0.5)
        formant1, formant2 = rng.uniform(300.0, 850.0), rng.uniform(900.0, 2300.0)
        length = length_ms * rate // 1000
        pos = pos_ms * rate // 1000
        t = np.arange(length) / rate
        phase = 2 * np.pi * np.cumsum(f0 * (1.0 + glide * t / t[-1])) / rate
        harmonics = np.arange(1, int(top / (f0 * (1.0 + max(glide, 0.0)))) + 1)
        weights = (1.0 / harmonics) * (
            0.3
            + np.exp(-(((harmonics * f0 - formant1) / 250.0) ** 2))
            + 0.6 * np.exp(-(((harmonics * f0 - formant2) / 350.0) ** 2))
        )
        voice = weights @ np.sin(np.outer(harmonics, phase))
        envelope = np.sin(np.pi * (np.arange(length) + 0.5) / length) ** 0.5
        syllable = voice * envelope * (peak / np.max(np.abs(voice)))
        end = min(n, pos + length)
        out[pos:end] += syllable[: end - pos]
        pos_ms += length_ms + gap_ms
    return _encode_float(out, f)
