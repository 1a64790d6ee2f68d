"""One WebSocket connection of the reference server, as a sans-I/O state machine.

:class:`ConnectionState` is fed client frames and the time, and returns the server events to
send. It never touches a socket, never reads a clock and never raises for anything a client
sends: every refusal is an ``error`` event (server-behaviour.md 6), and the refused event
has no effect. The trio shell (:mod:`._connection`) only moves frames and honours
:attr:`ConnectionState.close`.

Time is the caller's: ``now`` is a number of seconds on any monotonic clock (the shell passes
``trio.current_time()``). Paced response deltas, delayed transcripts and the session limit
are scheduled on it; :meth:`~ConnectionState.next_deadline` says when
:meth:`~ConnectionState.advance` next has something to release. Every call first releases
what fell due at or before its ``now``, so a client event is always judged against the
state at its arrival (a ``response.cancel`` that arrives after the scheduled
``response.done`` gets ``response_cancel_not_active``). Ties go to responses, in the order
they started, then to transcriptions.

Rules live in the modules this one composes: session configuration
(:mod:`._session_config`), items (:mod:`._items`, :mod:`._item_requests`), the input buffer and
VAD (:mod:`._input_audio`), responses (:mod:`._responses`, :mod:`._response_config`),
transcription (:mod:`._transcription`), usage (:mod:`._usage`), errors (:mod:`._errors`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, final

from .._core._dialects import BETA, GA, Dialect
from .._core._errors import ProtocolError
from .._core._events import (
    ConversationCreated,
    ConversationInfo,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ErrorDetails,
    ErrorEvent,
    Event,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    OutputAudioBufferClear,
    ResponseCancel,
    ResponseConfig,
    ResponseCreate,
    ServerEvent,
    Session,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    TranscriptionSession,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdate,
    TranscriptionSessionUpdated,
    UnknownEvent,
)
from .._core._vad import SpeechStarted
from ._engine_api import Engine, Listener, SessionfulEngine
from ._engine_work import EngineWork
from ._errors import (
    Refusal,
    active_response,
    binary_frame,
    cancel_not_active,
    commit_too_small,
    connection_refusal,
    first_unknown_field,
    invalid_value,
    respelled,
    session_expired,
    undecodable,
    unknown_parameter,
    unknown_type,
    wrong_session_kind,
)
from ._ga import GaEvents
from ._ids import IdFactory
from ._input_audio import TICKS_PER_MS, InputAudio, decode_append
from ._item_requests import (
    create_item,
    delete_item,
    resolve_input,
    retrieve_item,
    truncate_item,
)
from ._items import Conversation, StoredItem, user_audio_item
from ._options import ConnectionStatistics, ServerOptions
from ._response_config import ResponseOptions, response_options, start_response
from ._responses import ResponseRun
from ._session_config import (
    LOGPROBS_INCLUDE,
    SessionConfig,
    apply_session_update,
    apply_transcription_update,
    default_conversation_config,
    default_transcription_config,
    session_view,
    transcription_session_view,
)
from ._timeline import Timeline
from ._transcription import TranscriptionJob, start_transcription
from ._usage import PromptCache, RateLimits

__all__ = ["ConnectionState", "ConnectionStatistics", "ServerOptions"]

MIN_COMMIT_MS: Final = 100
EXPIRED_CLOSE_CODE: Final = 1001
"""Close code after ``session_expired`` (1.5: the one report saw 1001)."""
REQUEST_CLOSE_CODE: Final = 4000
"""Close code after a bad model / intent combination (1.1)."""

_DEFAULT_OPTIONS: Final = ServerOptions()
_Out = list[ServerEvent]
_Handler = Callable[["ConnectionState", Any, float, _Out], None]


@final
class ConnectionState:
    """One WebSocket connection's protocol state; plain object, no trio, no sockets.

    Args:
        intent: The ``intent`` query parameter (``"transcription"`` makes a transcription
            session; other values are ignored, like unknown query parameters).
        model: The ``model`` query parameter, if any.
        now: The connection's start on the caller's clock; the session limit counts from it.
        engine: What produces replies and transcripts.
        options: Server options.
        ids: Id factory (seed it for reproducible ids).
        wall_clock: Unix time source, read once here, for ``expires_at``.
        dialect: The wire shape the client speaks (the handshake's beta marker decides):
            frames are decoded with it, errors name its field paths, and for GA the events
            get what GA adds (:mod:`._ga`); the shell encodes with :attr:`dialect`.

    Attributes:
        close: ``None`` while the session is open; ``(code, reason)`` once the shell must
            close the WebSocket after sending the events already returned (bad model,
            ``session_expired``). From then on every method returns no events.
        engine_work: The engine's deferred work (real speech), which the shell runs and
            whose outcomes every call applies first (see :mod:`._engine_work`).
    """

    def __init__(
        self,
        *,
        intent: str | None,
        model: str | None,
        now: float,
        engine: Engine,
        options: ServerOptions = _DEFAULT_OPTIONS,
        ids: IdFactory | None = None,
        wall_clock: Callable[[], float] = time.time,
        dialect: Dialect = BETA,
    ) -> None:
        self.close: tuple[int, str] | None = None
        self.dialect = dialect
        self._ids = IdFactory() if ids is None else ids
        self._ga = GaEvents(self._event_id) if dialect is GA else None
        # An engine with per-connection state gets a session of its own, which also hears
        # the input audio as it arrives (streaming recognition).
        session = engine.open_session() if isinstance(engine, SessionfulEngine) else None
        self._engine: Engine = engine if session is None else session
        self._listener: Listener | None = session
        self._hearing = False  # the listener has a turn in progress
        self.engine_work = (
            EngineWork()
            if session is None
            else EngineWork(backlog=session.backlog_ms, close=session.close)
        )
        self._options = options
        self._model = model or None
        self._transcription = intent == "transcription"
        self._opened = False
        self._now = now
        self._expiry = now + options.session_seconds
        self._expires_at = int(wall_clock() + options.session_seconds)
        self._session_id = self._ids.new("sess")
        self._config: SessionConfig = (
            default_transcription_config()
            if self._transcription
            else default_conversation_config(
                self._model or "", options.instructions, ga=dialect is GA
            )
        )
        self._conversation = Conversation(self._ids.new("conv"))
        self._audio = InputAudio(
            self._config.input_audio_format,
            self._config.turn_detection,
            idle_keep_ms=options.idle_buffer_ms,
        )
        self._turn_item_id: str | None = None  # the user item id announced by speech_started
        self._turn_start_ms = 0
        self._timeline = Timeline()  # running responses and pending transcripts
        self._active: ResponseRun | None = None  # the running default-conversation response
        self._turn_response_pending = False  # a VAD turn waits for the active response
        self._assistant_audio = False
        self._rate_limits = RateLimits(options.requests_per_minute, options.tokens_per_minute, now)
        self._prompt_cache = PromptCache()
        self._received = self._sent = self._errors = self._appended = self._started = 0

    # -- public API -----------------------------------------------------------------------------

    def open(self) -> list[ServerEvent]:
        """The first events after a successful upgrade and authentication (5.1, 1.1).

        ``session.created`` (then ``conversation.created`` if enabled), or
        ``transcription_session.created``; or, for a bad model / intent combination, one
        ``error`` (``invalid_model`` / ``missing_model``) and :attr:`close` set to
        ``(4000, "invalid_request_error.<code>")``.

        Raises:
            RuntimeError: Called twice.
        """
        if self._opened:
            raise RuntimeError("ConnectionState.open() may be called only once")
        self._opened = True
        refusal = connection_refusal(
            transcription=self._transcription,
            model=self._model,
            allowed=self._options.allowed_models,
        )
        if refusal is not None:
            self.close = (REQUEST_CLOSE_CODE, f"invalid_request_error.{refusal.code}")
            return self._count([self._error(refusal, None)])
        events: list[ServerEvent]
        if self._transcription:
            session = self._transcription_view(created=True)
            events = [TranscriptionSessionCreated(event_id=self._event_id(), session=session)]
        else:
            events = [SessionCreated(event_id=self._event_id(), session=self._session_view())]
            if self._options.send_conversation_created:
                info = ConversationInfo(id=self._conversation.id, object="realtime.conversation")
                events.append(ConversationCreated(event_id=self._event_id(), conversation=info))
        return self._count(events)

    def receive_text(self, text: str, now: float) -> list[ServerEvent]:
        """Handle one text frame; return the events to send now, errors included.

        Events that fell due at or before ``now`` come first. Never raises for bad input:
        malformed JSON, unknown types, wrong field types and refused requests all become
        ``error`` events carrying the client's ``event_id`` when it had one.
        """
        out = self._begin(now)
        if self.close is not None:
            return self._count(out)
        self._received += 1
        try:
            event = self.dialect.decode_client_event(text)
        except ProtocolError as exc:
            refusal, event_id = undecodable(text, exc, self.dialect.client_event_types)
            out.append(self._error(refusal, event_id, respell=False))  # paths as decoded
            return self._count(out)
        raw_id = getattr(event, "event_id", None)
        event_id = raw_id if isinstance(raw_id, str) else None
        handler = None if isinstance(event, UnknownEvent) else _HANDLERS.get(type(event))
        if handler is None:  # an unknown type, or a server event sent by the client
            out.append(
                self._error(unknown_type(event.type, self.dialect.client_event_types), event_id)
            )
            return self._count(out)
        assert isinstance(event, Event)
        try:
            # Appends have no nested objects: only their own ``extra`` can hold unknowns.
            if event.extra or type(event) is not InputAudioBufferAppend:
                unknown = first_unknown_field(event)
                if unknown is not None:
                    raise unknown_parameter(unknown)
            handler(self, event, self._now, out)
        except Refusal as refusal:
            out.append(self._error(refusal, event_id))
        out += self._release(self._now)
        return self._count(out)

    def receive_binary(self, data: bytes, now: float) -> list[ServerEvent]:
        """Handle one binary frame: always ``invalid_event`` (1.4); the session stays open."""
        out = self._begin(now)
        if self.close is None:
            self._received += 1
            out.append(self._error(binary_frame(), None))
        return self._count(out)

    def advance(self, now: float) -> list[ServerEvent]:
        """Events that fell due at or before ``now``: paced response events, delayed
        transcripts, and ``session_expired`` at the session limit (which sets :attr:`close`
        to ``(1001, "invalid_request_error.session_expired")``)."""
        return self._count(self._begin(now))

    def next_deadline(self) -> float | None:
        """When :meth:`advance` next has something to do; ``None`` when nothing ever will
        (not opened yet, or closing)."""
        if self.close is not None or not self._opened:
            return None
        if self.engine_work.outcome_ready:
            return self._now
        due = self._timeline.next_due()
        return self._expiry if due is None else min(due, self._expiry)

    def statistics(self) -> ConnectionStatistics:
        """A snapshot of this connection's counters."""
        return ConnectionStatistics(
            events_received=self._received,
            events_sent=self._sent,
            errors_sent=self._errors,
            audio_bytes_appended=self._appended,
            buffered_audio_bytes=self._audio.buffered_bytes,
            items=len(self._conversation),
            responses_started=self._started,
            responses_active=len(self._timeline.runs),
            transcriptions_pending=len(self._timeline.transcriptions),
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _begin(self, now: float) -> list[ServerEvent]:
        if not self._opened:
            raise RuntimeError("call ConnectionState.open() first")
        if self.close is not None:
            return []
        self._now = max(self._now, now)  # a clock that steps back is treated as standing still
        return self._release(self._now)

    def _count(self, events: list[ServerEvent]) -> list[ServerEvent]:
        if self._ga is not None and events:
            events = self._ga.adapt(events)
        self._sent += len(events)
        return events

    def _event_id(self) -> str:
        return self._ids.new("event")

    def _new_item_id(self) -> str:
        item_id = self._ids.new("item")
        while item_id in self._conversation:  # a client chose this id already
            item_id = self._ids.new("item")
        return item_id

    def _error(self, refusal: Refusal, event_id: str | None, *, respell: bool = True) -> ErrorEvent:
        """The ``error`` of ``refusal``; ``respell``: its path is a beta class path, which a
        GA client is told in GA terms (``session.audio.input.turn_detection...``)."""
        self._errors += 1
        if self._ga is not None and respell:
            refusal = respelled(refusal, self.dialect.path)
        return ErrorEvent(
            event_id=self._event_id(),
            error=ErrorDetails(
                type=refusal.error_type,
                code=refusal.code,
                message=refusal.message,
                param=refusal.param,
                event_id=event_id,
            ),
        )

    def _session_view(self) -> Session:
        return session_view(
            self._config,
            session_id=self._session_id,
            expires_at=self._expires_at,
            ga=self._ga is not None,
        )

    def _transcription_view(self, *, created: bool = False) -> TranscriptionSession:
        return transcription_session_view(
            self._config,
            session_id=self._session_id,
            expires_at=self._expires_at,
            created=created and self._ga is None,  # GA sessions have no client_secret
        )

    # -- scheduling -----------------------------------------------------------------------------

    def _release(self, now: float) -> list[ServerEvent]:
        """Everything due at or before ``now``, in time order; then expiry if reached."""
        events: list[ServerEvent] = self.engine_work.apply(now)
        expired = now >= self._expiry
        limit = self._expiry if expired else now
        while (due := self._timeline.pop_due(limit)) is not None:
            source, when = due
            if isinstance(source, ResponseRun):
                events += source.step()
                self._after_step(source, when, events)
            else:
                events += self._deliver_transcript(source)
        if expired:
            events.append(self._error(session_expired(self._options.session_seconds), None))
            self.close = (EXPIRED_CLOSE_CODE, "invalid_request_error.session_expired")
        return events

    def _after_step(self, run: ResponseRun, now: float, out: _Out) -> None:
        if run.has_audio:  # "once the model has responded with audio at least once"
            self._assistant_audio = True
        if run.finished:
            self._timeline.runs.remove(run)
            if run is self._active:
                self._active = None
                if self._turn_response_pending:  # 5.3: the waiting turn's response starts
                    self._turn_response_pending = False
                    self._start_default_response(now, out)

    def _deliver_transcript(self, job: TranscriptionJob) -> list[ServerEvent]:
        transcript = job.transcript
        item = self._conversation.get(job.item_id)
        part = item.parts[0] if item is not None and item.parts else None
        if transcript is not None and part is not None and part.type == "input_audio":
            part.transcript = transcript  # a later retrieve shows it (5.10)
        return job.events()

    # -- session --------------------------------------------------------------------------------

    def _on_session_update(self, event: SessionUpdate, now: float, out: _Out) -> None:
        if self._transcription:
            raise self._wrong_session_kind("realtime")
        self._set_config(
            apply_session_update(
                self._config,
                event.session,
                assistant_audio=self._assistant_audio,
                transcription_models=self._options.transcription_models,
                include_allowed=self._ga is not None,  # GA realtime sessions have include
            )
        )
        out.append(SessionUpdated(event_id=self._event_id(), session=self._session_view()))

    def _on_transcription_session_update(
        self, event: TranscriptionSessionUpdate, now: float, out: _Out
    ) -> None:
        if not self._transcription:
            raise self._wrong_session_kind("transcription")
        self._set_config(
            apply_transcription_update(
                self._config,
                event.session,
                transcription_models=self._options.transcription_models,
            )
        )
        session = self._transcription_view()
        out.append(TranscriptionSessionUpdated(event_id=self._event_id(), session=session))

    def _wrong_session_kind(self, asked: str) -> Refusal:
        return wrong_session_kind(asked, transcription=self._transcription, ga=self._ga is not None)

    def _set_config(self, config: SessionConfig) -> None:
        self._config = config
        self._audio.configure(config.input_audio_format, config.turn_detection)
        if not self._audio.in_speech:
            self._turn_item_id = None  # VAD was switched off mid-speech

    # -- input audio ----------------------------------------------------------------------------

    def _on_append(self, event: InputAudioBufferAppend, now: float, out: _Out) -> None:
        pcm = decode_append(
            event.audio, self._options.max_append_audio_bytes, self._config.input_audio_format
        )
        self._appended += len(pcm)
        vad_events = self._audio.append(pcm)
        if self._listener is not None:
            self._hear(pcm)
        for vad_event in vad_events:
            if isinstance(vad_event, SpeechStarted):
                self._speech_started(vad_event.audio_start_ms, now, out)
            else:
                self._speech_stopped(vad_event.audio_end_ms, now, out)

    def _hear(self, pcm: bytes) -> None:
        """Let the listener hear an append (before its VAD events are handled)."""
        assert self._listener is not None
        fmt = self._audio.fmt.name
        if self._hearing:
            self.engine_work.submit(self._listener.audio_appended(pcm, fmt))
        elif not self._audio.vad_on:  # manual turns: the whole buffer is the turn
            self._hearing = True
            audio = self._audio.audio_since(self._audio.start_ms)
            self.engine_work.submit(self._listener.turn_started(audio, fmt))

    def _speech_started(self, audio_start_ms: int, now: float, out: _Out) -> None:
        item_id = self._new_item_id()
        self._turn_item_id = item_id
        self._turn_start_ms = max(audio_start_ms, self._audio.start_ms)
        if self._listener is not None:
            self._hearing = True
            audio = self._audio.audio_since(self._turn_start_ms)
            self.engine_work.submit(self._listener.turn_started(audio, self._audio.fmt.name))
        out.append(
            InputAudioBufferSpeechStarted(
                event_id=self._event_id(), audio_start_ms=self._turn_start_ms, item_id=item_id
            )
        )
        turn = self._config.turn_detection
        active = self._active
        if turn is not None and turn.interrupt_response and active is not None:
            out += active.cancel("turn_detected", now)  # 5.3 barge-in
            self._after_step(active, now, out)

    def _speech_stopped(self, audio_end_ms: int, now: float, out: _Out) -> None:
        item_id = self._turn_item_id or self._new_item_id()
        self._turn_item_id = None
        out.append(
            InputAudioBufferSpeechStopped(
                event_id=self._event_id(), audio_end_ms=audio_end_ms, item_id=item_id
            )
        )
        self._commit(self._audio.take_turn(self._turn_start_ms, audio_end_ms), item_id, now, out)
        turn = self._config.turn_detection
        if self._transcription or turn is None or not turn.create_response:
            return
        if self._active is None:
            self._start_default_response(now, out)
        else:  # interrupt_response false: answer once the running response is done [inf]
            self._turn_response_pending = True

    def _on_commit(self, event: InputAudioBufferCommit, now: float, out: _Out) -> None:
        ticks = self._audio.buffered_ticks
        if ticks < MIN_COMMIT_MS * TICKS_PER_MS:
            raise commit_too_small(ticks / TICKS_PER_MS, MIN_COMMIT_MS)
        item_id = self._turn_item_id or self._new_item_id()
        self._turn_item_id = None
        self._commit(self._audio.take_all(), item_id, now, out)

    def _commit(self, audio: bytes, item_id: str, now: float, out: _Out) -> None:
        """``committed`` + ``conversation.item.created`` for a user audio turn, and its
        transcription when enabled (5.2, 5.4, 5.10)."""
        item = user_audio_item(item_id, audio, self._audio.fmt, self._options.keep_input_audio)
        if self._listener is not None:
            self._hearing = False
            heard = self._listener.turn_committed(item_id, audio, self._audio.fmt.name)
            self.engine_work.submit(heard)
        previous = self._conversation.insert(item)
        out.append(
            InputAudioBufferCommitted(
                event_id=self._event_id(), previous_item_id=previous, item_id=item_id
            )
        )
        out.append(
            ConversationItemCreated(
                event_id=self._event_id(), previous_item_id=previous, item=item.wire()
            )
        )
        if self._config.transcription is not None:
            self._timeline.transcriptions.append(
                start_transcription(
                    self._engine,
                    self._config.transcription,
                    item,
                    audio,
                    now=now,
                    logprobs=LOGPROBS_INCLUDE in (self._config.include or ()),
                    ids=self._ids,
                    work=self.engine_work,
                )
            )

    def _on_clear(self, event: InputAudioBufferClear, now: float, out: _Out) -> None:
        self._audio.clear()
        self._turn_item_id = None
        if self._listener is not None and self._hearing:
            self._hearing = False
            self.engine_work.submit(self._listener.turn_dropped())
        out.append(InputAudioBufferCleared(event_id=self._event_id()))

    def _on_output_audio_buffer_clear(
        self, event: OutputAudioBufferClear, now: float, out: _Out
    ) -> None:
        raise invalid_value(
            "type", "output_audio_buffer.clear is only supported for WebRTC connections."
        )

    # -- items ----------------------------------------------------------------------------------

    def _on_item_create(self, event: ConversationItemCreate, now: float, out: _Out) -> None:
        item, before = create_item(
            event,
            self._conversation,
            new_id=self._new_item_id,
            input_format=self._config.input_audio_format,
            keep_audio=self._options.keep_input_audio,
        )
        out.append(
            ConversationItemCreated(
                event_id=self._event_id(), previous_item_id=before, item=item.wire()
            )
        )

    def _on_item_delete(self, event: ConversationItemDelete, now: float, out: _Out) -> None:
        out.append(delete_item(self._conversation, event, self._ids))

    def _on_item_retrieve(self, event: ConversationItemRetrieve, now: float, out: _Out) -> None:
        out.append(retrieve_item(self._conversation, event, self._ids))

    def _on_item_truncate(self, event: ConversationItemTruncate, now: float, out: _Out) -> None:
        out.append(truncate_item(self._conversation, event, self._ids))

    # -- responses ------------------------------------------------------------------------------

    def _no_responses(self) -> Refusal:
        return invalid_value("type", "Responses are not supported in transcription sessions.")

    def _on_response_create(self, event: ResponseCreate, now: float, out: _Out) -> None:
        if self._transcription:
            raise self._no_responses()
        config = event.response if isinstance(event.response, ResponseConfig) else ResponseConfig()
        options = response_options(config, self._config, assistant_audio=self._assistant_audio)
        if options.in_conversation and self._active is not None:
            raise active_response(self._active.id)  # 5.9: dropped, not queued
        context: list[StoredItem]
        if options.input is None:
            context = list(self._conversation)
        else:
            context = resolve_input(
                options.input,
                self._conversation,
                new_id=self._new_item_id,
                input_format=self._config.input_audio_format,
            )
        self._start_response(options, context, now, out)

    def _start_default_response(self, now: float, out: _Out) -> None:
        """The response a VAD turn asks for (create_response): session settings only."""
        options = response_options(ResponseConfig(), self._config, assistant_audio=False)
        self._start_response(options, list(self._conversation), now, out)

    def _start_response(
        self,
        options: ResponseOptions,
        context: list[StoredItem],
        now: float,
        out: _Out,
    ) -> None:
        run = start_response(
            options,
            context,
            now=now,
            engine=self._engine,
            conversation=self._conversation,
            ids=self._ids,
            rate_limits=self._rate_limits,
            prompt_cache=self._prompt_cache,
            work=self.engine_work,
        )
        self._started += 1
        out.append(run.created_event())
        self._timeline.runs.append(run)
        if run.conversation is not None:
            self._active = run

    def _on_response_cancel(self, event: ResponseCancel, now: float, out: _Out) -> None:
        if self._transcription:
            raise self._no_responses()
        if isinstance(event.response_id, str):
            run = next((r for r in self._timeline.runs if r.id == event.response_id), None)
        else:
            run = self._active
        if run is None:
            raise cancel_not_active()
        out += run.cancel("client_cancelled", now)
        self._after_step(run, now, out)


#: What each client event type does: one table for every connection (a per-connection table
#: of bound methods would cost each connection 13 objects and about 1.5 KiB).
_HANDLERS: Final[dict[type[Event], _Handler]] = {
    InputAudioBufferAppend: ConnectionState._on_append,
    SessionUpdate: ConnectionState._on_session_update,
    TranscriptionSessionUpdate: ConnectionState._on_transcription_session_update,
    InputAudioBufferCommit: ConnectionState._on_commit,
    InputAudioBufferClear: ConnectionState._on_clear,
    ConversationItemCreate: ConnectionState._on_item_create,
    ConversationItemDelete: ConnectionState._on_item_delete,
    ConversationItemRetrieve: ConnectionState._on_item_retrieve,
    ConversationItemTruncate: ConnectionState._on_item_truncate,
    ResponseCreate: ConnectionState._on_response_create,
    ResponseCancel: ConnectionState._on_response_cancel,
    OutputAudioBufferClear: ConnectionState._on_output_audio_buffer_clear,
}
