"""The input audio buffer, the session's audio clock, and server VAD (5.2, 5.4, 5.5).

**The clock** counts whole samples of audio appended since the session began, in ticks of
1/24000 s (a whole number for every format), across commits, clears and format changes; it
is audio time, not wall time. Event times are clock milliseconds.

**The buffer** holds the uncommitted audio as raw bytes in the current input format (one
``bytearray``; an append is one ``+=``). ``start`` is the clock where it begins. A VAD turn
takes the audio between ``audio_start_ms`` and ``audio_end_ms`` and leaves whatever followed;
a manual commit takes everything. A change of ``input_audio_format`` converts the buffered
audio to the new format (resampled), so a turn never mixes formats [inf].

**Server VAD** is :class:`~trio_realtime._core._vad.VoiceActivityDetector`, created when turn
detection is switched on (its own clock then starts at the session clock's current
millisecond, an offset added to its events) and dropped when switched off.

**Bounded memory.** While VAD is on and no speech is in progress, audio further back than
``idle_keep_ms`` can never become part of a VAD turn; once the buffer holds twice that, the
oldest audio is dropped down to ``idle_keep_ms`` (amortised O(1) per append) [inf]. Without
VAD nothing is dropped: the client decides what to commit.
"""

from __future__ import annotations

import binascii
from typing import Final

from .._core._audio import AudioFormat, audio_format, from_protocol, to_protocol
from .._core._vad import SpeechStarted, SpeechStopped, VadEvent, VoiceActivityDetector
from ._errors import Refusal, invalid_value
from ._session_config import TurnSettings

__all__ = ["TICKS_PER_MS", "InputAudio", "bad_audio", "decode_append"]

TICKS_PER_MS: Final = 24
_FORMAT_NAMES: Final = {
    "pcm16": "mono PCM16 at 24kHz",
    "g711_ulaw": "G.711 u-law at 8kHz",
    "g711_alaw": "G.711 A-law at 8kHz",
}


def bad_audio(path: str, fmt: str) -> Refusal:
    """The refusal of audio that is not valid base64 (6.2, verbatim for pcm16)."""
    return invalid_value(
        path,
        f"Invalid 'audio'. Expected base64-encoded audio bytes ({_FORMAT_NAMES[fmt]}) "
        "but got an invalid value.",
    )


