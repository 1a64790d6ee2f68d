"""``trio-realtime transcribe``: live transcripts of WAV files from a transcription session.

::

    trio-realtime transcribe                          # the bundled example, embedded server
    trio-realtime transcribe a.wav b.wav --fast --json
    trio-realtime transcribe call.wav --url wss://api.openai.com/v1/realtime --model whisper-1

One transcription session (``?intent=transcription``) with ``input_audio_transcription`` set to
``--model`` (``gpt-4o-transcribe``) takes every file in turn. Each file (any WAV; converted to
24 kHz mono PCM16) is streamed at real time (``--fast``: as fast as possible) in 100 ms appends,
then enough silence for server VAD to end the last segment; with ``--manual`` VAD is off and
each file is committed whole. The next file starts once every segment of this one is
transcribed.

**Text output** (stdout): per file a header line, then one line per speech segment, written
as the transcript deltas arrive::

    hello.wav (3.00 s)
      [0.00-2.95] 2.9 seconds of speech.

The times are seconds into the file, from server VAD's ``audio_start_ms`` and ``audio_end_ms``
(``--manual``: the whole file).

**JSON output** (``--json``): JSON lines on stdout, one object per transcript event and one
per file, in this order::

    {"type": "delta", "file": F, "item_id": I, "delta": "2.9"}
    {"type": "transcript", "file": F, "item_id": I, "start_ms": 0, "end_ms": 2950,
     "text": "2.9 seconds of speech.", "latency_ms": 12.3}
    {"type": "failed", "file": F, "item_id": I, "start_ms": 0, "end_ms": 2950,
     "error": {"type": ..., "code": ..., "message": ...}}
    {"type": "file", "file": F, "duration_ms": 3000.0, "segments": 1, "failed": 0,
     "text": "the segments' transcripts joined by spaces"}

``start_ms`` and ``end_ms`` are milliseconds into the file (``null`` if unknown);
``latency_ms`` is from the end of speech (when the audio at ``end_ms`` was sent, or the commit)
to the transcript's arrival, on trio's clock (``null`` if unknown).

A failed transcription or a server error makes the exit status 1 (after all the files).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, Final

import attrs
import orjson
import trio

from .._core._audio import PCM16, duration_ms, silence
from .._core._events._client import InputAudioBufferCommit
from .._core._events._objects import InputAudioTranscription, TranscriptionSession
from .._core._events._server import (
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
)
from .._core._unset import UNSET
from .._session._pump import AudioStream
from .._session._replay import TurnTimer
from ._common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SESSION,
    add_server_arguments,
    check_output_path,
    connect_to,
    load_input,
    open_target,
    run_trio,
)
from ._console import Console, OrderedLines, show_progress
from ._session import LiveSession, trailing_silence_ms

__all__ = ["TranscriptView", "configure", "run"]

DEFAULT_MODEL: Final = "gpt-4o-transcribe"
_VAD_GRACE: Final = 2.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``transcribe``'s arguments."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "--json writes JSON lines: {type: delta|transcript|failed|file, file, item_id, "
        "delta, text, start_ms, end_ms, latency_ms, error, duration_ms, segments, failed} "
        "(see the module trio_realtime._cli._transcribe)\n\n" + EXIT_CODES_HELP
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="WAV files (any rate, width, channels); default: the bundled example",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"the transcription model ({DEFAULT_MODEL}; also whisper-1, gpt-4o-mini-transcribe)",
    )
    parser.add_argument("--language", help="the audio's language, ISO-639-1 (e.g. en)")
    parser.add_argument(
        "--manual", action="store_true", help="turn server VAD off: each file is one segment"
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="send the audio as fast as possible, not at real time (and the embedded server "
        "answers unpaced)",
    )
    parser.add_argument("--json", action="store_true", help="write JSON lines (see below)")
    add_server_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``transcribe``; returns the exit status."""
    console = Console(sys.stdout, sys.stderr, quiet=args.quiet)
    return run_trio("transcribe", lambda: _transcribe(args, console))


@attrs.define
class _Segment:
    file: str
    start_ms: float | None = None
    end_ms: float | None = None
    text: str = ""
    done: bool = False


