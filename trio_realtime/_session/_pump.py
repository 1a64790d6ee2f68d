"""The audio pump: PCM in any chunk size in, paced ``input_audio_buffer.append`` frames out.

Two sans-I/O pieces and one small task body:

* :class:`Rechunker` cuts a byte stream arriving in arbitrary pieces into frames of exactly
  ``frame_bytes`` (whole samples), keeping the remainder for the next piece.
* :class:`Pacer` is an absolute schedule: the frame that starts at audio offset ``t`` is due
  at ``start + t``. A late frame is due at once and the next one is still due at its own
  time, so lateness never accumulates; the schedule reads only ``trio.current_time()``, so
  ``trio.testing.MockClock(autojump_threshold=0)`` drives it in tests.
* :func:`pump_audio` joins them; the session runs it as a task of its nursery and gives it a
  ``send_frame`` callable that queues one append (and says when the session can take no more).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable
from typing import Final, TypeAlias, final

import trio

from .._core._audio_format import AudioFormat, bytes_for_ms
from .._core._errors import AudioFormatError

__all__ = [
    "MAX_APPEND_EVENT_CHARS",
    "AudioSource",
    "AudioStream",
    "Pacer",
    "Rechunker",
    "frame_size",
    "max_append_bytes",
    "pump_audio",
    "run_pump",
    "split_for_appends",
]

#: The documented limit on one ``input_audio_buffer.append`` (server-behaviour.md 7). It is
#: unclear whether it bounds the audio or the event, so we keep the whole event under it.
MAX_APPEND_EVENT_CHARS: Final = 15 * 1024 * 1024
# JSON around the base64 audio: type, the keys, and an event_id of up to 512 characters.
_ENVELOPE_CHARS: Final = 1024

#: What :meth:`~trio_realtime.RealtimeSession.stream_audio` accepts: raw audio bytes in one
#: piece, or an async iterable of pieces (an async generator, a ``trio.MemoryReceiveChannel``).
AudioSource: TypeAlias = bytes | bytearray | memoryview | AsyncIterable[bytes]


def max_append_bytes(fmt: AudioFormat) -> int:
    """The most raw audio one append may carry: its base64 event stays within 15 MiB.

    Whole samples, and a multiple of 3 bytes so base64 needs no padding: 11,795,712 bytes
    (about 245 s) of pcm16.
    """
    raw = (MAX_APPEND_EVENT_CHARS - _ENVELOPE_CHARS) // 4 * 3
    step = 3 * fmt.sample_width
    return raw // step * step


def frame_size(chunk_ms: float, fmt: AudioFormat) -> int:
    """Bytes in a frame of ``chunk_ms`` of ``fmt`` (whole samples), checked to fit one append.

    Raises:
        ValueError: Shorter than one sample, or longer than one append may carry.
    """
    size = bytes_for_ms(chunk_ms, fmt)
    if not 0 < size <= max_append_bytes(fmt):
        raise ValueError(
            f"chunk_ms={chunk_ms} gives {size}-byte frames; "
            f"one append takes 1 to {max_append_bytes(fmt)} bytes of {fmt.name}"
        )
    return size


def split_for_appends(pcm: bytes | bytearray | memoryview, fmt: AudioFormat) -> list[bytes]:
    """``pcm`` cut into as few pieces as the 15 MiB append limit allows (none if empty).

    Raises:
        AudioFormatError: ``pcm`` is not a whole number of samples of ``fmt``.
    """
    limit = max_append_bytes(fmt)
    if type(pcm) is bytes and len(pcm) <= limit and not len(pcm) % fmt.sample_width:
        return [pcm] if pcm else []  # the common case: one append, no copy
    view = memoryview(pcm).cast("B")
    if len(view) % fmt.sample_width:
        raise AudioFormatError(
            f"{fmt.name} audio must be a whole number of {fmt.sample_width}-byte samples, "
            f"got {len(view)} bytes"
        )
    return [view[start : start + limit].tobytes() for start in range(0, len(view), limit)]


@final
class Rechunker:
    """Cuts audio arriving in pieces of any size into frames of exactly ``frame_bytes``.

    Sans-I/O: :meth:`feed` returns the frames a piece completes, :meth:`flush` the
    remainder at the end. Joining every frame and the remainder gives the input back.

    Args:
        frame_bytes: Size of every frame but the last; a whole number of samples.
        sample_width: Bytes per sample (2 for pcm16, 1 for G.711).

    Raises:
        ValueError: ``frame_bytes`` is not a positive whole number of samples.
    """

    __slots__ = ("_buffer", "frame_bytes", "sample_width")

    def __init__(self, frame_bytes: int, sample_width: int) -> None:
        if frame_bytes <= 0 or sample_width <= 0 or frame_bytes % sample_width:
            raise ValueError(
                f"frame_bytes must be a positive multiple of {sample_width}, got {frame_bytes}"
            )
        self.frame_bytes = frame_bytes
        self.sample_width = sample_width
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back until the next :meth:`feed` completes a frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add ``data``; return the frames now complete (possibly none)."""
        size = self.frame_bytes
        buffer = self._buffer
        if not buffer and type(data) is bytes and len(data) == size:
            return [data]  # the common case for a source already in frames: no copy
        view = memoryview(data)
        frames: list[bytes] = []
        start = 0
        if buffer:
            need = size - len(buffer)
            if len(view) < need:
                buffer += view
                return frames
            buffer += view[:need]
            frames.append(bytes(buffer))
            buffer.clear()
            start = need
        end = len(view)
        while end - start >= size:
            frames.append(view[start : start + size].tobytes())
            start += size
        if start < end:
            buffer += view[start:]
        return frames

    def flush(self) -> bytes:
        """Return the remainder (shorter than a frame, maybe empty) and start afresh.

        Raises:
            AudioFormatError: The audio ended in the middle of a sample.
        """
        tail = bytes(self._buffer)
        self._buffer.clear()
        if len(tail) % self.sample_width:
            raise AudioFormatError(
                f"the audio ended in the middle of a sample: {len(tail)} bytes left over, "
                f"not a multiple of {self.sample_width}"
            )
        return tail


