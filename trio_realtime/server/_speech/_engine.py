"""The speech engine: real recognition in (pocketsphinx), real synthesis out (eSpeak NG).

:func:`open_speech_engine` starts it (a pool of recogniser processes) and yields a
:class:`SpeechEngine` to pass to :func:`~trio_realtime.server.serve`. Each connection gets a
:class:`SpeechSession` (the server's per-connection engine), which:

* **hears** the input audio as it arrives: a turn (from ``speech_started``, or every append
  with VAD off) is piped to a recogniser process while the user speaks, so at the commit only
  the last moments remain to decode;
* **transcribes** each committed turn with what it heard: ``gpt-4o-*`` models stream one
  delta per word, ``whisper-1`` sends the transcript as one delta (the rule of the simulated
  engine), all after the commit as on the live service; a ``language`` other than English
  fails the transcript (the bundled model is en-US only);
* **answers** as the simulated engine does (``"You said: <what it heard>"``, tool calls when
  the user names a tool, tool outputs read back), the words of committed turns taken from
  what it heard whether or not input transcription is on, and **speaks** the reply with
  eSpeak NG in the response's output format.

Recognition and synthesis are :class:`~trio_realtime.server.Deferred` work: the server runs
them in the connection's own task, one after the other, so a slow recogniser delays its own
session and no other. Recognisers are bounded by the pool (``recognisers`` processes, lent
one utterance at a time, first come first served); synthesis by a capacity limiter (one at a
time: eSpeak NG is single-threaded, and takes about 1.5 ms per second of speech).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final, final

import attrs
import trio

from ..._core._audio import audio_format
from ..._core._events import ConversationItem, TranscriptionError
from .._engine import SimulatedEngine
from .._engine_api import (
    Deferred,
    EngineSession,
    PlannedAudio,
    PlannedOutput,
    PlannedText,
    ResponsePlan,
    ResponseRequest,
    TranscriptionPlan,
    TranscriptionRequest,
)
from ._recogniser import Heard, Recogniser, RecogniserPool
from ._voice import Voice

__all__ = ["SpeechEngine", "SpeechSession", "SpeechStatistics", "open_speech_engine"]

#: Per-connection memory of what was heard, by item id (the newest this many items).
_HEARD_ITEMS: Final = 256
#: Audio sent to a recogniser per write while catching up on a long turn.
_FEED_BYTES: Final = 48_000
#: Where a session's first turn starts normalising from: the cepstral means pocketsphinx
#: adapts to after the real recordings in its own source distribution (test/data: goforward,
#: numbers, something, cards; not the LibriVox ones the benchmark scores). Its built-in
#: start (40,3,-1) doubles the word error rate of first turns. Later turns start from the
#: means adapted to the session's previous turn.
CMN_PRIOR: Final = "57.18,-6.13,0.69,1.28,-7.54,1.99,-5.63,-0.74,-6.97,1.03,-1.40,0.47,1.09"
#: Heard audio may run past the committed audio by this much (the rest of the append in
#: which VAD's silence ended) and still count as the same turn.
_TAIL_MS: Final = 1000.0


@attrs.define(kw_only=True)
class SpeechStatistics:
    """What the engine has done since it started (for benchmarks and diagnostics).

    Attributes:
        utterances: Utterances recognised.
        audio_seconds: Audio they held.
        cpu_seconds: Recogniser CPU time they took (``cpu_seconds / audio_seconds`` is the
            real-time factor of one stream).
        streamed: Utterances decoded while they were spoken (the others were decoded whole
            after the commit: a format change, a manual commit mid-speech...).
        failures: Utterances that could not be recognised.
        syntheses: Replies spoken.
        speech_seconds: Seconds of speech synthesised.
        synthesis_seconds: Wall time synthesis took (in threads).
    """

    utterances: int = 0
    audio_seconds: float = 0.0
    cpu_seconds: float = 0.0
    streamed: int = 0
    failures: int = 0
    syntheses: int = 0
    speech_seconds: float = 0.0
    synthesis_seconds: float = 0.0

    def record(self, heard: Heard, *, streamed: bool) -> None:
        """Count one recognised utterance."""
        self.utterances += 1
        self.audio_seconds += heard.audio_ms / 1000
        self.cpu_seconds += heard.cpu_seconds
        self.streamed += streamed

    @property
    def realtime_factor(self) -> float | None:
        """Recogniser CPU seconds per second of audio (``None`` before any audio)."""
        return self.cpu_seconds / self.audio_seconds if self.audio_seconds else None

    def to_json(self) -> dict[str, Any]:
        """The counters as a JSON object, with the real-time factor."""
        return {**attrs.asdict(self), "realtime_factor": self.realtime_factor}


@final
class SpeechEngine:
    """Real speech for the reference server; made by :func:`open_speech_engine`.

    Attributes:
        replies: The rules (and pacing) of the replies' words: a
            :class:`~trio_realtime.server.SimulatedEngine`.
        statistics: What the engine has done so far.
        max_turn_seconds: Recognition stops this far into a turn (bounded work per turn).
    """

    def __init__(
        self,
        *,
        pool: RecogniserPool,
        voice: Voice,
        replies: SimulatedEngine,
        synthesis_limiter: trio.CapacityLimiter,
        max_turn_seconds: float,
    ) -> None:
        self.replies = replies
        self.statistics = SpeechStatistics()
        self.max_turn_seconds = max_turn_seconds
        self._pool = pool
        self._voice = voice
        self._synthesis = synthesis_limiter

    @property
    def recognisers(self) -> int:
        """The most utterances recognised at once (recogniser processes)."""
        return self._pool.size

    def open_session(self) -> SpeechSession:
        """A session for one connection (the server calls this)."""
        return SpeechSession(self)

    def respond(self, request: ResponseRequest) -> Deferred[ResponsePlan]:
        """Plan a response outside any connection (words heard earlier are unknown)."""
        return SpeechSession(self).respond(request)

    def transcribe(self, request: TranscriptionRequest) -> Deferred[TranscriptionPlan]:
        """Transcribe committed audio outside any connection (decoded whole)."""
        return SpeechSession(self).transcribe(request)

    # -- the parts sessions share -----------------------------------------------------------

    async def _acquire(self) -> Recogniser:
        return await self._pool.acquire()

    def _release(self, recogniser: Recogniser) -> None:
        self._pool.release(recogniser)

    async def _speak(self, text: str, voice: str, fmt: str) -> bytes:
        started = trio.current_time()
        audio = await trio.to_thread.run_sync(
            self._voice.speak, text, voice, fmt, limiter=self._synthesis
        )
        stats = self.statistics
        stats.syntheses += 1
        stats.speech_seconds += len(audio) / audio_format(fmt).bytes_per_ms / 1000
        stats.synthesis_seconds += trio.current_time() - started
        return audio


@asynccontextmanager
async def open_speech_engine(
    *,
    recognisers: int = 4,
    preload: int = 1,
    realistic: bool = False,
    max_turn_seconds: float = 120.0,
    **reply_settings: Any,
) -> AsyncIterator[SpeechEngine]:
    """Start the speech engine; it stops (its recogniser processes end) when the block exits.

    Args:
        recognisers: The most utterances decoded at once: recogniser processes, started on
            demand, about 100 MB each. Sessions beyond it wait their turn (their audio
            queues, and a session too far behind stops being read).
        preload: Processes started before the block begins, so the first turns do not wait
            for a model to load (at most ``recognisers``).
        realistic: Pace replies like the live service (as
            :meth:`SimulatedEngine.realistic <trio_realtime.server.SimulatedEngine.realistic>`
            does, without its stand-in delays); otherwise they stream as fast as possible.
        max_turn_seconds: Recognition stops this far into a turn.
        reply_settings: Override :class:`~trio_realtime.server.SimulatedEngine` attributes
            of the reply rules (``max_echo_chars``, pacing...).

    Raises:
        RecogniserError: A recogniser failed to start (pocketsphinx missing or broken).
        VoiceError: eSpeak NG is missing or broken.
        ValueError: An argument is out of range.
    """
    if not max_turn_seconds > 0:
        raise ValueError(f"max_turn_seconds must be > 0, got {max_turn_seconds!r}")
    if realistic:  # the simulated engine's pacing, without its stand-in delays: the real
        # work (recognition, synthesis) takes its own time
        settings: dict[str, Any] = {"first_delta_delay": 0.0, "transcription_delay": 0.0}
        replies = SimulatedEngine.realistic(**{**settings, **reply_settings})
    else:
        replies = SimulatedEngine(**reply_settings)
    voice = Voice()
    pool = RecogniserPool(recognisers)
    try:
        await pool.preload(max(0, preload))
        yield SpeechEngine(
            pool=pool,
            voice=voice,
            replies=replies,
            synthesis_limiter=trio.CapacityLimiter(1),
            max_turn_seconds=max_turn_seconds,
        )
    finally:
        await pool.aclose()


@final
class _Turn:
    """A turn the session is hearing: its audio, and the recogniser streaming it."""

    __slots__ = ("draining", "dropped", "fmt", "heard", "limit", "pending", "recogniser", "sent")

    def __init__(self, fmt: str, limit: int) -> None:
        self.fmt = fmt
        self.limit = limit  # bytes heard at most (max_turn_seconds)
        self.heard = 0  # bytes of the turn heard so far
        self.sent = 0  # bytes of it sent to the recogniser
        self.pending = bytearray()  # heard, not yet sent
        self.recogniser: Recogniser | None = None
        self.draining = False  # a drain is queued
        self.dropped = False  # will never be committed; stop work on it
        # A turn whose format changed midway cannot be streamed: it is decoded whole.

    def hear(self, audio: bytes) -> None:
        room = self.limit - self.heard
        if room > 0:
            self.pending += audio[:room]
        self.heard += len(audio)


@final
class SpeechSession(EngineSession):
    """One connection's speech: hearing, transcripts and replies (see the module docstring)."""

    def __init__(self, engine: SpeechEngine) -> None:
        self._engine = engine
        self._turn: _Turn | None = None
        self._heard: OrderedDict[str, str] = OrderedDict()
        self._cmn = CMN_PRIOR  # where this speaker's next turn starts normalising from
        self._closed = False

    # -- Listener -----------------------------------------------------------------------------

    def _limit(self, fmt: str) -> int:
        return int(self._engine.max_turn_seconds * 1000 * audio_format(fmt).bytes_per_ms)

    def turn_started(self, audio: bytes, fmt: str) -> Deferred[None] | None:
        """Begin hearing a turn with ``audio``; a turn in progress is dropped."""
        previous = self._turn
        if previous is not None:
            previous.dropped = True
        turn = self._turn = _Turn(fmt, self._limit(fmt))
        turn.hear(audio)

        async def start() -> None:
            if previous is not None:
                await self._drop(previous)
            await self._drain(turn)

        turn.draining = True
        return Deferred(start, "hearing a turn")

    def audio_appended(self, audio: bytes, fmt: str) -> Deferred[None] | None:
        """Hear more of the turn in progress."""
        turn = self._turn
        if turn is None:
            return None
        if fmt != turn.fmt:  # a format change: the commit decodes the turn whole
            turn.dropped = True
            self._turn = None
            return Deferred(lambda: self._drop(turn), "dropping a turn")
        turn.hear(audio)
        if turn.draining or not turn.pending:
            return None
        turn.draining = True
        return Deferred(lambda: self._drain(turn), "hearing a turn")

    def turn_committed(self, item_id: str, audio: bytes, fmt: str) -> Deferred[None] | None:
        """Finish hearing the turn as ``item_id``: what was heard is known to later work."""
        turn, self._turn = self._turn, None
        streamed = turn is not None and _same_turn(turn, audio, fmt)
        if turn is not None and not streamed:
            turn.dropped = True

        async def finish() -> None:
            heard: Heard | None = None
            try:
                if streamed:
                    assert turn is not None
                    heard = await self._finish(turn, len(audio))
                else:
                    if turn is not None:
                        await self._drop(turn)
                    heard = await self._decode(audio, fmt)
            finally:
                self._remember(item_id, heard, streamed=streamed)

        return Deferred(finish, "recognising a turn")

    def turn_dropped(self) -> Deferred[None] | None:
        """Forget the turn in progress."""
        turn, self._turn = self._turn, None
        if turn is None:
            return None
        turn.dropped = True
        return Deferred(lambda: self._drop(turn), "dropping a turn")

    def backlog_ms(self) -> float:
        """Heard audio not yet sent to a recogniser, in milliseconds."""
        turn = self._turn
        if turn is None:
            return 0.0
        return len(turn.pending) / audio_format(turn.fmt).bytes_per_ms

    def close(self) -> None:
        """Give back the recogniser of a turn in progress (it is reset before reuse)."""
        self._closed = True
        turn, self._turn = self._turn, None
        if turn is not None and turn.recogniser is not None:
            recogniser, turn.recogniser = turn.recogniser, None
            self._engine._release(recogniser)

    # -- recognition --------------------------------------------------------------------------

    async def _drain(self, turn: _Turn) -> None:
        """Send what the turn heard since the last drain to its recogniser."""
        turn.draining = False
        if turn.dropped or not turn.pending:
            return
        recogniser = await self._recogniser_for(turn)
        while turn.pending and not turn.dropped:
            chunk = bytes(turn.pending[:_FEED_BYTES])
            del turn.pending[:_FEED_BYTES]
            turn.sent += len(chunk)
            await recogniser.feed(chunk)

    async def _recogniser_for(self, turn: _Turn) -> Recogniser:
        if turn.recogniser is None:
            recogniser = await self._engine._acquire()
            turn.recogniser = recogniser
            try:
                await recogniser.begin(turn.fmt, self._cmn)
            except BaseException:
                self._give_back(turn)
                raise
        return turn.recogniser

    def _give_back(self, turn: _Turn) -> None:
        recogniser, turn.recogniser = turn.recogniser, None
        if recogniser is not None:
            self._engine._release(recogniser)

    async def _finish(self, turn: _Turn, committed: int) -> Heard:
        """End a streamed turn: send the rest of the committed audio, take the transcript."""
        try:
            recogniser = await self._recogniser_for(turn)
            rest = max(0, min(committed, turn.limit) - turn.sent)
            tail = bytes(turn.pending[:rest])
            turn.pending.clear()
            for start in range(0, len(tail), _FEED_BYTES):
                await recogniser.feed(tail[start : start + _FEED_BYTES])
            return await recogniser.end()
        finally:
            self._give_back(turn)

    async def _drop(self, turn: _Turn) -> None:
        turn.pending.clear()
        if turn.recogniser is not None:
            try:
                await turn.recogniser.abandon()
            finally:
                self._give_back(turn)

    async def _decode(self, audio: bytes, fmt: str) -> Heard:
        """Recognise committed audio whole (a turn that could not be streamed)."""
        turn = _Turn(fmt, self._limit(fmt))
        try:
            recogniser = await self._recogniser_for(turn)
            audio = audio[: turn.limit]
            for start in range(0, len(audio), _FEED_BYTES):
                await recogniser.feed(audio[start : start + _FEED_BYTES])
            return await recogniser.end()
        finally:
            self._give_back(turn)

    def _remember(self, item_id: str, heard: Heard | None, *, streamed: bool) -> None:
        stats = self._engine.statistics
        if heard is None:
            stats.failures += 1
            return
        stats.record(heard, streamed=streamed)
        if heard.cmn is not None:
            self._cmn = heard.cmn
        self._heard[item_id] = heard.text
        self._heard.move_to_end(item_id)
        while len(self._heard) > _HEARD_ITEMS:
            self._heard.popitem(last=False)

    # -- Engine -------------------------------------------------------------------------------

    def transcribe(self, request: TranscriptionRequest) -> Deferred[TranscriptionPlan]:
        """The transcript of a committed turn: what was heard (see the module docstring)."""

        async def plan() -> TranscriptionPlan:
            language = (request.language or "en").lower()
            if not language.startswith("en"):
                return TranscriptionPlan(
                    failure=TranscriptionError(
                        type="transcription_error",
                        code="unsupported_language",
                        message=f"The local speech engine transcribes English only, not "
                        f"{request.language!r}.",
                    )
                )
            text = self._heard.get(request.item_id)
            if text is None:  # not heard as a turn (an engine used without a connection)
                heard = await self._decode(request.audio, request.input_audio_format)
                self._remember(request.item_id, heard, streamed=False)
                text = heard.text
            return TranscriptionPlan(transcript=text, deltas=_deltas(text, request.model))

        return Deferred(plan, "transcribing a turn")

    def respond(self, request: ResponseRequest) -> Deferred[ResponsePlan]:
        """A reply by the simulated engine's rules to what was heard, spoken if audio."""

        async def plan() -> ResponsePlan:
            items = tuple(self._with_heard(item) for item in request.items)
            words = self._engine.replies.respond(
                attrs.evolve(request, items=items, modalities=("text",))
            )
            if "audio" not in request.modalities:
                return words
            outputs: list[PlannedOutput] = []
            for output in words.outputs:
                if isinstance(output, PlannedText):
                    audio = await self._engine._speak(
                        output.text, request.voice, request.output_audio_format
                    )
                    outputs.append(PlannedAudio(transcript=output.text, audio=audio))
                else:
                    outputs.append(output)
            return attrs.evolve(words, outputs=tuple(outputs))

        return Deferred(plan, "planning a reply")

    def _with_heard(self, item: ConversationItem) -> ConversationItem:
        """A user audio item with what was heard as its transcript, where it has none."""
        heard = self._heard.get(item.id) if isinstance(item.id, str) else None
        if heard is None or item.role != "user" or not isinstance(item.content, list):
            return item
        parts = [
            attrs.evolve(part, transcript=heard)
            if part.type == "input_audio" and not isinstance(part.transcript, str)
            else part
            for part in item.content
        ]
        return attrs.evolve(item, content=parts)


def _same_turn(turn: _Turn, audio: bytes, fmt: str) -> bool:
    """Whether ``audio`` (committed) is the turn that was heard, give or take a tail."""
    if turn.fmt != fmt or turn.dropped:
        return False
    tail = turn.heard - len(audio)
    return 0 <= tail <= _TAIL_MS * audio_format(fmt).bytes_per_ms


def _deltas(text: str, model: str) -> tuple[str, ...]:
    """``gpt-4o-*``: one delta per word (with its leading space); others: the whole text."""
    if not text:
        return ()
    if not model.startswith("gpt-4o"):
        return (text,)
    words = text.split(" ")
    return (words[0], *(" " + word for word in words[1:]))