class TranscriptView:
    """Turns a transcription session's events into segment lines or JSON objects; no I/O.

    Args:
        lines: Where text lines go (text mode).
        emit: Where JSON objects go (JSON mode; ``None`` for text mode).
        timer: The session's timer, fed each event before this view.
    """

    def __init__(
        self,
        lines: OrderedLines,
        emit: Callable[[dict[str, Any]], None] | None,
        timer: TurnTimer,
    ) -> None:
        self._lines = lines
        self._emit = emit
        self._timer = timer
        self._segments: dict[str, _Segment] = {}
        self._pending: set[str] = set()
        self.file = ""
        self._offset_ms = 0.0
        self._last_end_ms = 0.0
        self.failed = 0
        self._file_texts: list[str] = []
        self._file_failed = 0

    def begin_file(self, name: str, seconds: float) -> None:
        """Attribute what comes next to file ``name``, starting at the audio sent so far."""
        self.file = name
        self._offset_ms = self._timer.audio_sent_ms
        self._last_end_ms = 0.0
        self._file_texts = []
        self._file_failed = 0
        if self._emit is None:
            self._lines.print(f"{name} ({seconds:.2f} s)")

    def end_file(self, seconds: float) -> None:
        """Close the current file (JSON mode: its summary object)."""
        if self._emit is not None:
            self._emit(
                {
                    "type": "file",
                    "file": self.file,
                    "duration_ms": seconds * 1000,
                    "segments": len(self._file_texts) + self._file_failed,
                    "failed": self._file_failed,
                    "text": " ".join(t.strip() for t in self._file_texts if t.strip()),
                }
            )

    @property
    def settled(self) -> bool:
        """Every committed segment has its transcript (or failed)."""
        return not self._pending

    def _segment(self, item_id: str) -> _Segment:
        segment = self._segments.get(item_id)
        if segment is None:
            segment = self._segments[item_id] = _Segment(self.file)
        return segment

    def _relative(self, clock_ms: int) -> float:
        return max(0.0, clock_ms - self._offset_ms)

    def __call__(self, t: float, event: object) -> None:
        """Take one event (after the timer took it)."""
        if isinstance(event, InputAudioBufferSpeechStarted):
            self._segment(event.item_id).start_ms = self._relative(event.audio_start_ms)
        elif isinstance(event, InputAudioBufferSpeechStopped):
            self._segment(event.item_id).end_ms = self._relative(event.audio_end_ms)
        elif isinstance(event, InputAudioBufferCommitted):
            self._committed(event.item_id)
        elif isinstance(event, InputAudioTranscriptionDelta):
            if isinstance(event.delta, str) and event.delta:
                self._delta(event.item_id, event.delta)
        elif isinstance(event, InputAudioTranscriptionCompleted):
            self._completed(event.item_id, event.transcript)
        elif isinstance(event, InputAudioTranscriptionFailed):
            self._failed(event)

    def _committed(self, item_id: str) -> None:
        segment = self._segment(item_id)
        if segment.end_ms is None:  # a manual commit takes everything sent since the last one
            segment.start_ms = self._last_end_ms
            segment.end_ms = self._relative(round(self._timer.audio_sent_ms))
        self._last_end_ms = segment.end_ms
        if not segment.done:
            self._pending.add(item_id)
        if self._emit is None:
            self._lines.open(item_id, self._prefix(segment))

    def _prefix(self, segment: _Segment) -> str:
        def seconds(ms: float | None) -> str:
            return "?" if ms is None else f"{ms / 1000:.2f}"

        return f"  [{seconds(segment.start_ms)}-{seconds(segment.end_ms)}] "

    def _delta(self, item_id: str, delta: str) -> None:
        segment = self._segment(item_id)
        segment.text += delta
        if self._emit is not None:
            self._emit({"type": "delta", "file": segment.file, "item_id": item_id, "delta": delta})
        else:
            self._lines.open(item_id, self._prefix(segment))
            self._lines.add(item_id, delta)

    def _latency_ms(self, item_id: str) -> float | None:
        for turn in reversed(self._timer.turns):
            if turn.item_id == item_id and turn.input_transcript_done is not None:
                return round(turn.input_transcript_done * 1000, 1)
        return None

    def _completed(self, item_id: str, transcript: str) -> None:
        segment = self._segment(item_id)
        segment.text, segment.done = transcript, True
        self._pending.discard(item_id)
        if segment.file == self.file:
            self._file_texts.append(transcript)
        if self._emit is not None:
            self._emit(
                {
                    "type": "transcript",
                    "file": segment.file,
                    "item_id": item_id,
                    "start_ms": segment.start_ms,
                    "end_ms": segment.end_ms,
                    "text": transcript,
                    "latency_ms": self._latency_ms(item_id),
                }
            )
        else:
            self._lines.open(item_id, self._prefix(segment))
            self._lines.finish(item_id, transcript)

    def _failed(self, event: InputAudioTranscriptionFailed) -> None:
        segment = self._segment(event.item_id)
        segment.done = True
        self._pending.discard(event.item_id)
        self.failed += 1
        if segment.file == self.file:
            self._file_failed += 1
        error = {k: v for k, v in attrs.asdict(event.error).items() if v is not UNSET}
        error.pop("extra", None)
        if self._emit is not None:
            self._emit(
                {
                    "type": "failed",
                    "file": segment.file,
                    "item_id": event.item_id,
                    "start_ms": segment.start_ms,
                    "end_ms": segment.end_ms,
                    "error": error,
                }
            )
        else:
            self._lines.open(event.item_id, self._prefix(segment))
            self._lines.finish(
                event.item_id, f"(transcription failed: {error.get('message', 'no reason given')})"
            )


