"""Reading WAV files: the RIFF container and the sample encodings found in the wild.

The standard library's :mod:`wave` reads only plain PCM with the basic format header; on
Python 3.11 it refuses ``WAVE_FORMAT_EXTENSIBLE``, which is what ffmpeg, sox and most DAWs
write for 24-bit, 32-bit or multi-channel audio, and it never reads IEEE float or G.711 WAV
files (the usual telephony recording). This parser reads them all:

* format tag 1 (PCM), 8-bit unsigned and 16/24/32-bit signed little-endian;
* format tag 3 (IEEE float), 32- and 64-bit;
* format tags 6 and 7 (G.711 A-law and mu-law), 8-bit;
* format tag 0xFFFE (``WAVE_FORMAT_EXTENSIBLE``) whose sub-format is one of the above.

Chunks other than ``fmt `` and ``data`` (``LIST``, ``fact``, ``bext``...) are skipped. A data
chunk whose size runs past the end of the file (a truncated file, or a streaming writer that
left the size at 0xFFFFFFFF) is read as far as the file goes, and a torn last frame is
dropped, as :mod:`wave` does; :attr:`WavLayout.missing_bytes` says how much a truncated file
lacks, so a caller can warn (a file cut short is usually still worth using: a recorder
stopped with Ctrl-C, an interrupted download). Anything else is an
:class:`~trio_realtime.AudioFormatError` with a one-line message naming the file.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Final, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from ._errors import AudioFormatError
from ._g711 import ALAW_TO_PCM16, ULAW_TO_PCM16

__all__ = ["WavEncoding", "WavLayout", "decode_samples", "decode_wav", "parse_wav"]

Float32Array: TypeAlias = npt.NDArray[np.float32]
WavEncoding: TypeAlias = Literal["pcm", "float", "alaw", "ulaw"]

_PCM: Final = 0x0001
_FLOAT: Final = 0x0003
_ALAW: Final = 0x0006
_ULAW: Final = 0x0007
_EXTENSIBLE: Final = 0xFFFE
_ENCODINGS: Final[dict[int, tuple[WavEncoding, tuple[int, ...]]]] = {
    _PCM: ("pcm", (1, 2, 3, 4)),
    _FLOAT: ("float", (4, 8)),
    _ALAW: ("alaw", (1,)),
    _ULAW: ("ulaw", (1,)),
}
#: The data size a streaming writer leaves when it cannot seek back to fill it in.
_UNKNOWN_SIZE: Final = 0xFFFFFFFF
_TAG_NAMES: Final = {0x0002: "MS ADPCM", 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0055: "MP3"}


@attrs.frozen(kw_only=True)
class WavLayout:
    """What a WAV header says, and where its sample bytes are.

    Attributes:
        encoding: How samples are coded.
        channels: Interleaved channels per frame.
        sample_rate: Frames per second.
        sample_width: Bytes per sample (per channel).
        frames: The data chunk's bytes, trimmed to whole frames.
        missing_bytes: Bytes the data chunk's header announces beyond the end of the file:
            0 for a whole file, and for a streamed one whose size was left at 0xFFFFFFFF.
    """

    encoding: WavEncoding
    channels: int
    sample_rate: int
    sample_width: int
    frames: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    missing_bytes: int = 0


def _refuse(name: str, why: str) -> AudioFormatError:
    return AudioFormatError(f"{name}: not a supported WAV file: {why}")


def _parse_fmt(body: bytes, name: str) -> tuple[WavEncoding, int, int, int]:
    if len(body) < 16:
        raise _refuse(name, f"fmt chunk of {len(body)} bytes is too short")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE:
        if len(body) < 40:
            raise _refuse(name, "WAVE_FORMAT_EXTENSIBLE header is too short")
        tag = int.from_bytes(body[24:26], "little")  # the sub-format GUID starts with the tag
    if tag not in _ENCODINGS:
        what = _TAG_NAMES.get(tag, "compressed audio")
        raise _refuse(name, f"format tag 0x{tag:04x} ({what}); convert it to PCM first")
    encoding, widths = _ENCODINGS[tag]
    if channels < 1:
        raise _refuse(name, "no channels")
    if rate <= 0:
        raise _refuse(name, f"invalid sample rate {rate}")
    # The block alignment is the authority on the container width: 20-bit audio, for one,
    # travels in 3-byte containers with bits_per_sample = 20.
    width = block_align // channels if block_align else (bits + 7) // 8
    if width not in widths or block_align not in (0, width * channels):
        raise _refuse(name, f"unsupported {encoding} sample width of {bits} bits")
    return encoding, channels, rate, width


def parse_wav(data: bytes, name: str = "<wav>") -> WavLayout:
    """Parse the RIFF/WAVE container in ``data``.

    Raises:
        AudioFormatError: Not a RIFF/WAVE file, no ``fmt `` or ``data`` chunk, or an
            encoding this module does not decode (ADPCM, MP3...).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _refuse(name, "no RIFF/WAVE header")
    layout: tuple[WavEncoding, int, int, int] | None = None
    frames: bytes | None = None
    missing = 0
    pos = 12
    while pos + 8 <= len(data) and frames is None:
        chunk_id = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            layout = _parse_fmt(body, name)
        elif chunk_id == b"data":
            if layout is None:
                raise _refuse(name, "data chunk before the fmt chunk")
            frames = body
            if size != _UNKNOWN_SIZE:
                missing = size - len(body)
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    if layout is None:
        raise _refuse(name, "no fmt chunk")
    if frames is None:
        raise _refuse(name, "no data chunk")
    encoding, channels, rate, width = layout
    frame_bytes = width * channels
    return WavLayout(
        encoding=encoding,
        channels=channels,
        sample_rate=rate,
        sample_width=width,
        frames=frames[: len(frames) - len(frames) % frame_bytes],
        missing_bytes=missing,
    )


