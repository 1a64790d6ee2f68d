"""A sans-I/O model of the Realtime server's voice activity detection (``server_vad``).

The detector is fed the bytes of ``input_audio_buffer.append`` and returns speech events in
milliseconds of the session's audio clock. It is an energy detector, deliberately simple and
deterministic, so that the reference server's turns can be predicted exactly in tests:

* **Frames.** Audio is cut into 10 ms frames on a grid anchored at clock 0 (a partial frame
  is carried over to the next :meth:`~VoiceActivityDetector.feed`, so the events never depend
  on how the audio was chunked). A frame is *voiced* when its RMS level, in dBFS (0 dBFS is
  an RMS of 32768, so a full-scale sine is -3 dBFS), reaches the level of the threshold.
* **Threshold.** ``threshold`` in ``[0, 1]`` maps linearly onto ``-80 .. 0`` dBFS:
  ``dbfs = 80 * threshold - 80`` (see :func:`threshold_to_dbfs`). The default 0.5 is -40 dBFS:
  a tone or :func:`~trio_realtime._core._audio.speech_like` at amplitude 0.5 (about -9 dBFS) is
  voiced, noise of amplitude 0.003 (-50 to -55 dBFS) is not, and digital silence never is.
  (A-law "silence", code ``0xD5``, decodes to +-8, about -72 dBFS: voiced only below 0.1.)
* **Onset.** Speech starts once :data:`VAD_ONSET_MS` (30 ms, three frames) of voiced frames
  in a row have been fed; shorter bursts are clicks and are ignored. The onset is the start of
  the first frame of that run, and
  ``SpeechStarted.audio_start_ms = max(onset - prefix_padding_ms, buffer_start_ms)``.
* **Stop.** After speech started, once ``silence_duration_ms`` (rounded up to whole frames,
  at least one frame) of unvoiced frames in a row have been fed, speech stops, and
  ``SpeechStopped.audio_end_ms`` is the clock at the end of that silence run, so it includes
  the trailing silence.

Example: 1 s of silence, 1 s of tone and 1 s of silence at the default configuration give
``SpeechStarted(700)`` (onset 1000 minus 300 ms padding) and ``SpeechStopped(2200)``.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from ._audio import AudioFormat, alaw_decode, audio_format, ulaw_decode

__all__ = [
    "VAD_FRAME_MS",
    "VAD_ONSET_MS",
    "SpeechStarted",
    "SpeechStopped",
    "VadConfig",
    "VadEvent",
    "VoiceActivityDetector",
    "silence_ms_for_eagerness",
    "threshold_to_dbfs",
]

VAD_FRAME_MS: Final = 10
"""Length of one analysis frame in milliseconds."""
VAD_ONSET_MS: Final = 30
"""Voiced audio needed in a row (whole frames) before speech counts as started."""

_TICKS_PER_MS: Final = 24  # the clock counts 1/24000 s ticks: whole samples of every format
_FRAME_TICKS: Final = VAD_FRAME_MS * _TICKS_PER_MS
_ONSET_FRAMES: Final = VAD_ONSET_MS // VAD_FRAME_MS


def threshold_to_dbfs(threshold: float) -> float:
    """The frame RMS level, in dBFS, that a VAD ``threshold`` in ``[0, 1]`` requires.

    The map is linear: ``80 * threshold - 80``, so 0 -> -80 dBFS, 0.5 -> -40 dBFS and
    1 -> 0 dBFS (only a full-scale square wave). A higher threshold needs louder audio.

    Raises:
        ValueError: ``threshold`` is outside ``[0, 1]``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"VAD threshold must be in [0, 1], got {threshold}")
    return 80.0 * threshold - 80.0


def _check_threshold(_inst: object, _attr: object, value: float) -> None:
    threshold_to_dbfs(value)


def _check_ms(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attr.name} must be an integer >= 0, got {value!r}")


@attrs.frozen
class VadConfig:
    """Server VAD settings, as in ``session.turn_detection`` of type ``server_vad``.

    Attributes:
        threshold: Activation threshold in ``[0, 1]``; see :func:`threshold_to_dbfs`.
        prefix_padding_ms: Audio kept before the detected onset, in ms.
        silence_duration_ms: Silence that ends speech, in ms (the beta service used 200).
    """

    threshold: float = attrs.field(default=0.5, converter=float, validator=_check_threshold)
    prefix_padding_ms: int = attrs.field(default=300, validator=_check_ms)
    silence_duration_ms: int = attrs.field(default=200, validator=_check_ms)


