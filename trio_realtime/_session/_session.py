"""The client session engine: one nursery running a sender, a receiver, control and pumps.

::

    send(event) --> outbound channel (bounded) --> sender --> WebSocket
    audio pump  -->        ^
    control     -->        ^   (queued response.create, barge-in cancel and truncate)
    tool calls  -->        ^   (function_call_output, follow-up response.create)
    WebSocket --> receiver --> decode --> Conversation
                                      --> response layer (4 event types) --> control
                                      --> response handles (deltas, copied)
                                      --> waiters (one-shot slots)
                                      --> inbound channel (bounded) --> receive() / async for

Every hop is bounded. A slow application fills the inbound channel, the receiver waits, and
stops reading the socket, so the server's sends block (TCP backpressure); a slow network
fills the outbound channel, and ``send`` and the audio pumps wait. Nothing is dropped.

How the session ends is recorded once, first cause wins, as an ``Ending``. A normal
close (1000 from the server, or our own) ends iteration after the buffered events; any other
ending makes every operation raise its exception. Background tasks never raise for the
connection's sake: only bugs, and errors from an audio source, escape into the nursery.

The outbound path (direct writes, the outbound channel, the sender task) is in
:mod:`._sending`, the audio methods in :mod:`._audio_methods`, the client-event
methods in :mod:`._api`, response handles, tools and playback in
:mod:`._conversation_methods` (run by :mod:`._layer`).
"""

from __future__ import annotations

import functools
import itertools
import logging
import secrets
from collections.abc import Callable
from typing import Any, Final, final

import attrs
import trio

from .._core._audio_format import FORMATS, PCM16, AudioFormat
from .._core._codec import decode
from .._core._conversation import Conversation
from .._core._errors import ProtocolError
from .._core._events import SERVER_EVENTS, ClientEvent, ErrorDetails, UnknownEvent
from .._core._events._server import (
    ErrorEvent,
    InputAudioBufferSpeechStarted,
    ResponseCreated,
    ResponseDone,
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)
from .._core._playback import PlaybackInterrupted
from .._core._recording import Recorder
from .._core._tools import tool_registry
from .._wire._connection import Transport, WebSocketClosed, redact
from .._wire._errors import ConnectionClosed
from .._wire._flag import Flag
from ._api import ClientEventMethods
from ._audio_methods import AudioMethods
from ._conversation_methods import ConversationMethods
from ._keepalive import Heartbeat, ReceiverStalls
from ._layer import ResponseLayer
from ._pump import AudioStream
from ._response_handles import DELTA_TYPES
from ._sending import SendingMethods
from ._support import (
    Ending,
    NoPublicConstructor,
    Outgoing,
    SentLog,
    SessionOptions,
    ending_for_close,
    local_close,
)
from ._types import DecodeFailure, ReceivedEvent, SessionStatistics
from ._waiters import Waiters, WaitMethods

__all__ = ["RealtimeSession", "SessionOptions"]

logger = logging.getLogger("trio_realtime")

_SESSION_CONFIG_EVENTS: Final = (
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)