def decode_samples(layout: WavLayout) -> Float32Array:
    """The samples of ``layout`` as float32 in ``[-1, 1)``, shape ``(frames, channels)``.

    Float files are passed through unscaled (values beyond full scale stay beyond it).
    """
    raw, width = layout.frames, layout.sample_width
    buf = np.frombuffer(raw, dtype=np.uint8)
    out: npt.NDArray[Any]
    if layout.encoding == "float":
        out = buf.view("<f4" if width == 4 else "<f8").astype(np.float32)
    elif layout.encoding in ("alaw", "ulaw"):
        table = ALAW_TO_PCM16 if layout.encoding == "alaw" else ULAW_TO_PCM16
        out = table[buf].astype(np.float32) / np.float32(32768.0)
    elif width == 1:  # 8-bit PCM is unsigned, centred on 128
        out = (buf.astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        out = buf.view("<i2").astype(np.float32) / 32768.0
    elif width == 3:  # place the three bytes in the top of a little-endian int32
        wide = np.zeros((len(raw) // 3, 4), dtype=np.uint8)
        wide[:, 1:] = buf.reshape(-1, 3)
        out = (wide.reshape(-1).view("<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    else:
        out = (buf.view("<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    return out.astype(np.float32, copy=False).reshape(-1, layout.channels)


def decode_wav(path: str | os.PathLike[str]) -> tuple[WavLayout, Float32Array]:
    """Read and decode the WAV file at ``path``.

    Returns:
        The layout (with its frames) and the float32 samples, shape ``(frames, channels)``.

    Raises:
        AudioFormatError: See :func:`parse_wav`.
        OSError: The file cannot be read (``FileNotFoundError``, ``IsADirectoryError``...).
    """
    name = os.fspath(path)
    with open(name, "rb") as file:
        data = file.read()
    layout = parse_wav(data, name)
    return layout, decode_samples(layout)
