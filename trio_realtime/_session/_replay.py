"""Replaying sessions: the conversation and the turn latencies of a timed event log, and re-sending.

A recording (:func:`trio_realtime.read_recording`) is a timed log of every event both ways;
so is a live session, as it happens. The same sans-I/O pieces serve both:

* :func:`conversation_from_recording` feeds a recording through a
  :class:`~trio_realtime.Conversation`, offline: the items, transcripts, audio and usage of a
  past session, for research;
* :class:`TurnTimer` is fed timed events (from a recording, or live from a session) and
  measures every turn's latencies; :func:`turn_latencies` runs it over a recording;
* :func:`resend_recording` sends a recording's client events to a session again, with their
  original timing.

**Turn latencies, precisely.** All times are seconds on one monotonic clock: the recording's
``t``, or ``trio.current_time()`` for a live session. A *turn* is one committed user input
item. Its **end of speech** is:

* with server VAD (``input_audio_buffer.speech_stopped``): the time the client sent the
  ``input_audio_buffer.append`` carrying the input-audio offset ``audio_end_ms`` (the session's
  audio clock counts every millisecond of input audio sent, in the input format of the time).
  It is when the server *could* know that speech had ended: the reference server's
  ``audio_end_ms`` includes the ``silence_duration_ms`` of silence that ends a turn;
* after a manual ``input_audio_buffer.commit``: the time the commit was sent.

A live session's timer may be told instead when an audio pump *handed each append to the
session* (:meth:`TurnTimer.audio_sent`): the same moment when audio is paced at real time, but
earlier than the write when appends queue up behind a fast pump, while a recording's ``t`` is
when the event was written to the socket.

A *response* is attributed to the latest turn committed since the previous response began;
if there is none (a text turn), to the oldest unanswered ``response.create``, whose sending
time then stands in for the end of speech. Every latency is measured from the end of speech
to the *arrival* of an event: the first ``response.audio.delta`` (first audio), the first
``response.audio_transcript.delta`` or ``response.text.delta`` (first text),
``response.done``, and the input transcription's first delta and its ``completed`` (or
``failed``). A live session times arrivals when the application receives the event.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Final, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

import attrs
import trio

from .._core._audio_format import PCM16, AudioFormat, audio_format
from .._core._conversation import Conversation
from .._core._decode_failure import DecodeFailure
from .._core._errors import AudioFormatError
from .._core._events import ClientEvent, Event, ServerEvent, UnknownEvent
from .._core._events._client import (
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    ResponseCreate,
)
from .._core._events._server import (
    ErrorEvent,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseCreated,
    ResponseDone,
    ResponseTextDelta,
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)
from .._core._recording import Recording

__all__ = [
    "EventSender",
    "TurnLatency",
    "TurnTimer",
    "conversation_from_recording",
    "recorded_target",
    "resend_recording",
    "turn_latencies",
]

Trigger = Literal["server_vad", "commit", "response.create"]

_TICKS_PER_MS: Final = 24  # the audio clock counts 1/24000 s: whole samples of every format
#: Transcripts that arrive before their item is committed, and requests not answered yet,
#: wait in queues of at most this many.
_EARLY_LIMIT: Final = 64
#: Appends remembered for placing an end of speech: an hour of 100 ms appends.
_MARKS_LIMIT: Final = 36_000


@attrs.frozen(kw_only=True)
class TurnLatency:
    """One turn's timing (see the module docstring for the definitions).

    Attributes:
        item_id: The committed user item, or ``None`` for a response to a bare
            ``response.create``.
        response_id: The response attributed to the turn, or ``None`` if none was.
        trigger: What ended the turn: ``"server_vad"``, ``"commit"`` or ``"response.create"``.
        end_of_speech: When speech ended, in seconds on the session's clock.
        audio_end_ms: Where speech ended in the input audio, in milliseconds of the session's
            audio clock: server VAD's ``audio_end_ms``, or all the audio sent before a manual
            commit (``None`` for a bare ``response.create``).
        first_input_transcript: Seconds to the input transcription's first delta.
        input_transcript_done: Seconds to its ``completed`` or ``failed``.
        first_audio: Seconds to the response's first audio delta.
        first_text: Seconds to its first transcript or text delta.
        response_done: Seconds to its ``response.done``.
        response_status: The status in ``response.done`` (``"completed"``, ``"cancelled"``...).
    """

    item_id: str | None
    response_id: str | None
    trigger: Trigger
    end_of_speech: float
    audio_end_ms: int | None = None
    first_input_transcript: float | None = None
    input_transcript_done: float | None = None
    first_audio: float | None = None
    first_text: float | None = None
    response_done: float | None = None
    response_status: str | None = None


@attrs.define
class _Turn:
    item_id: str | None
    trigger: Trigger
    end: float
    audio_end_ms: int | None = None
    response_id: str | None = None
    first_input_transcript: float | None = None
    input_transcript_done: float | None = None
    first_audio: float | None = None
    first_text: float | None = None
    response_done: float | None = None
    response_status: str | None = None

    def since(self, t: float) -> float:
        return t - self.end

    def freeze(self) -> TurnLatency:
        return TurnLatency(
            item_id=self.item_id,
            response_id=self.response_id,
            trigger=self.trigger,
            end_of_speech=self.end,
            audio_end_ms=self.audio_end_ms,
            first_input_transcript=self.first_input_transcript,
            input_transcript_done=self.input_transcript_done,
            first_audio=self.first_audio,
            first_text=self.first_text,
            response_done=self.response_done,
            response_status=self.response_status,
        )


def _base64_length(text: str) -> int:
    """Bytes that base64 ``text`` decodes to, without decoding it."""
    return len(text) // 4 * 3 - (text.endswith("=") + text.endswith("=="))


class TurnTimer:
    """Measures turn latencies from timed events; sans-I/O (no clock of its own).

    Feed it, in order, every event sent (:meth:`sent`) and received (:meth:`received`) with
    its time. Audio the application streams without handing over the append events (an audio
    pump) is reported with :meth:`audio_sent` instead. Read :attr:`turns` at any time.
    """

    def __init__(self) -> None:
        self._format: AudioFormat = PCM16
        self._ticks = 0  # input audio sent so far, on the session's audio clock
        # (clock at an append's end, time); only the current turn's are ever looked up.
        self._marks: deque[tuple[int, float]] = deque(maxlen=_MARKS_LIMIT)
        self._turns: list[_Turn] = []
        self._by_item: dict[str, _Turn] = {}
        self._by_response: dict[str, _Turn] = {}
        self._fresh: list[_Turn] = []  # committed since the last response began
        # Commits and response.creates sent and not answered yet: (event_id, time, audio clock).
        self._commits: deque[tuple[str | None, float, int]] = deque(maxlen=_EARLY_LIMIT)
        self._creates: deque[tuple[str | None, float, int]] = deque(maxlen=_EARLY_LIMIT)
        self._early: dict[str, list[tuple[str, float]]] = {}

    @property
    def turns(self) -> tuple[TurnLatency, ...]:
        """Every turn so far, in the order they ended (a snapshot)."""
        return tuple(turn.freeze() for turn in self._turns)

    def turn_of(self, response_id: str) -> TurnLatency | None:
        """The turn ``response_id`` was attributed to, if any."""
        turn = self._by_response.get(response_id)
        return None if turn is None else turn.freeze()

    @property
    def audio_sent_ms(self) -> float:
        """Milliseconds of input audio sent so far (the session's audio clock)."""
        return self._ticks / _TICKS_PER_MS

    def audio_sent(self, t: float, nbytes: int) -> None:
        """Record ``nbytes`` of input audio (in the session's input format) sent at ``t``."""
        self._ticks += nbytes // self._format.sample_width * (24000 // self._format.sample_rate)
        self._marks.append((self._ticks, t))

    def sent(self, t: float, event: ClientEvent | UnknownEvent) -> None:
        """Record a client event sent at ``t``."""
        event_id = event.event_id if isinstance(event.event_id, str) else None
        if isinstance(event, InputAudioBufferAppend):
            self.audio_sent(t, _base64_length(event.audio))
        elif isinstance(event, InputAudioBufferCommit):
            self._commits.append((event_id, t, self._ticks))
        elif isinstance(event, ResponseCreate):
            self._creates.append((event_id, t, self._ticks))

    def received(self, t: float, event: object) -> None:
        """Record an event received at ``t`` (anything else a session yields is ignored)."""
        if isinstance(event, InputAudioBufferSpeechStopped):
            when = self._time_at(event.audio_end_ms * _TICKS_PER_MS)
            self._add_turn(
                event.item_id, "server_vad", t if when is None else when, event.audio_end_ms
            )
        elif isinstance(event, InputAudioBufferCommitted):
            if event.item_id not in self._by_item:
                _, when, ticks = (
                    self._commits.popleft() if self._commits else (None, t, self._ticks)
                )
                self._add_turn(event.item_id, "commit", when, ticks // _TICKS_PER_MS)
        elif isinstance(event, ResponseCreated):
            self._response_created(t, event)
        elif isinstance(
            event, ResponseAudioDelta | ResponseAudioTranscriptDelta | ResponseTextDelta
        ):
            turn = self._by_response.get(event.response_id)
            if turn is not None:
                if isinstance(event, ResponseAudioDelta):
                    if turn.first_audio is None:
                        turn.first_audio = turn.since(t)
                elif turn.first_text is None:
                    turn.first_text = turn.since(t)
        elif isinstance(event, ResponseDone):
            response_id = event.response.id
            turn = self._by_response.get(response_id) if isinstance(response_id, str) else None
            if turn is not None and turn.response_done is None:
                turn.response_done = turn.since(t)
                status = event.response.status
                turn.response_status = status if isinstance(status, str) else None
        elif isinstance(
            event,
            InputAudioTranscriptionDelta
            | InputAudioTranscriptionCompleted
            | InputAudioTranscriptionFailed,
        ):
            kind = "delta" if isinstance(event, InputAudioTranscriptionDelta) else "done"
            self._transcript(event.item_id, kind, t)
        elif isinstance(event, ErrorEvent):
            self._forget_refused(event.error.event_id)
        elif isinstance(
            event,
            SessionCreated
            | SessionUpdated
            | TranscriptionSessionCreated
            | TranscriptionSessionUpdated,
        ):
            fmt = event.session.input_audio_format
            if isinstance(fmt, str):
                try:
                    self._format = audio_format(fmt)
                except AudioFormatError:
                    pass  # a format we cannot count: keep counting in the last known one

    # --- internals -----------------------------------------------------------------------------

    def _time_at(self, ticks: int) -> float | None:
        """When the append holding audio-clock ``ticks`` was sent (``None``: not seen)."""
        # Turns end in clock order, so appends that end before this point are never needed again.
        while self._marks and self._marks[0][0] < ticks:
            self._marks.popleft()
        return self._marks[0][1] if self._marks else None

    def _add_turn(
        self, item_id: str, trigger: Trigger, end: float, audio_end_ms: int | None = None
    ) -> None:
        if item_id in self._by_item:
            return
        turn = _Turn(item_id=item_id, trigger=trigger, end=end, audio_end_ms=audio_end_ms)
        self._turns.append(turn)
        self._by_item[item_id] = turn
        self._fresh.append(turn)
        for kind, t in self._early.pop(item_id, ()):
            self._transcript(item_id, kind, t)

    def _response_created(self, t: float, event: ResponseCreated) -> None:
        response_id = event.response.id
        create = self._creates.popleft() if self._creates else None
        if self._fresh:
            turn = self._fresh[-1]
        elif create is not None:
            turn = _Turn(item_id=None, trigger="response.create", end=create[1])
            self._turns.append(turn)
        else:
            return  # a response nobody asked for that we can see: nothing to time it from
        self._fresh.clear()
        if isinstance(response_id, str) and turn.response_id is None:
            turn.response_id = response_id
            self._by_response[response_id] = turn

    def _transcript(self, item_id: str, kind: str, t: float) -> None:
        turn = self._by_item.get(item_id)
        if turn is None:
            if len(self._early) < _EARLY_LIMIT or item_id in self._early:
                self._early.setdefault(item_id, []).append((kind, t))
            return
        if turn.first_input_transcript is None:
            turn.first_input_transcript = turn.since(t)
        if kind == "done" and turn.input_transcript_done is None:
            turn.input_transcript_done = turn.since(t)

    def _forget_refused(self, event_id: object) -> None:
        # A refused commit or response.create will never be answered: drop its time.
        for pending in (self._commits, self._creates):
            for entry in pending:
                if entry[0] is not None and entry[0] == event_id:
                    pending.remove(entry)
                    return


def _check_direction(index: int, direction: str, event: Event | UnknownEvent) -> None:
    expected = ServerEvent if direction == "server" else ClientEvent
    if not isinstance(event, expected | UnknownEvent):
        raise ValueError(
            f"recorded event {index + 1}: a {event.type!r} event recorded as {direction}-sent"
        )


def conversation_from_recording(
    recording: Recording, *, keep_audio_seconds: float | None = None
) -> Conversation:
    """Rebuild the :class:`~trio_realtime.Conversation` of a recorded session, offline.

    Every server event is applied and every client event recorded as sent, in order, exactly
    as the live session did (frames that read back as a :class:`~trio_realtime.DecodeFailure`
    are skipped, as the live conversation skipped them); the result holds the items,
    transcripts, assistant audio, responses and usage of the session.

    Args:
        recording: From :func:`trio_realtime.read_recording`.
        keep_audio_seconds: As for :class:`~trio_realtime.Conversation`.

    Raises:
        ValueError: A client event recorded as received, or a server event as sent.
    """
    conversation = Conversation(keep_audio_seconds=keep_audio_seconds)
    for index, recorded in enumerate(recording.events):
        event = recorded.event
        if isinstance(event, DecodeFailure):
            continue  # a frame the session could not decode either: nothing to apply
        _check_direction(index, recorded.direction, event)
        if recorded.direction == "server":
            conversation.apply(event)  # type: ignore[arg-type]  # checked just above
        else:
            conversation.sent(event)  # type: ignore[arg-type]
    return conversation


def turn_latencies(recording: Recording) -> tuple[TurnLatency, ...]:
    """The latencies of every turn of a recorded session (see the module docstring).

    Raises:
        ValueError: A client event recorded as received, or a server event as sent.
    """
    timer = TurnTimer()
    for index, recorded in enumerate(recording.events):
        event = recorded.event
        if isinstance(event, DecodeFailure):
            continue  # a frame the session could not decode either: nothing to apply
        _check_direction(index, recorded.direction, event)
        if recorded.direction == "server":
            timer.received(recorded.t, event)
        else:
            timer.sent(recorded.t, event)  # type: ignore[arg-type]  # checked just above
    return timer.turns


def recorded_target(recording: Recording) -> tuple[str | None, str | None]:
    """The ``(model, intent)`` of the recorded session, from the URL in its header."""
    url = recording.header.get("url")
    query = dict(parse_qsl(urlsplit(url).query)) if isinstance(url, str) else {}
    return query.get("model"), query.get("intent")


_C = TypeVar("_C", bound=ClientEvent | UnknownEvent)


class EventSender(Protocol):
    """Anything with :meth:`trio_realtime.RealtimeSession.send`'s signature."""

    async def send(self, event: _C) -> _C:
        """Send one client event."""
        ...


async def resend_recording(
    recording: Recording,
    session: EventSender,
    *,
    speed: float = 1.0,
    on_sent: Callable[[float, ClientEvent | UnknownEvent], object] | None = None,
) -> int:
    """Send a recording's client events to ``session`` again, with their original timing.

    Event *k* is sent ``(t_k - t_first) / speed`` seconds after the first, against an absolute
    schedule (a late event goes at once and lateness does not add up). Events keep their
    recorded ``event_id``, so the server's errors still name them. Server events are not
    sent; read the new session's own events for the answers.

    Args:
        recording: From :func:`trio_realtime.read_recording`.
        session: A :class:`~trio_realtime.RealtimeSession` (or anything with its ``send``).
        speed: ``2.0`` replays twice as fast; ``math.inf`` as fast as the session takes them.
        on_sent: Called with ``(trio.current_time(), event)`` after each event is queued
            (for a :class:`TurnTimer`, say).

    Returns:
        How many events were sent.

    Raises:
        ValueError: ``speed`` is not positive, or a recorded client event is not one.
    """
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed!r}")
    outgoing: list[tuple[float, ClientEvent | UnknownEvent]] = []
    for index, recorded in enumerate(recording.events):
        event = recorded.event
        if isinstance(event, DecodeFailure):
            continue  # a frame the session could not decode either: nothing to apply
        _check_direction(index, recorded.direction, event)
        if recorded.direction == "client" and isinstance(event, ClientEvent | UnknownEvent):
            outgoing.append((recorded.t, event))
    if not outgoing:
        return 0
    start, first = trio.current_time(), outgoing[0][0]
    for t, event in outgoing:
        if math.isfinite(speed):
            await trio.sleep_until(start + max(0.0, t - first) / speed)
        sent = await session.send(event)
        if on_sent is not None:
            on_sent(trio.current_time(), sent)
    return len(outgoing)
