"""Public face of the audio tools: formats, PCM16 and numpy, G.711, resampling, WAV, test signals.

See :mod:`trio_realtime._core._audio` docstrings for the sample conventions.
"""

from __future__ import annotations

from ._core._audio import (
    FORMATS as FORMATS,
)
from ._core._audio import (
    G711_ALAW as G711_ALAW,
)
from ._core._audio import (
    G711_ULAW as G711_ULAW,
)
from ._core._audio import (
    PCM16 as PCM16,
)
from ._core._audio import (
    AudioFormat as AudioFormat,
)
from ._core._audio import (
    AudioFormatError as AudioFormatError,
)
from ._core._audio import (
    WavAudio as WavAudio,
)
from ._core._audio import (
    alaw_decode as alaw_decode,
)
from ._core._audio import (
    alaw_encode as alaw_encode,
)
from ._core._audio import (
    array_to_pcm16 as array_to_pcm16,
)
from ._core._audio import (
    audio_format as audio_format,
)
from ._core._audio import (
    bytes_for_ms as bytes_for_ms,
)
from ._core._audio import (
    bytes_per_ms as bytes_per_ms,
)
from ._core._audio import (
    chunk_audio as chunk_audio,
)
from ._core._audio import (
    duration_ms as duration_ms,
)
from ._core._audio import (
    from_protocol as from_protocol,
)
from ._core._audio import (
    load_wav_for_protocol as load_wav_for_protocol,
)
from ._core._audio import (
    pcm16_to_array as pcm16_to_array,
)
from ._core._audio import (
    pcm16_to_float as pcm16_to_float,
)
from ._core._audio import (
    read_wav as read_wav,
)
from ._core._audio import (
    resample as resample,
)
from ._core._audio import (
    silence as silence,
)
from ._core._audio import (
    speech_like as speech_like,
)
from ._core._audio import (
    to_protocol as to_protocol,
)
from ._core._audio import (
    tone as tone,
)
from ._core._audio import (
    ulaw_decode as ulaw_decode,
)
from ._core._audio import (
    ulaw_encode as ulaw_encode,
)
from ._core._audio import (
    write_wav as write_wav,
)

__all__ = [
    "FORMATS",
    "G711_ALAW",
    "G711_ULAW",
    "PCM16",
    "AudioFormat",
    "AudioFormatError",
    "WavAudio",
    "alaw_decode",
    "alaw_encode",
    "array_to_pcm16",
    "audio_format",
    "bytes_for_ms",
    "bytes_per_ms",
    "chunk_audio",
    "duration_ms",
    "from_protocol",
    "load_wav_for_protocol",
    "pcm16_to_array",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "silence",
    "speech_like",
    "to_protocol",
    "tone",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