@attrs.frozen
class SpeechStarted:
    """Speech was detected (``input_audio_buffer.speech_started``).

    Attributes:
        audio_start_ms: Clock time where the audio handed to the model starts: the onset
            minus ``prefix_padding_ms``, not before the start of the current input buffer.
    """

    audio_start_ms: int


@attrs.frozen
class SpeechStopped:
    """Speech ended (``input_audio_buffer.speech_stopped``).

    Attributes:
        audio_end_ms: Clock time where the speech's audio ends, trailing silence included.
    """

    audio_end_ms: int


VadEvent: TypeAlias = SpeechStarted | SpeechStopped
"""An event returned by :meth:`VoiceActivityDetector.feed`."""


def _squares_table(f: AudioFormat) -> npt.NDArray[np.float32] | None:
    """Squared sample value of each G.711 code, or ``None`` for pcm16."""
    if f.sample_width == 2:
        return None
    decode = ulaw_decode if f.name == "g711_ulaw" else alaw_decode
    levels = np.frombuffer(decode(bytes(range(256))), dtype="<i2").astype(np.float32)
    return np.square(levels)


class VoiceActivityDetector:
    """Energy-based speech detector over a never-resetting audio clock.

    Feed it every appended chunk of audio, in order; it returns the events the server sends.
    The rules are in this module's docstring. The clock is the audio fed since creation, in
    ms; it is never reset, so event times are comparable across commits and clears.

    Args:
        config: VAD settings; defaults to :class:`VadConfig` ``()``.
        fmt: Format of the audio that will be fed (``"pcm16"``, ``"g711_ulaw"``,
            ``"g711_alaw"``).

    Raises:
        AudioFormatError: Unknown format name.
    """

    __slots__ = (
        "_buffer_start_ms",
        "_carry",
        "_config",
        "_fmt",
        "_frame_bytes",
        "_grid_ticks",
        "_in_speech",
        "_min_mean_square",
        "_run_frames",
        "_run_start",
        "_silence_frames",
        "_squares",
        "_stop_frames",
    )

    def __init__(self, config: VadConfig | None = None, fmt: str | AudioFormat = "pcm16") -> None:
        self._carry = b""
        self._grid_ticks = 0  # clock at the start of the carried partial frame
        self._buffer_start_ms = 0
        self._in_speech = False
        self._run_frames = 0  # voiced frames in a row while not in speech
        self._run_start = 0  # clock ticks at the start of that run
        self._silence_frames = 0  # unvoiced frames in a row while in speech
        self._fmt = audio_format(fmt)
        self._set_format(self._fmt)
        self._config = VadConfig()
        self._min_mean_square = 0.0
        self._stop_frames = 1
        self._set_config(config if config is not None else VadConfig())

    # -- configuration ------------------------------------------------------------------------

    @property
    def config(self) -> VadConfig:
        """The settings in force; assign, or use :meth:`configure`, to change them."""
        return self._config

    @config.setter
    def config(self, config: VadConfig) -> None:
        self._set_config(config)

    @property
    def fmt(self) -> AudioFormat:
        """The format of the audio being fed; assign, or use :meth:`configure`, to change it."""
        return self._fmt

    @fmt.setter
    def fmt(self, fmt: str | AudioFormat) -> None:
        self.configure(fmt=fmt)

    def configure(
        self, config: VadConfig | None = None, fmt: str | AudioFormat | None = None
    ) -> None:
        """Change the settings and/or the audio format between feeds.

        Speech state carries over. New settings apply from the next frame analysed. A format
        change discards a carried partial frame (under 10 ms) from the analysis, though not
        from the clock, and restarts the frame grid at the current clock.

        Raises:
            AudioFormatError: Unknown format name.
        """
        if fmt is not None:
            new = audio_format(fmt)
            if new != self._fmt:
                self._grid_ticks = self._clock_ticks()
                self._carry = b""
                self._fmt = new
                self._set_format(new)
        if config is not None:
            self._set_config(config)

    def _set_format(self, f: AudioFormat) -> None:
        self._frame_bytes = f.bytes_per_ms * VAD_FRAME_MS
        self._squares = _squares_table(f)

    def _set_config(self, config: VadConfig) -> None:
        self._config = config
        rms = 32768.0 * 10.0 ** (threshold_to_dbfs(config.threshold) / 20.0)
        self._min_mean_square = rms * rms
        self._stop_frames = max(1, -(-config.silence_duration_ms // VAD_FRAME_MS))

    # -- clock and buffer ---------------------------------------------------------------------

    def _clock_ticks(self) -> int:
        f = self._fmt
        return self._grid_ticks + len(self._carry) // f.sample_width * (24000 // f.sample_rate)

    @property
    def clock_ms(self) -> float:
        """Milliseconds of audio fed since creation (whole samples)."""
        return self._clock_ticks() / _TICKS_PER_MS

    @property
    def in_speech(self) -> bool:
        """Whether speech has started and not yet stopped."""
        return self._in_speech

    @property
    def buffer_start_ms(self) -> int:
        """Clock time where the current input buffer starts; floors ``audio_start_ms``."""
        return self._buffer_start_ms

    def set_buffer_start_ms(self, ms: int) -> None:
        """Tell the detector where the current input buffer starts, in clock ms."""
        self._buffer_start_ms = ms

    def reset(self, *, buffer_start_ms: int | None = None) -> None:
        """Forget any speech in progress, without an event; the clock keeps running.

        Used on ``input_audio_buffer.clear`` and on commits. Voiced frames before the reset
        do not count towards the next onset.

        Args:
            buffer_start_ms: Where the new input buffer starts; defaults to the current
                clock (rounded down to whole ms), which is right after a clear or commit.
        """
        self._in_speech = False
        self._run_frames = 0
        self._silence_frames = 0
        if buffer_start_ms is None:
            buffer_start_ms = self._clock_ticks() // _TICKS_PER_MS
        self._buffer_start_ms = buffer_start_ms

    # -- detection ----------------------------------------------------------------------------

    def _voiced(self, frames: bytes, count: int) -> npt.NDArray[np.bool_]:
        squares = self._squares
        if squares is None:
            x = np.frombuffer(frames, dtype="<i2").astype(np.float32).reshape(count, -1)
            mean_square: npt.NDArray[Any] = np.einsum("ij,ij->i", x, x) / x.shape[1]
        else:
            codes = np.frombuffer(frames, dtype=np.uint8).reshape(count, -1)
            mean_square = squares[codes].mean(axis=1)
        result: npt.NDArray[np.bool_] = mean_square >= self._min_mean_square
        return result

    def feed(self, audio: bytes) -> list[VadEvent]:
        """Append audio to the clock and return the speech events it completes.

        Args:
            audio: Bytes in the detector's format; any length (even split samples: the
                remainder waits for the next feed).

        Returns:
            Events in clock order; usually empty.
        """
        data = self._carry + audio if self._carry else bytes(audio)
        count = len(data) // self._frame_bytes
        if count == 0:
            self._carry = data
            return []
        used = count * self._frame_bytes
        voiced = self._voiced(data[:used], count)
        self._carry = data[used:]
        grid = self._grid_ticks
        self._grid_ticks = grid + count * _FRAME_TICKS
        events: list[VadEvent] = []
        if not self._in_speech and not voiced.any():
            self._run_frames = 0
            return events
        if self._in_speech and voiced.all():
            self._silence_frames = 0
            return events
        for i, is_voiced in enumerate(voiced.tolist()):
            start = grid + i * _FRAME_TICKS
            if not self._in_speech:
                if not is_voiced:
                    self._run_frames = 0
                    continue
                if self._run_frames == 0:
                    self._run_start = start
                self._run_frames += 1
                if self._run_frames >= _ONSET_FRAMES:
                    self._in_speech = True
                    self._silence_frames = 0
                    onset_ms = self._run_start // _TICKS_PER_MS
                    begin = max(onset_ms - self._config.prefix_padding_ms, self._buffer_start_ms)
                    events.append(SpeechStarted(begin))
            elif is_voiced:
                self._silence_frames = 0
            else:
                self._silence_frames += 1
                if self._silence_frames >= self._stop_frames:
                    self._in_speech = False
                    self._run_frames = 0
                    events.append(SpeechStopped((start + _FRAME_TICKS) // _TICKS_PER_MS))
        return events


_EAGERNESS_SILENCE_MS: Final = {"low": 2000, "medium": 800, "auto": 800, "high": 300}


def silence_ms_for_eagerness(eagerness: str) -> int:
    """The silence, in ms, that ends a turn under ``semantic_vad`` with this ``eagerness``.

    The reference server models semantic VAD as the energy detector with a longer or shorter
    silence: ``"low"`` (let the user take their time) 2000 ms, ``"medium"`` and ``"auto"``
    (the default) 800 ms, ``"high"`` (answer quickly) 300 ms.

    Raises:
        ValueError: ``eagerness`` is not one of those four names.
    """
    try:
        return _EAGERNESS_SILENCE_MS[eagerness]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown eagerness {eagerness!r}; expected one of low, medium, high, auto"
        ) from None