async def _transcribe(args: argparse.Namespace, console: Console) -> int:
    # Every input is read before connecting: a bad file fails fast, with nothing sent.
    warn = console.message
    inputs = [load_input(p, warn) for p in args.files] if args.files else [load_input(None, warn)]
    if args.record is not None:
        check_output_path(args.record, "recording")
    total = sum(duration_ms(len(pcm), PCM16) for _, pcm in inputs) / 1000
    async with (
        open_target(args.url, realistic=not args.fast, engine=args.engine) as target,
        connect_to(
            target, intent="transcription", record=args.record, dialect=args.dialect
        ) as session,
    ):
        plural = "s" * (len(inputs) != 1)
        console.info(
            f"transcribe: {len(inputs)} file{plural} ({total:.2f} s) with {args.model} "
            f"on {target.description}"
        )
        if target.engine_note is not None:
            console.info(target.engine_note)
        timer = TurnTimer()
        lines = OrderedLines(console)

        def emit(obj: dict[str, Any]) -> None:
            console.line(orjson.dumps(obj).decode())

        view = TranscriptView(lines, emit if args.json else None, timer)
        live = LiveSession(session, console, timer, [view])
        progress = _Progress(live, len(inputs))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.read)
            nursery.start_soon(show_progress, console, progress.render)
            await _configure(live, args)
            for index, (name, pcm) in enumerate(inputs, start=1):
                seconds = duration_ms(len(pcm), PCM16) / 1000
                progress.start(index, name, seconds)
                view.begin_file(name, seconds)
                await _send_file(live, view, args, pcm, progress)
                view.end_file(seconds)
            nursery.cancel_scope.cancel()
        lines.close()
    return EXIT_SESSION if live.errors or view.failed else EXIT_OK


async def _configure(live: LiveSession, args: argparse.Namespace) -> None:
    config = TranscriptionSession(
        input_audio_format="pcm16",
        input_audio_transcription=InputAudioTranscription(
            model=args.model, language=args.language if args.language else UNSET
        ),
        turn_detection=None if args.manual else UNSET,
    )
    await live.configure(config, within=args.timeout, what="transcription_session.updated")


async def _send_file(
    live: LiveSession,
    view: TranscriptView,
    args: argparse.Namespace,
    pcm: bytes,
    progress: _Progress,
) -> None:
    """Stream one file, end its last segment, and wait for all its transcripts."""
    conversation = live.session.conversation
    tail = b""
    if not args.manual:
        tail = silence(trailing_silence_ms(conversation.transcription_session))
    progress.stream = await live.send_audio(pcm + tail, realtime=not args.fast)
    await progress.stream.wait()
    progress.phase = "waiting for transcripts"
    await live.sync(transcription=True, within=args.timeout)
    if not args.manual and conversation.user_speaking:
        await live.wait_for_condition(
            lambda: not conversation.user_speaking, within=_VAD_GRACE, what="end of speech"
        )
    if args.manual or conversation.user_speaking:
        live.timer.sent(trio.current_time(), await live.session.send(InputAudioBufferCommit()))
        await live.sync(transcription=True, within=args.timeout)
    await live.wait_until(lambda: view.settled, within=args.timeout, what="transcript")


@attrs.define
class _Progress:
    live: LiveSession
    files: int
    index: int = 0
    name: str = ""
    seconds: float = 0.0
    phase: str = "configuring"
    stream: AudioStream | None = None

    def start(self, index: int, name: str, seconds: float) -> None:
        self.index, self.name, self.seconds = index, name, seconds
        self.phase, self.stream = "sending", None

    def render(self) -> str:
        if not self.name:
            return f"{self.phase}, {self.live.events} events received"
        sent = self.stream.audio_ms_sent / 1000 if self.stream is not None else 0.0
        which = f" ({self.index}/{self.files})" if self.files > 1 else ""
        return (
            f"{self.name}{which}: {min(sent, self.seconds):.1f}/{self.seconds:.1f} s sent, "
            f"{self.phase}, {self.live.events} events received"
        )
