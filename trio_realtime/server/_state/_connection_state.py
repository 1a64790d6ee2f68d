"""One WebSocket connection of the reference server, as a sans-I/O state machine.

:class:`ConnectionState` is fed client frames and the time, and returns the server events to
send. It never touches a socket, never reads a clock and never raises for anything a client
sends: every refusal is an ``error`` event (server-behaviour.md 6), and the refused event
has no effect. The trio shell (:mod:`.._connection`) only moves frames and honours
:attr:`ConnectionState.close`.

Time is the caller's: ``now`` is a number of seconds on any monotonic clock (the shell passes
``trio.current_time()``). Paced response deltas, delayed transcripts and the session limit
are scheduled on it; :meth:`~ConnectionState.next_deadline` says when
:meth:`~ConnectionState.advance` next has something to release. Every call first releases
what fell due at or before its ``now``, so a client event is always judged against the
state at its arrival (a ``response.cancel`` that arrives after the scheduled
``response.done`` gets ``response_cancel_not_active``). Ties go to responses, in the order
they started, then to transcriptions.

This module decodes and dispatches client events, answers the session and item requests, and
releases what falls due. Its parts: the user's turns (:mod:`._input_turns`), which responses
run (:mod:`._response_control`), and what they share (:mod:`._shared`). The rules themselves
live in the server modules they use: session configuration (:mod:`.._session_config`), items
(:mod:`.._items`, :mod:`.._item_requests`), the input buffer and VAD (:mod:`.._input_audio`),
responses (:mod:`.._responses`, :mod:`.._response_config`), transcription
(:mod:`.._transcription`), usage (:mod:`.._usage`), errors (:mod:`.._errors`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final, final

from ..._core._dialects import BETA, GA, Dialect
from ..._core._errors import ProtocolError
from ..._core._events import (
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
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
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
from .._engine_api import Engine, SessionfulEngine
from .._engine_work import EngineWork
from .._errors import (
    Refusal,
    binary_frame,
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
from .._ga import GaEvents
from .._ids import IdFactory
from .._item_requests import create_item, delete_item, retrieve_item, truncate_item
from .._options import ConnectionStatistics, ServerOptions
from .._responses import ResponseRun
from .._session_config import (
    SessionConfig,
    apply_session_update,
    apply_transcription_update,
    default_conversation_config,
    default_transcription_config,
    session_view,
    transcription_session_view,
)
from .._transcription import TranscriptionJob
from ._input_turns import InputTurns
from ._response_control import ResponseControl
from ._shared import SharedState

__all__ = ["EXPIRED_CLOSE_CODE", "REQUEST_CLOSE_CODE", "ConnectionState"]

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
            get what GA adds (:mod:`.._ga`); the shell encodes with :attr:`dialect`.

    Attributes:
        close: ``None`` while the session is open; ``(code, reason)`` once the shell must
            close the WebSocket after sending the events already returned (bad model,
            ``session_expired``). From then on every method returns no events.
        engine_work: The engine's deferred work (real speech), which the shell runs and
            whose outcomes every call applies first (see :mod:`.._engine_work`).
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
        ids = IdFactory() if ids is None else ids
        # An engine with per-connection state gets a session of its own, which also hears
        # the input audio as it arrives (streaming recognition).
        session = engine.open_session() if isinstance(engine, SessionfulEngine) else None
        self.engine_work = (
            EngineWork()
            if session is None
            else EngineWork(backlog=session.backlog_ms, close=session.close)
        )
        self._options = options
        self._model = model or None
        transcription = intent == "transcription"
        self._opened = False
        self._now = now
        self._expiry = now + options.session_seconds
        self._expires_at = int(wall_clock() + options.session_seconds)
        self._session_id = ids.new("sess")
        self._shared = SharedState(
            ids=ids,
            options=options,
            engine=engine if session is None else session,
            engine_work=self.engine_work,
            transcription=transcription,
            config=(
                default_transcription_config()
                if transcription
                else default_conversation_config(
                    self._model or "", options.instructions, ga=dialect is GA
                )
            ),
        )
        self._ga = GaEvents(self._shared.event_id) if dialect is GA else None
        self._responses = ResponseControl(self._shared, now)
        self._input = InputTurns(self._shared, self._responses, session)
        self._received = self._sent = self._errors = 0

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
        shared = self._shared
        refusal = connection_refusal(
            transcription=shared.transcription,
            model=self._model,
            allowed=self._options.allowed_models,
        )
        if refusal is not None:
            self.close = (REQUEST_CLOSE_CODE, f"invalid_request_error.{refusal.code}")
            return self._count([self._error(refusal, None)])
        events: list[ServerEvent]
        if shared.transcription:
            session = self._transcription_view(created=True)
            events = [TranscriptionSessionCreated(event_id=shared.event_id(), session=session)]
        else:
            events = [SessionCreated(event_id=shared.event_id(), session=self._session_view())]
            if self._options.send_conversation_created:
                info = ConversationInfo(id=shared.conversation.id, object="realtime.conversation")
                events.append(ConversationCreated(event_id=shared.event_id(), conversation=info))
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
        due = self._shared.timeline.next_due()
        return self._expiry if due is None else min(due, self._expiry)

    def statistics(self) -> ConnectionStatistics:
        """A snapshot of this connection's counters."""
        timeline = self._shared.timeline
        return ConnectionStatistics(
            events_received=self._received,
            events_sent=self._sent,
            errors_sent=self._errors,
            audio_bytes_appended=self._input.appended,
            buffered_audio_bytes=self._input.audio.buffered_bytes,
            items=len(self._shared.conversation),
            responses_started=self._responses.started,
            responses_active=len(timeline.runs),
            transcriptions_pending=len(timeline.transcriptions),
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

    def _error(self, refusal: Refusal, event_id: str | None, *, respell: bool = True) -> ErrorEvent:
        """The ``error`` of ``refusal``; ``respell``: its path is a beta class path, which a
        GA client is told in GA terms (``session.audio.input.turn_detection...``)."""
        self._errors += 1
        if self._ga is not None and respell:
            refusal = respelled(refusal, self.dialect.path)
        return ErrorEvent(
            event_id=self._shared.event_id(),
            error=ErrorDetails(
                type=refusal.error_type,
                code=refusal.code,
                message=refusal.message,
                param=refusal.param,
                event_id=event_id,
            ),
        )

    # -- scheduling -----------------------------------------------------------------------------

    def _release(self, now: float) -> list[ServerEvent]:
        """Everything due at or before ``now``, in time order; then expiry if reached."""
        events: list[ServerEvent] = self.engine_work.apply(now)
        expired = now >= self._expiry
        limit = self._expiry if expired else now
        while (due := self._shared.timeline.pop_due(limit)) is not None:
            source, when = due
            if isinstance(source, ResponseRun):
                events += source.step()
                self._responses.after_step(source, when, events)
            else:
                events += self._deliver_transcript(source)
        if expired:
            events.append(self._error(session_expired(self._options.session_seconds), None))
            self.close = (EXPIRED_CLOSE_CODE, "invalid_request_error.session_expired")
        return events

    def _deliver_transcript(self, job: TranscriptionJob) -> list[ServerEvent]:
        transcript = job.transcript
        item = self._shared.conversation.get(job.item_id)
        part = item.parts[0] if item is not None and item.parts else None
        if transcript is not None and part is not None and part.type == "input_audio":
            part.transcript = transcript  # a later retrieve shows it (5.10)
        return job.events()

    # -- session --------------------------------------------------------------------------------

    def _session_view(self) -> Session:
        return session_view(
            self._shared.config,
            session_id=self._session_id,
            expires_at=self._expires_at,
            ga=self._ga is not None,
        )

    def _transcription_view(self, *, created: bool = False) -> TranscriptionSession:
        return transcription_session_view(
            self._shared.config,
            session_id=self._session_id,
            expires_at=self._expires_at,
            created=created and self._ga is None,  # GA sessions have no client_secret
        )

    def _on_session_update(self, event: SessionUpdate, now: float, out: _Out) -> None:
        shared = self._shared
        if shared.transcription:
            raise self._wrong_session_kind("realtime")
        self._set_config(
            apply_session_update(
                shared.config,
                event.session,
                assistant_audio=self._responses.assistant_audio,
                transcription_models=self._options.transcription_models,
                include_allowed=self._ga is not None,  # GA realtime sessions have include
            )
        )
        out.append(SessionUpdated(event_id=shared.event_id(), session=self._session_view()))

    def _on_transcription_session_update(
        self, event: TranscriptionSessionUpdate, now: float, out: _Out
    ) -> None:
        shared = self._shared
        if not shared.transcription:
            raise self._wrong_session_kind("transcription")
        self._set_config(
            apply_transcription_update(
                shared.config,
                event.session,
                transcription_models=self._options.transcription_models,
            )
        )
        session = self._transcription_view()
        out.append(TranscriptionSessionUpdated(event_id=shared.event_id(), session=session))

    def _wrong_session_kind(self, asked: str) -> Refusal:
        transcription = self._shared.transcription
        return wrong_session_kind(asked, transcription=transcription, ga=self._ga is not None)

    def _set_config(self, config: SessionConfig) -> None:
        self._shared.config = config
        self._input.configure(config)

    # -- items ----------------------------------------------------------------------------------

    def _on_item_create(self, event: ConversationItemCreate, now: float, out: _Out) -> None:
        shared = self._shared
        item, before = create_item(
            event,
            shared.conversation,
            new_id=shared.new_item_id,
            input_format=shared.config.input_audio_format,
            keep_audio=self._options.keep_input_audio,
        )
        out.append(
            ConversationItemCreated(
                event_id=shared.event_id(), previous_item_id=before, item=item.wire()
            )
        )

    def _on_item_delete(self, event: ConversationItemDelete, now: float, out: _Out) -> None:
        out.append(delete_item(self._shared.conversation, event, self._shared.ids))

    def _on_item_retrieve(self, event: ConversationItemRetrieve, now: float, out: _Out) -> None:
        out.append(retrieve_item(self._shared.conversation, event, self._shared.ids))

    def _on_item_truncate(self, event: ConversationItemTruncate, now: float, out: _Out) -> None:
        out.append(truncate_item(self._shared.conversation, event, self._shared.ids))

    def _on_output_audio_buffer_clear(
        self, event: OutputAudioBufferClear, now: float, out: _Out
    ) -> None:
        raise invalid_value(
            "type", "output_audio_buffer.clear is only supported for WebRTC connections."
        )


#: What each client event type does, and which part does it: one table for every connection (a
#: per-connection table of bound methods would cost each connection 13 objects and about 1.5 KiB).
_HANDLERS: Final[dict[type[Event], _Handler]] = {
    InputAudioBufferAppend: lambda state, event, now, out: state._input.append(event, now, out),
    SessionUpdate: ConnectionState._on_session_update,
    TranscriptionSessionUpdate: ConnectionState._on_transcription_session_update,
    InputAudioBufferCommit: lambda state, event, now, out: state._input.commit(event, now, out),
    InputAudioBufferClear: lambda state, event, now, out: state._input.clear(event, now, out),
    ConversationItemCreate: ConnectionState._on_item_create,
    ConversationItemDelete: ConnectionState._on_item_delete,
    ConversationItemRetrieve: ConnectionState._on_item_retrieve,
    ConversationItemTruncate: ConnectionState._on_item_truncate,
    ResponseCreate: lambda state, event, now, out: state._responses.create(event, now, out),
    ResponseCancel: lambda state, event, now, out: state._responses.cancel(event, now, out),
    OutputAudioBufferClear: ConnectionState._on_output_audio_buffer_clear,
}