@final
class RealtimeSession(
    SendingMethods,  # first: its methods are what the other mixins' stubs stand for
    ClientEventMethods,
    AudioMethods,
    ConversationMethods,
    WaitMethods,
    metaclass=NoPublicConstructor,
):
    """A live Realtime session: typed events in, typed events out, over one WebSocket.

    Created only by :func:`trio_realtime.connect`, whose ``async with`` block is its
    lifetime. It is one nursery running a sender task, a receiver task, a
    control task, any audio pumps and any tool calls, joined by bounded memory channels.
    The sender starts with the first event that cannot be written at once: until then a
    send on a plain (non-TLS) socket is written from the caller's task, and an idle session
    costs one task fewer.

    Sending: :meth:`send` and the methods named after the client events
    (:meth:`update_session`, :meth:`cancel_response`, ...) queue an event and wait while the
    outbound channel is full. They return once the event is queued; the sender writes
    queued events in order, and leaving the block still sends what was queued.

    Receiving: ``async for event in session`` or :meth:`receive` take events from the
    inbound channel; each event goes to exactly one reader. A normal close ends iteration
    once the buffered events are read; an abnormal one raises
    :class:`~trio_realtime.ConnectionClosed` (or :class:`~trio_realtime.AuthenticationError`)
    after them. :meth:`wait_for` watches for an event without taking it.

    The conversation layer: :meth:`create_response` returns a
    :class:`~trio_realtime.ResponseHandle` and queues requests so that they never collide;
    ``connect(tools=...)`` runs the model's function calls; :attr:`playback` takes playback
    progress, and a ``speech_started`` over assistant audio cancels and truncates it and
    yields a :class:`~trio_realtime.PlaybackInterrupted`.

    If the session fails and no operation has raised that failure by the time the block
    ends normally, leaving the block raises it: failures never pass silently.
    """

    def __init__(
        self,
        transport: Transport,
        nursery: trio.Nursery,
        options: SessionOptions,
        recorder: Recorder | None = None,
    ) -> None:
        self._transport = transport
        self._recorder = recorder
        self._conversation = (
            Conversation(keep_audio_seconds=options.keep_audio_seconds)
            if options.track_conversation
            else None
        )
        self._ws = transport.ws
        self._nursery = nursery
        self._options = options
        self._api_key = transport.config.api_key
        # Made by the first event that must be queued, with the sender task (_outbound).
        self._out_send: trio.MemorySendChannel[Outgoing] | None = None
        self._out_recv: trio.MemoryReceiveChannel[Outgoing] | None = None
        self._in_send, self._in_recv = trio.open_memory_channel[ReceivedEvent](
            options.inbound_queue_size
        )
        self._waiters = Waiters()
        self._sent_log = SentLog(options.sent_log_events, options.sent_log_bytes)
        self._id_prefix = f"evt_{secrets.token_hex(4)}_"
        self._ids = itertools.count(1)
        self._input_format: AudioFormat = PCM16
        # A set of its own once a pump starts (an empty set is 216 bytes per idle session).
        self._pumps: set[AudioStream] | frozenset[AudioStream] = frozenset()
        self._ending: Ending | None = None
        self._closing = False
        self._closed = Flag()
        self._sender_done = Flag()
        self._last_error: tuple[int, ErrorEvent] | None = None  # (events_received then, event)
        # Plain int counters; statistics() reads them.
        self._events_sent = 0
        self._events_received = 0
        self._audio_ms_sent = 0.0
        self._decode_failures = 0
        self._stalls = ReceiverStalls()
        self._layer = ResponseLayer(
            self,
            self._conversation,
            tools=tool_registry(options.tools),
            tool_timeout=options.tool_timeout,
            handle_interruptions=options.handle_interruptions is not False,
            max_queued_responses=options.max_queued_responses,
        )

    def __repr__(self) -> str:
        state = "open" if self._ending is None and not self._closing else "closed"
        return f"<RealtimeSession {self._transport.config.url} {state}>"

    def _start(self) -> None:
        if not self._ws.writes_directly:
            self._outbound()  # every send goes through the channel: no reason to wait
        self._nursery.start_soon(self._receiver, name="trio_realtime.receiver")
        heartbeat = None
        if self._options.keepalive is not None:
            heartbeat = Heartbeat(self._ws, self._options.keepalive, self._stalls, self._peer_gone)
        # The control task also keeps the heartbeat: one task fewer per session.
        self._nursery.start_soon(self._layer.control, heartbeat, name="trio_realtime.control")

    # -- sending ------------------------------------------------------------------------------

    def _next_id(self) -> str:
        return self._id_prefix + str(next(self._ids))

    def _running_pumps(self) -> set[AudioStream]:
        """The set the running audio pumps register in, made with the first."""
        if not isinstance(self._pumps, set):
            self._pumps = set()
        return self._pumps

    def _raise_closed(self) -> None:
        """Raise the error for an operation the ended or closing session cannot do."""
        if self._ending is not None:
            raise self._ending.error()
        if self._closing:
            raise trio.ClosedResourceError("the session is closing")

    # -- receiving ----------------------------------------------------------------------------

    async def _receiver(self) -> None:
        receive_messages = self._ws.receive_messages
        put_nowait = self._in_send.send_nowait
        special = _SPECIAL
        waiting = self._waiters.pending
        dispatch = self._waiters.dispatch
        conversation, recorder = self._conversation, self._recorder
        tracked = _TRACKED
        routes = self._layer.routes
        followups = self._layer.followups
        delta_types = DELTA_TYPES
        try:
            while True:
                # One socket read: every message it completed, then the next read.
                for message in await receive_messages():
                    self._events_received += 1
                    event: ReceivedEvent
                    try:
                        event = decode(message)
                    except ProtocolError as exc:
                        event = self._on_decode_failure(message, exc)
                    # Every received frame passes here once, in order.
                    if recorder is not None:
                        recorder.record("server", getattr(event, "type", ""), message)
                    if conversation is not None and type(event) in tracked:
                        conversation.apply(event)  # type: ignore[arg-type]
                    handler = special.get(type(event))
                    if handler is not None:
                        handled = handler(self, event)
                        if handled is None:
                            continue  # an error the library caused and handled
                        event = handled
                    if routes and type(event) in delta_types:  # copy deltas into live handles
                        ref = routes.get(event.response_id)  # type: ignore[union-attr, arg-type]
                        handle = None if ref is None else ref()
                        if handle is not None:
                            handle._delta(event)  # type: ignore[arg-type]
                    if waiting:
                        dispatch(event)
                    try:
                        put_nowait(event)
                    except trio.WouldBlock:
                        await self._put_inbound_blocking(event)
                    if followups:
                        await self._after_event(followups)
                message = event = None  # type: ignore[assignment]  # not kept while idle
        except WebSocketClosed:
            self._on_websocket_closed()
        except trio.ClosedResourceError:
            pass  # _terminate closed the inbound channel while we waited on it

    async def _put_inbound_blocking(self, event: ReceivedEvent) -> None:
        # The application is behind: wait here, so nothing reads the socket and the server's
        # sends block. The keepalive knows pongs cannot arrive now.
        self._stalls.stalled = True
        self._stalls.count += 1
        try:
            await self._in_send.send(event)
        finally:
            self._stalls.stalled = False

    async def _after_event(self, followups: list[Any]) -> None:
        """Deliver notices and hand the layer's decisions to the control task, in order."""
        items = followups[:]
        followups.clear()  # in place: the receiver holds this list
        for item in items:
            if isinstance(item, PlaybackInterrupted):
                if self._waiters.pending:
                    self._waiters.dispatch(item)
                try:
                    self._in_send.send_nowait(item)
                except trio.WouldBlock:
                    await self._put_inbound_blocking(item)
            elif not self._layer.hand_over_nowait(item):
                # The control task is behind (the network is slow): like a full inbound
                # channel, this stops the socket reads, which the keepalive must know.
                self._stalls.stalled = True
                self._stalls.count += 1
                try:
                    await self._layer.hand_over(item)
                finally:
                    self._stalls.stalled = False

    def _on_decode_failure(self, message: str | bytes, exc: ProtocolError) -> DecodeFailure:
        self._decode_failures += 1
        logger.debug("undecodable frame from %s: %s", self._transport.config.url, exc)
        return DecodeFailure(raw=message, error=exc)

    def _on_error_event(self, event: ErrorEvent) -> ErrorEvent | None:
        details = event.error
        if self._api_key and self._api_key in details.message:
            redacted = attrs.evolve(details, message=redact(details.message, self._api_key))
            event = attrs.evolve(event, error=redacted)
        self._last_error = (self._events_received, event)
        return None if self._layer.error(event) else event

    def _on_response_created(self, event: ResponseCreated) -> ResponseCreated:
        self._layer.response_created(event)
        return event

    def _on_response_done(self, event: ResponseDone) -> ResponseDone:
        self._layer.response_done(event)
        return event

    def _on_speech_started(
        self, event: InputAudioBufferSpeechStarted
    ) -> InputAudioBufferSpeechStarted:
        self._layer.speech_started(event)
        return event

    def _on_session_event(self, event: SessionCreated | SessionUpdated) -> ReceivedEvent:
        name = event.session.input_audio_format
        if isinstance(name, str) and name in FORMATS:
            self._input_format = FORMATS[name]
        return event

    # -- the end ------------------------------------------------------------------------------

    def _on_websocket_closed(self) -> None:
        if self._ending is not None:
            return
        if self._closing:
            self._terminate(local_close())
            return
        closed = self._ws.closed
        code, reason = (1006, None) if closed is None else (closed.code, closed.reason)
        # The error event sent right before the close explains it (server-behaviour.md 1.5).
        last = self._last_error
        error = last[1].error if last is not None and last[0] == self._events_received else None
        ending = ending_for_close(code, reason, error, self._api_key)
        logger.debug(
            "%s: closed by the peer: %d %s",
            self._transport.config.url,
            code,
            redact(reason or "", self._api_key),
        )
        self._terminate(ending)

    def _terminate(self, ending: Ending) -> None:
        """Record how the session ended (first cause wins) and wake everyone waiting on it."""
        if self._ending is not None:
            return
        self._ending = ending
        self._in_send.close()  # readers get the buffered events, then the ending
        if self._out_recv is not None:
            self._out_recv.close()  # blocked senders wake up
        self._waiters.fail_all(ending.error)
        self._layer.terminate(ending.error, ending.ends_iteration)
        for stream in self._pumps:
            stream.cancel()

    async def _peer_gone(self, message: str) -> None:
        """The keepalive's verdict: fail the session with 1006 and close the socket."""
        if self._ending is None and not self._closing:
            logger.debug("%s: %s", self._transport.config.url, message)
            gone = functools.partial(ConnectionClosed, 1006, None, message=message)
            self._terminate(Ending(False, gone))
        await self._transport.abort()

    async def aclose(self) -> None:
        """Close the session: stop audio pumps, send what is queued, close with code 1000.

        Waits at most ``close_timeout`` for the queued events and the server's close frame,
        then closes the socket regardless. Leaving the ``async with`` block calls this;
        calling it earlier ends iteration (after the buffered events) for every reader.
        Idempotent. If cancelled, the socket is closed at once without a close frame.
        """
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            for stream in tuple(self._pumps):
                stream.cancel()
            self._layer.closing()  # the library queues nothing more of its own
            outbound = self._out_send
            if outbound is not None:  # else nothing was ever queued
                outbound.close()  # the sender drains what is queued, then stops
            with trio.move_on_after(self._options.close_timeout) as scope:
                if outbound is not None:
                    await self._sender_done.wait()
                if self._ending is None:
                    await self._ws.aclose(1000)
            if scope.cancelled_caught:
                logger.debug("%s: close timed out; closing the socket", self._transport.config.url)
                await self._transport.abort()
        except BaseException:
            await self._transport.abort()
            raise
        finally:
            self._terminate(local_close())
            self._closed.set()

    def _release(self) -> None:
        """The block is over: drop unread events; from now on ``receive`` raises."""
        self._in_recv.close()

    def _raise_unreported_failure(self) -> None:
        ending = self._ending
        if ending is not None and not ending.ends_iteration and not ending.reported:
            raise ending.error()

    # -- the application's side ---------------------------------------------------------------

    async def receive(self) -> ReceivedEvent:
        """The next received event, waiting for one if none is buffered.

        Raises:
            trio.EndOfChannel: The session closed normally and every event has been read.
            ConnectionClosed: The connection ended abnormally and every event has been read
                (:class:`~trio_realtime.AuthenticationError` for close code 3000).
            trio.ClosedResourceError: The session's block has been left.
        """
        try:
            return await self._in_recv.receive()
        except trio.EndOfChannel:
            self._raise_if_failed()
            raise

    def __aiter__(self) -> RealtimeSession:
        return self

    async def __anext__(self) -> ReceivedEvent:
        try:
            return await self._in_recv.receive()
        except trio.EndOfChannel:
            self._raise_if_failed()
            raise StopAsyncIteration from None

    def _raise_if_failed(self) -> None:
        ending = self._ending
        if ending is not None and not ending.ends_iteration:
            raise ending.error()

    def cause_of(self, error: ErrorEvent | ErrorDetails) -> ClientEvent | UnknownEvent | None:
        """The client event a server ``error`` refers to, if it is known.

        The server echoes the ``event_id`` of the event it refused in ``error.event_id``; the
        session remembers the last 1024 events it sent with an id (at most 1 MiB of them,
        audio appends excepted: keeping those would pin their audio).

        Returns:
            The event as sent, or ``None`` when the error names no event, or one that was an
            audio append, or one sent too long ago.
        """
        details = error.error if isinstance(error, ErrorEvent) else error
        event_id = details.event_id
        return self._sent_log.get(event_id) if isinstance(event_id, str) else None

    def statistics(self) -> SessionStatistics:
        """A snapshot of the queues and counters (plain numbers; cheap to call)."""
        outbound = self._out_send
        queued = 0 if outbound is None else outbound.statistics().current_buffer_used
        inbound = self._in_send.statistics()
        ws = self._ws
        return SessionStatistics(
            outbound_buffer_used=queued,
            outbound_max_buffer_size=self._options.outbound_queue_size,
            inbound_buffer_used=inbound.current_buffer_used,
            inbound_max_buffer_size=self._options.inbound_queue_size,
            events_sent=self._events_sent,
            events_received=self._events_received,
            bytes_sent=ws.bytes_sent,
            bytes_received=ws.bytes_received,
            audio_ms_sent=self._audio_ms_sent,
            decode_failures=self._decode_failures,
            receiver_stalls=self._stalls.count,
            waiters=len(self._waiters.pending),
            audio_streams=len(self._pumps),
            queued_responses=len(self._layer.queue.waiting),
            response_handles=self._layer.live_handles,
            tool_calls_running=self._layer.tool_calls_running,
            errors_handled=self._layer.errors_handled,
        )

    @property
    def conversation(self) -> Conversation:
        """The conversation so far, kept up to date from every event sent and received.

        Raises:
            RuntimeError: The session was opened with ``track_conversation=False``.
        """
        if self._conversation is None:
            raise RuntimeError("this session was opened with track_conversation=False")
        return self._conversation

    @property
    def input_format(self) -> AudioFormat:
        """The input audio format, as the server last reported it (pcm16 until then)."""
        return self._input_format


# What the Conversation is fed: server events and unknown ones (not client-typed oddities).
_TRACKED: Final = frozenset([*SERVER_EVENTS.values(), UnknownEvent])

# The few event types the receiver looks at, by exact type: one dict lookup per event.
# A handler returns the event to deliver, or None for an error the library handled.
_SPECIAL: Final[dict[type, Callable[[RealtimeSession, Any], ReceivedEvent | None]]] = {
    ErrorEvent: RealtimeSession._on_error_event,
    ResponseCreated: RealtimeSession._on_response_created,
    ResponseDone: RealtimeSession._on_response_done,
    InputAudioBufferSpeechStarted: RealtimeSession._on_speech_started,
    **dict.fromkeys(_SESSION_CONFIG_EVENTS, RealtimeSession._on_session_event),
}