def decode_append(audio: str, limit: int, fmt: str) -> bytes:
    """The raw audio of ``input_audio_buffer.append`` (the hot path: one C call).

    Raises:
        Refusal: More than ``limit`` bytes of decoded audio (judged from the text's length,
            before decoding up to 20 MiB for nothing), or not valid base64 (6.2).
    """
    size = len(audio) // 4 * 3 - (audio[-2:].count("=") if audio else 0)
    if size > limit:
        raise invalid_value(
            "audio",
            f"Invalid 'audio': audio too large. Expected at most {limit} bytes of decoded "
            f"audio, but got {size} bytes instead.",
        )
    try:
        return binascii.a2b_base64(audio, strict_mode=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        raise bad_audio("audio", fmt) from None


class InputAudio:
    """One connection's input buffer, audio clock and VAD.

    Args:
        fmt: The input audio format.
        turn: Turn detection settings, or ``None`` for manual turns.
        idle_keep_ms: Audio kept while VAD waits for speech (see the module docstring).
    """

    __slots__ = (
        "_buf",
        "_fmt",
        "_idle_keep_ticks",
        "_seg_bytes",
        "_seg_start",
        "_start",
        "_tps",
        "_vad",
        "_vad_offset_ms",
        "_width",
    )

    def __init__(self, fmt: str, turn: TurnSettings | None, *, idle_keep_ms: int) -> None:
        self._buf = bytearray()
        self._start = 0  # clock ticks where the buffer begins
        self._seg_start = 0  # clock ticks where the current format segment began
        self._seg_bytes = 0  # bytes appended in the current format segment
        self._fmt = audio_format(fmt)
        self._width = self._fmt.sample_width
        self._tps = 24000 // self._fmt.sample_rate  # ticks per sample
        self._idle_keep_ticks = max(0, idle_keep_ms) * TICKS_PER_MS
        self._vad: VoiceActivityDetector | None = None
        self._vad_offset_ms = 0
        self.configure(fmt, turn)

    # -- state --------------------------------------------------------------------------------

    @property
    def fmt(self) -> AudioFormat:
        """The input format in force."""
        return self._fmt

    @property
    def clock_ticks(self) -> int:
        """Ticks (1/24000 s) of whole samples appended since the session began."""
        return self._seg_start + self._seg_bytes // self._width * self._tps

    @property
    def buffered_ticks(self) -> int:
        """Duration of the uncommitted buffer, in ticks."""
        return self.clock_ticks - self._start

    @property
    def buffered_bytes(self) -> int:
        """Size of the uncommitted buffer in bytes."""
        return len(self._buf)

    @property
    def start_ms(self) -> int:
        """Clock millisecond where the buffer begins (floors ``audio_start_ms``)."""
        return -(-self._start // TICKS_PER_MS)

    @property
    def vad_on(self) -> bool:
        """Whether server VAD is running."""
        return self._vad is not None

    @property
    def in_speech(self) -> bool:
        """Whether VAD has heard speech start and not yet stop."""
        return self._vad is not None and self._vad.in_speech

    # -- configuration ------------------------------------------------------------------------

    def configure(self, fmt: str, turn: TurnSettings | None) -> None:
        """Apply the session's input format and turn detection (from the next append on)."""
        new = audio_format(fmt)
        if new != self._fmt:
            self._convert(new)
        if turn is None:
            self._vad = None
        elif self._vad is None:
            self._vad = VoiceActivityDetector(turn.vad_config(), self._fmt)
            self._vad_offset_ms = self.clock_ticks // TICKS_PER_MS
        else:
            self._vad.configure(turn.vad_config(), self._fmt)

    def _convert(self, new: AudioFormat) -> None:
        old = self._fmt
        whole = len(self._buf) - len(self._buf) % old.sample_width
        converted = b""
        if whole:
            samples, rate = from_protocol(bytes(self._buf[:whole]), old)
            converted = to_protocol(samples, rate, new)
        clock = self.clock_ticks
        self._fmt = new
        self._width = new.sample_width
        self._tps = 24000 // new.sample_rate
        self._seg_start = clock
        self._seg_bytes = 0
        self._buf = bytearray(converted)
        self._start = max(0, clock - len(converted) // self._width * self._tps)

    # -- audio --------------------------------------------------------------------------------

    def append(self, audio: bytes) -> list[VadEvent]:
        """Add raw audio; return the VAD events it completes, in session clock ms."""
        self._buf += audio
        self._seg_bytes += len(audio)
        vad = self._vad
        if vad is None:
            return []
        events = vad.feed(audio)
        offset = self._vad_offset_ms
        if events and offset:
            events = [
                SpeechStarted(e.audio_start_ms + offset)
                if isinstance(e, SpeechStarted)
                else SpeechStopped(e.audio_end_ms + offset)
                for e in events
            ]
        # Trim only an idle buffer: with events, the caller still has to take their audio.
        if not events and not vad.in_speech and self.buffered_ticks > 2 * self._idle_keep_ticks:
            self._drop_before(self.clock_ticks - self._idle_keep_ticks)
        return events

    def _offset(self, ticks: int) -> int:
        """Byte offset in the buffer of clock time ``ticks`` (clamped to the buffer)."""
        samples = max(0, ticks - self._start) // self._tps
        return min(len(self._buf), samples * self._width)

    def _drop_before(self, ticks: int) -> None:
        cut = self._offset(ticks)
        if cut:
            del self._buf[:cut]
            self._start += cut // self._width * self._tps
            if self._vad is not None:
                self._vad.set_buffer_start_ms(max(0, self.start_ms - self._vad_offset_ms))

    def audio_since(self, start_ms: int) -> bytes:
        """A copy of the buffered audio from clock millisecond ``start_ms`` on."""
        return bytes(self._buf[self._offset(start_ms * TICKS_PER_MS) :])

    def take_turn(self, start_ms: int, end_ms: int) -> bytes:
        """Commit a VAD turn: return the audio from ``start_ms`` to ``end_ms`` and keep only
        what followed it in the buffer."""
        a = self._offset(start_ms * TICKS_PER_MS)
        b = self._offset(end_ms * TICKS_PER_MS)
        audio = bytes(self._buf[a:b])
        del self._buf[:b]
        self._start += b // self._width * self._tps
        if self._vad is not None:
            self._vad.set_buffer_start_ms(max(0, self.start_ms - self._vad_offset_ms))
        return audio

    def take_all(self) -> bytes:
        """Commit the whole buffer (a manual commit); VAD forgets any speech in progress."""
        partial = self._seg_bytes % self._width  # an incomplete last sample stays behind
        end = len(self._buf) - partial
        audio = bytes(self._buf[:end])
        del self._buf[:end]
        self._start = self.clock_ticks
        self._reset_vad()
        return audio

    def clear(self) -> None:
        """Drop the buffer (5.5): the clock runs on, VAD forgets speech without an event."""
        partial = self._seg_bytes % self._width
        del self._buf[: len(self._buf) - partial]
        self._start = self.clock_ticks
        self._reset_vad()

    def _reset_vad(self) -> None:
        if self._vad is not None:
            self._vad.reset(buffer_start_ms=max(0, self.start_ms - self._vad_offset_ms))
