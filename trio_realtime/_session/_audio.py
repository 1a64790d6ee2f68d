"""The session's audio: appends, and the audio pumps it runs.

Every ``input_audio_buffer.append`` is made on the hot path by
:meth:`~._outbound.Outbound.append_item` (the frame written by hand) and goes through the
same bounded outbound queue as every other event, so a slow network slows the pumps down.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import final

import trio

from .._core._audio_format import AudioFormat, audio_format
from .._core._events._client import InputAudioBufferAppend
from ._lifecycle import Lifecycle
from ._outbound import Outbound
from ._pump import AudioSource, AudioStream, frame_size, run_pump, split_for_appends

__all__ = ["AudioPumps"]


@final
class AudioPumps:
    """Appends and pump tasks for one session.

    Args:
        outbound: Where appends go.
        lifecycle: The session's state.
        nursery: Where pumps run.
    """

    __slots__ = ("_life", "_nursery", "_out", "_running")

    def __init__(self, outbound: Outbound, lifecycle: Lifecycle, nursery: trio.Nursery) -> None:
        self._out = outbound
        self._life = lifecycle
        self._nursery = nursery
        # A set of its own once a pump starts (an empty set is 216 bytes per idle session).
        self._running: set[AudioStream] | frozenset[AudioStream] = frozenset()

    @property
    def running(self) -> int:
        """Pumps running now."""
        return len(self._running)

    async def append(self, pcm: bytes | bytearray | memoryview) -> list[InputAudioBufferAppend]:
        """``RealtimeSession.append_audio``: appends of at most 15 MiB each, in order."""
        self._life.raise_if_closed()
        out = self._out
        fmt = out.input_format
        sent: list[InputAudioBufferAppend] = []
        for piece in split_for_appends(pcm, fmt):
            item = out.append_item(piece, fmt.bytes_per_ms)
            await out.put(item)
            sent.append(item[0])
        return sent

    async def start(
        self,
        source: AudioSource,
        *,
        realtime: bool,
        chunk_ms: float,
        input_format: str | AudioFormat | None,
    ) -> AudioStream:
        """``RealtimeSession.stream_audio``: start a pump task; return its handle."""
        self._life.raise_if_closed()
        fmt = self._out.input_format if input_format is None else audio_format(input_format)
        frame_bytes = frame_size(chunk_ms, fmt)
        stream = AudioStream()
        send_frame = functools.partial(self._out.send_audio, bytes_per_ms=fmt.bytes_per_ms)
        if not isinstance(self._running, set):
            self._running = set()
        await self._nursery.start(
            run_pump,
            stream,
            source,
            send_frame,
            fmt,
            frame_bytes,
            realtime,
            self._running,
            name="trio_realtime.audio_pump",
        )
        return stream

    def stop_all(self, make_error: Callable[[], BaseException] | None = None) -> None:
        """Stop every pump; with ``make_error``, their ``wait()`` raises it (an abnormal end)."""
        for stream in tuple(self._running):
            stream._fail(make_error)
