"""The protocol's audio formats and their arithmetic, without numpy.

What a session needs to count, pace and chunk audio: the three formats, bytes per millisecond,
durations, silence and chunking. :mod:`trio_realtime._core._audio` adds the numpy-based tools
(conversion, resampling, G.711, WAV files, test signals) and re-exports all of this; keeping
these apart means ``import trio_realtime`` does not import numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Final

import attrs

from ._errors import AudioFormatError

__all__ = [
    "FORMATS",
    "G711_ALAW",
    "G711_ULAW",
    "PCM16",
    "AudioFormat",
    "audio_format",
    "bytes_for_ms",
    "bytes_per_ms",
    "check_whole_samples",
    "chunk_audio",
    "duration_ms",
    "silence",
]


# --- Formats and their arithmetic --------------------------------------------------------------


@attrs.frozen
class AudioFormat:
    """One of the protocol's audio formats.

    Attributes:
        name: The wire name: ``"pcm16"``, ``"g711_ulaw"`` or ``"g711_alaw"``.
        sample_rate: Samples per second (24000 or 8000).
        sample_width: Bytes per sample (2 or 1). All formats are mono.
    """

    name: str
    sample_rate: int
    sample_width: int

    @property
    def bytes_per_ms(self) -> int:
        """Bytes of audio per millisecond (48 for pcm16, 8 for G.711)."""
        return self.sample_rate * self.sample_width // 1000


PCM16: Final = AudioFormat("pcm16", 24000, 2)
"""16-bit signed little-endian mono PCM at 24 kHz."""
G711_ULAW: Final = AudioFormat("g711_ulaw", 8000, 1)
"""G.711 mu-law at 8 kHz."""
G711_ALAW: Final = AudioFormat("g711_alaw", 8000, 1)
"""G.711 A-law at 8 kHz."""
FORMATS: Final[dict[str, AudioFormat]] = {f.name: f for f in (PCM16, G711_ULAW, G711_ALAW)}
"""The protocol's formats by wire name."""


def audio_format(fmt: str | AudioFormat) -> AudioFormat:
    """The :class:`AudioFormat` named ``fmt`` (an :class:`AudioFormat` is returned as is).

    Raises:
        AudioFormatError: ``fmt`` is not one of the three names (a :class:`ValueError`).
    """
    if isinstance(fmt, AudioFormat):
        return fmt
    try:
        return FORMATS[fmt]
    except (KeyError, TypeError):
        raise AudioFormatError(
            f"unknown audio format {fmt!r}; expected one of {', '.join(FORMATS)}"
        ) from None


def bytes_per_ms(fmt: str | AudioFormat) -> int:
    """Bytes per millisecond of ``fmt``: 48 for pcm16, 8 for G.711 (AudioFormatError if unknown)."""
    return audio_format(fmt).bytes_per_ms


def duration_ms(nbytes: int, fmt: str | AudioFormat) -> float:
    """Duration in milliseconds of ``nbytes`` of audio in ``fmt`` (ValueError if negative)."""
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes}")
    return nbytes / audio_format(fmt).bytes_per_ms


def bytes_for_ms(ms: float, fmt: str | AudioFormat) -> int:
    """Bytes holding ``ms`` milliseconds of audio, rounded down to whole samples.

    The arithmetic is exact for the value given (``bytes_for_ms(12.5, "pcm16") == 600``,
    ``bytes_for_ms(0.1, "g711_ulaw") == 0``).

    Raises:
        AudioFormatError: Unknown format name.
        ValueError: ``ms`` is negative or not finite.
    """
    f = audio_format(fmt)
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"ms must be a finite number >= 0, got {ms!r}")
    samples = math.floor(Fraction(ms) * f.sample_rate / 1000)
    return samples * f.sample_width


def check_whole_samples(data: bytes, f: AudioFormat, channels: int = 1) -> None:
    """Raise AudioFormatError unless ``data`` is whole frames of ``channels`` samples of ``f``."""
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    if len(data) % (f.sample_width * channels):
        raise AudioFormatError(
            f"{f.name} audio with {channels} channel(s) must be a whole number of "
            f"{f.sample_width * channels}-byte frames, got {len(data)} bytes"
        )


# --- Silence and chunking ----------------------------------------------------------------------


def silence(ms: float, fmt: str | AudioFormat = "pcm16") -> bytes:
    """``ms`` milliseconds of digital silence (rounded down to whole samples).

    pcm16 silence is zero bytes; mu-law silence is ``0xFF`` bytes and A-law ``0xD5`` bytes.
    """
    f = audio_format(fmt)
    n = bytes_for_ms(ms, f)
    if f.name == "pcm16":
        return bytes(n)
    return (b"\xff" if f.name == "g711_ulaw" else b"\xd5") * n


def chunk_audio(data: bytes, chunk_ms: float, fmt: str | AudioFormat = "pcm16") -> Iterator[bytes]:
    """Split audio into chunks of ``chunk_ms`` (rounded down to whole samples).

    Every chunk but the last has exactly ``bytes_for_ms(chunk_ms, fmt)`` bytes; the last may
    be shorter. Joining the chunks gives ``data``; empty input gives no chunks. Arguments
    are checked at the call, not at the first ``next()``.

    Raises:
        AudioFormatError: Unknown format, or ``data`` not a whole number of samples.
        ValueError: ``chunk_ms`` is shorter than one sample.
    """
    f = audio_format(fmt)
    check_whole_samples(data, f)
    size = bytes_for_ms(chunk_ms, f)
    if size == 0:
        raise ValueError(f"chunk_ms={chunk_ms} is shorter than one {f.name} sample")
    view = memoryview(data)
    return (bytes(view[i : i + size]) for i in range(0, len(data), size))