@final
class Pacer:
    """Real-time pacing against an absolute schedule.

    The frame starting at audio offset ``t`` (the audio sent before it) is due at
    ``start + t``. Offsets are kept as a byte count, so no rounding error builds up.

    Args:
        bytes_per_ms: Bytes per millisecond of the audio format.
    """

    __slots__ = ("_bytes_per_second", "_sent", "_start")

    def __init__(self, bytes_per_ms: int) -> None:
        self._bytes_per_second = bytes_per_ms * 1000
        self._start: float | None = None
        self._sent = 0

    def due(self, now: float) -> float:
        """When the next frame is due; the schedule starts at the first call (``now``)."""
        if self._start is None:
            self._start = now
        return self._start + self._sent / self._bytes_per_second

    def advance(self, nbytes: int) -> None:
        """Record that a frame of ``nbytes`` was sent."""
        self._sent += nbytes


@final
class AudioStream:
    """One running audio pump: a task in the session's nursery feeding audio appends.

    Returned by :meth:`trio_realtime.RealtimeSession.stream_audio`; not created directly.
    The pump queues frames through the same bounded outbound queue as every other event,
    so a slow network slows it down (backpressure) and nothing piles up in memory.
    """

    __slots__ = ("_completed", "_done", "_error", "_frames", "_ms", "_scope")

    def __init__(self) -> None:
        self._scope = trio.CancelScope()
        self._done = trio.Event()
        self._error: Callable[[], BaseException] | None = None
        self._completed = False
        self._frames = 0
        self._ms = 0.0

    @property
    def done(self) -> bool:
        """Whether the pump has stopped (finished, cancelled, or the session ended)."""
        return self._done.is_set()

    @property
    def completed(self) -> bool:
        """Whether the whole source was queued for sending (False while running or if stopped early)."""
        return self._completed

    @property
    def frames_sent(self) -> int:
        """Append events queued so far."""
        return self._frames

    @property
    def audio_ms_sent(self) -> float:
        """Milliseconds of audio queued so far."""
        return self._ms

    async def wait(self) -> None:
        """Wait until the pump stops: the source is exhausted and every frame is queued, or
        it was cancelled, or the session ended. :attr:`completed` tells which.

        Raises:
            ConnectionClosed: The session ended abnormally before the whole source was
                queued (a dead peer, an abnormal close).
        """
        await self._done.wait()
        if self._error is not None and not self._completed:
            raise self._error()

    def cancel(self) -> None:
        """Stop the pump now; frames already queued are still sent."""
        self._scope.cancel()

    def _fail(self, make_error: Callable[[], BaseException] | None) -> None:
        """The session ended: stop, and have :meth:`wait` raise ``make_error()`` if given."""
        if make_error is not None and not self._done.is_set():
            self._error = make_error
        self._scope.cancel()

    def __repr__(self) -> str:
        state = "completed" if self._completed else "stopped" if self.done else "running"
        return f"<AudioStream {state}: {self._frames} frames, {self._ms:.0f} ms>"


