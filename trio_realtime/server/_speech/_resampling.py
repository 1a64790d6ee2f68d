"""Resampling a stream chunk by chunk, with the same result as resampling it whole.

:func:`trio_realtime._core._audio.resample` works on a whole signal and takes it as zero
outside. A recogniser gets its audio in appends of any size; resampling each append alone
would put a small click at every boundary. :class:`StreamResampler` keeps enough input on
either side of each output sample that every output is the one the whole signal would give.
"""

from __future__ import annotations

import math
from typing import Any, Final, final

import numpy as np
import numpy.typing as npt

from ..._core._audio import resample

__all__ = ["StreamResampler"]

#: Input samples of context kept on each side: more than the interpolator's half-width
#: (16 sinc lobes at 94 % of the lower Nyquist frequency: 26 samples for 24 -> 16 kHz).
_MARGIN: Final = 48


@final
class StreamResampler:
    """Resamples int16 audio that arrives in pieces (mono).

    Args:
        from_rate: Input rate in Hz.
        to_rate: Output rate in Hz.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        g = math.gcd(from_rate, to_rate)
        self._up, self._down = to_rate // g, from_rate // g
        self._from, self._to = from_rate, to_rate
        # The window always starts at a multiple of ``down`` input samples, where an output
        # sample falls exactly, so window outputs line up with the whole signal's.
        self._margin = -(-_MARGIN // self._down) * self._down
        self._buf: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._buf_start = 0  # input index of _buf[0]
        self._emitted = 0  # output samples produced so far

    def feed(self, samples: npt.NDArray[Any], *, final: bool = False) -> npt.NDArray[np.int16]:
        """The output samples ``samples`` completes; with ``final`` the rest of the signal."""
        if self._from == self._to:
            return np.asarray(samples, dtype=np.int16).copy()
        self._buf = np.concatenate([self._buf, np.asarray(samples, dtype=np.int16)])
        end_in = self._buf_start + len(self._buf) - (0 if final else self._margin)
        # Outputs whose position n * down / up lies before end_in have all their context.
        end_out = -(-max(0, end_in) * self._up // self._down)
        if final:
            end_out = (
                (self._buf_start + len(self._buf)) * self._to + self._from // 2
            ) // self._from
        if end_out <= self._emitted:
            return np.zeros(0, dtype=np.int16)
        base_out = self._buf_start * self._up // self._down
        window = resample(self._buf, self._from, self._to)
        out = window[self._emitted - base_out : end_out - base_out]
        self._emitted = end_out
        keep = max(self._buf_start, self._emitted * self._down // self._up - self._margin)
        keep -= keep % self._down
        self._buf = self._buf[keep - self._buf_start :]
        self._buf_start = keep
        return np.asarray(out, dtype=np.int16)
