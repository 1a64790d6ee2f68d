"""Speech synthesis with eSpeak NG, from the library and data the ``espeakng-loader`` wheel ships.

eSpeak NG is a formant synthesiser: about 700 times faster than real time on one core, a
robotic but clear voice, about 10 MB with every language's data. It is loaded with
:mod:`ctypes` (calls into it release the GIL), driven synchronously, and keeps global state,
so one synthesis runs at a time in a process: callers serialise through a
:class:`trio.CapacityLimiter` of one and call :meth:`Voice.speak` with
``trio.to_thread.run_sync``.

Each Realtime voice name gets an eSpeak NG voice variant of its own (unknown names get one
picked by a hash of the name). The variants are the clearer ones to a speech recogniser:
pocketsphinx hears ``edward`` and ``f5`` best of the en-US variants (see
``benchmarks/bench_speech.py``). The default voice, ``alloy``, is ``edward``: the female
variants add breath noise that makes their audio differ from run to run.

eSpeak NG's voicing state carries over from one utterance to the next in a process, so the
same text can come out slightly different after other speech; only a fresh process speaking
the same sequence (with a variant without breath noise) repeats itself exactly.
"""

from __future__ import annotations

import ctypes
import threading
import zlib
from typing import Any, Final, final

import numpy as np

from ..._core._audio import to_protocol

__all__ = ["VOICES", "Voice", "VoiceError"]

#: Realtime voice -> eSpeak NG en-US variant.
VOICES: Final = {
    "alloy": "edward",
    "ash": "f5",
    "ballad": "m6",
    "coral": "f2",
    "echo": "benjamin",
    "sage": "edward",
    "shimmer": "f2",
    "verse": "klatt4",
    "marin": "f5",
    "cedar": "edward",
}
_FALLBACK: Final = ("edward", "f5", "f2", "benjamin")
#: Words per minute: a little slower than eSpeak's 175, which recognisers hear better.
RATE_WPM: Final = 150
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_CHARS_UTF8: Final = 1
_PARAMETER_RATE: Final = 1
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class VoiceError(Exception):
    """eSpeak NG is missing or failed."""


def variant_for(voice: str) -> str:
    """The eSpeak NG variant that speaks for Realtime voice ``voice``."""
    known = VOICES.get(voice.lower())
    if known is not None:
        return known
    return _FALLBACK[zlib.crc32(voice.encode()) % len(_FALLBACK)]


@final
class Voice:
    """eSpeak NG, loaded once per process. Thread-safe (calls are serialised by a lock)."""

    _lock: Final = threading.Lock()
    _library: Any = None
    _rate: int = 0
    _chunks: list[bytes]
    _callback: Any = None

    def __init__(self) -> None:
        self._load()

    @classmethod
    def _load(cls) -> None:
        with cls._lock:
            if cls._library is not None:
                return
            try:
                import espeakng_loader
            except ImportError as exc:
                raise VoiceError(
                    'speech synthesis needs espeakng-loader: pip install "trio-realtime[speech]"'
                ) from exc
            library = ctypes.CDLL(espeakng_loader.get_library_path())
            library.espeak_Initialize.restype = ctypes.c_int
            library.espeak_Initialize.argtypes = [
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            library.espeak_Synth.argtypes = [
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.c_void_p,
                ctypes.c_void_p,
            ]
            data = espeakng_loader.get_data_path().encode()
            rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
            if rate <= 0:
                raise VoiceError(f"eSpeak NG failed to start (data at {data.decode()!r})")
            cls._chunks = []

            def collect(wav: Any, count: int, _events: Any) -> int:
                if count > 0:
                    cls._chunks.append(ctypes.string_at(wav, count * 2))
                return 0  # go on

            callback = _CALLBACK(collect)
            library.espeak_SetSynthCallback(callback)
            cls._callback = callback  # ctypes must keep the callback alive
            cls._rate = rate
            cls._library = library

    @property
    def sample_rate(self) -> int:
        """eSpeak NG's own rate (22,050 Hz)."""
        return self._rate

    def speak(self, text: str, voice: str, fmt: str) -> bytes:
        """``text`` spoken by ``voice``, as raw audio in the protocol format ``fmt``.

        Blocking (about 1.5 ms per second of speech, plus resampling): call it with
        ``trio.to_thread.run_sync``.

        Raises:
            VoiceError: eSpeak NG refused the voice or the text.
        """
        pcm = self.speak_pcm16(text, voice)
        samples = np.frombuffer(pcm, dtype="<i2")
        return to_protocol(samples, self._rate, fmt)

    def speak_pcm16(self, text: str, voice: str) -> bytes:
        """``text`` spoken by ``voice`` as PCM16 at :attr:`sample_rate` (blocking)."""
        library = self._library
        encoded = text.encode("utf-8")
        with self._lock:
            name = f"en-us+{variant_for(voice)}".encode()
            if library.espeak_SetVoiceByName(name) != 0:
                raise VoiceError(f"eSpeak NG has no voice {name.decode()!r}")
            library.espeak_SetParameter(_PARAMETER_RATE, RATE_WPM, 0)
            chunks: list[bytes] = []
            type(self)._chunks = chunks
            status = library.espeak_Synth(
                encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8, None, None
            )
            if status != 0:
                raise VoiceError(f"eSpeak NG failed to speak (error {status})")
            library.espeak_Synchronize()
        return b"".join(chunks)
