"""G.711 u-law and A-law, vectorised with numpy (``audioop`` is gone from Python 3.13)."""

from __future__ import annotations

from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

from ._errors import AudioFormatError

__all__ = [
    "ALAW_TO_PCM16",
    "ULAW_TO_PCM16",
    "alaw_decode",
    "alaw_encode",
    "ulaw_decode",
    "ulaw_encode",
]

Int16Array: TypeAlias = npt.NDArray[np.int16]

# --- G.711 (ITU-T G.711, as in the reference code audioop used: Sun's g711.c) ------------------

_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ALL_INT16 = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)  # by bit pattern


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    x = _ALL_INT16 >> 2  # 14-bit
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), 8159) + 0x21  # clip, add bias
    seg = np.searchsorted(_SEG_UEND, mag).astype(np.int32)
    code = (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode() -> Int16Array:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    x = _ALL_INT16 >> 3  # 13-bit
    mask = np.where(x >= 0, 0xD5, 0x55)
    mag = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_SEG_AEND, mag).astype(np.int32)  # never 8: |x| <= 4096
    quant = np.where(seg < 2, mag >> 1, mag >> seg) & 0xF
    return (((seg << 4) | quant) ^ mask).astype(np.uint8)


def _build_alaw_decode() -> Int16Array:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ULAW_ENC: Final = _build_ulaw_encode()
ULAW_TO_PCM16: Final = _build_ulaw_decode()
_ALAW_ENC: Final = _build_alaw_encode()
ALAW_TO_PCM16: Final = _build_alaw_decode()


def _g711_encode(pcm16: bytes, table: npt.NDArray[np.uint8]) -> bytes:
    if len(pcm16) % 2:
        raise AudioFormatError(
            f"pcm16 audio with 1 channel(s) must be a whole number of 2-byte frames, "
            f"got {len(pcm16)} bytes"
        )
    encoded: npt.NDArray[np.uint8] = table[np.frombuffer(pcm16, dtype="<u2")]
    return encoded.tobytes()


def _g711_decode(data: bytes, table: Int16Array) -> bytes:
    return table[np.frombuffer(data, dtype=np.uint8)].astype("<i2", copy=False).tobytes()


def ulaw_encode(pcm16: bytes) -> bytes:
    """Encode 16-bit PCM as G.711 mu-law, one byte per sample (AudioFormatError if odd length).

    Bit-exact with ITU-T G.711 as implemented by Sun's reference ``g711.c`` (and by the old
    ``audioop.lin2ulaw(pcm16, 2)``): the sample is shifted down to 14 bits, clipped to 8159,
    biased, and segment-encoded. Silence (0) encodes to ``0xFF``.
    """
    return _g711_encode(pcm16, _ULAW_ENC)


def ulaw_decode(data: bytes) -> bytes:
    """Decode G.711 mu-law to 16-bit little-endian PCM (as ``audioop.ulaw2lin(data, 2)``).

    Identities: ``ulaw_encode(ulaw_decode(c)) == c`` for every code except ``0x7F``
    (negative zero), which decodes to 0 like ``0xFF`` and so re-encodes as ``0xFF``; and
    ``ulaw_encode(ulaw_decode(ulaw_encode(p))) == ulaw_encode(p)`` for all PCM ``p``.
    """
    return _g711_decode(data, ULAW_TO_PCM16)


def alaw_encode(pcm16: bytes) -> bytes:
    """Encode 16-bit PCM as G.711 A-law, one byte per sample (AudioFormatError if odd length).

    Bit-exact with Sun's reference ``g711.c`` (and ``audioop.lin2alaw(pcm16, 2)``): the
    sample is shifted down to 13 bits, segment-encoded and even bits inverted. Silence (0)
    encodes to ``0xD5``.
    """
    return _g711_encode(pcm16, _ALAW_ENC)


def alaw_decode(data: bytes) -> bytes:
    """Decode G.711 A-law to 16-bit little-endian PCM (as ``audioop.alaw2lin(data, 2)``).

    Identities: ``alaw_encode(alaw_decode(c)) == c`` for all 256 codes, and
    ``alaw_encode(alaw_decode(alaw_encode(p))) == alaw_encode(p)`` for all PCM ``p``.
    """
    return _g711_decode(data, ALAW_TO_PCM16)
