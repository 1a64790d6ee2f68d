"""Public face of the audio tools: formats, PCM16 and numpy, G.711, resampling, WAV, test signals.

See :mod:`trio_realtime._audio` docstrings for the sample conventions.
"""

from __future__ import annotations

from ._audio import (
    FORMATS as FORMATS,
)
from ._audio import (
    G711_ALAW as G711_ALAW,
)
from ._audio import (
    G711_ULAW as G711_ULAW,
)
from ._audio import (
    PCM16 as PCM16,
)
from ._audio import (
    AudioFormat as AudioFormat,
)
from ._audio import (
    AudioFormatError as AudioFormatError,
)
from ._audio import (
    WavAudio as WavAudio,
)
from ._audio import (
    alaw_decode as alaw_decode,
)
from ._audio import (
    alaw_encode as alaw_encode,
)
from ._audio import (
    array_to_pcm16 as array_to_pcm16,
)
from ._audio import (
    audio_format as audio_format,
)
from ._audio import (
    bytes_for_ms as bytes_for_ms,
)
from ._audio import (
    bytes_per_ms as bytes_per_ms,
)
from ._audio import (
    chunk_audio as chunk_audio,
)
from ._audio import (
    duration_ms as duration_ms,
)
from ._audio import (
    from_protocol as from_protocol,
)
from ._audio import (
    load_wav_for_protocol as load_wav_for_protocol,
)
from ._audio import (
    pcm16_to_array as pcm16_to_array,
)
from ._audio import (
    pcm16_to_float as pcm16_to_float,
)
from ._audio import (
    read_wav as read_wav,
)
from ._audio import (
    resample as resample,
)
from ._audio import (
    silence as silence,
)
from ._audio import (
    speech_like as speech_like,
)
from ._audio import (
    to_protocol as to_protocol,
)
from ._audio import (
    tone as tone,
)
from ._audio import (
    ulaw_decode as ulaw_decode,
)
from ._audio import (
    ulaw_encode as ulaw_encode,
)
from ._audio import (
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