_SLICE: Final = 256 * 1024  # a bytes source is fed in slices, so frames are made as needed


async def _pieces(source: AudioSource) -> AsyncGenerator[bytes | bytearray | memoryview, None]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), _SLICE):
            yield view[start : start + _SLICE]
        return
    async for piece in source:
        yield piece


async def pump_audio(
    source: AudioSource,
    stream: AudioStream,
    send_frame: Callable[[bytes], Awaitable[bool]],
    *,
    fmt: AudioFormat,
    frame_bytes: int,
    realtime: bool,
) -> None:
    """Re-chunk ``source`` into ``frame_bytes`` frames and hand each to ``send_frame``.

    With ``realtime`` each frame waits for its slot in a :class:`Pacer` schedule; otherwise
    frames go as fast as ``send_frame`` (the session's bounded channel) takes them. Stops
    early, quietly, when ``send_frame`` returns False (the session is closing or has ended).
    An async generator given as ``source`` is closed when the pump stops; other iterables
    (a memory channel, say) are left open for their owner.

    Raises:
        AudioFormatError: The source ended in the middle of a sample.
        TypeError: The source yielded something that is not bytes.
    """
    rechunker = Rechunker(frame_bytes, fmt.sample_width)
    pacer = Pacer(fmt.bytes_per_ms) if realtime else None
    bytes_per_ms = fmt.bytes_per_ms
    pieces = _pieces(source)

    async def send(frame: bytes) -> bool:
        if pacer is not None:
            await trio.sleep_until(pacer.due(trio.current_time()))
        if not await send_frame(frame):
            return False
        if pacer is not None:
            pacer.advance(len(frame))
        stream._frames += 1
        stream._ms += len(frame) / bytes_per_ms
        return True

    try:
        async for piece in pieces:
            if not isinstance(piece, bytes | bytearray | memoryview):
                raise TypeError(f"audio sources must yield bytes, got {type(piece).__name__}")
            for frame in rechunker.feed(piece):
                if not await send(frame):
                    return
        tail = rechunker.flush()
        if tail and not await send(tail):
            return
        stream._completed = True
    finally:
        with trio.CancelScope(shield=True):
            await pieces.aclose()
        if inspect.isasyncgen(source):
            with trio.CancelScope() as scope:
                scope.cancel()  # close it as trio.aclose_forcefully would: no waiting
                await source.aclose()


async def run_pump(
    stream: AudioStream,
    source: AudioSource,
    send_frame: Callable[[bytes], Awaitable[bool]],
    fmt: AudioFormat,
    frame_bytes: int,
    realtime: bool,
    running: set[AudioStream],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The body of a pump task: :func:`pump_audio` inside ``stream``'s cancel scope, listed in
    ``running`` while it runs. Start it with ``nursery.start``."""
    with stream._scope:
        running.add(stream)
        task_status.started()
        try:
            await pump_audio(
                source, stream, send_frame, fmt=fmt, frame_bytes=frame_bytes, realtime=realtime
            )
        finally:
            running.discard(stream)
            stream._done.set()
