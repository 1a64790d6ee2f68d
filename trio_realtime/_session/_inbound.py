"""The receiver: one socket read, then every event it completed to whoever asked for it.

::

    WebSocket --> decode --> record --> Conversation
              --> the few types the session acts on (errors, responses, speech, answers)
              --> response handles (deltas, copied)
              --> wait_for waiters (one-shot slots)
              --> the session's stream (async for / receive)
              --> what the response layer decided to send (barge-in, queued requests)

Everything but the stream is fed without waiting, whatever the application reads; the
stream waits only under its policy (:mod:`._stream`). Sending what the response layer
decided never waits either, unless the outbound queue is full (the network is behind).

The receiver task reads the socket, except while it lends it to the stream's readers
(:mod:`._stream`): then :meth:`Inbound.pull` does the same routing in the reader's task,
without waiting for anything, and leaves to the receiver whatever must wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, final

from .._core._audio_format import FORMATS
from .._core._codec import decode
from .._core._conversation import Conversation
from .._core._errors import ProtocolError
from .._core._events import GA_SERVER_EVENTS, SERVER_EVENTS, UnknownEvent
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
from .._wire._websocket import ClientWebSocket, WebSocketClosed
from ._layer import READY, Followup, ResponseLayer
from ._lifecycle import Lifecycle
from ._outbound import Outbound
from ._requests import ANSWERS, Replies
from ._response_handles import DELTA_TYPES
from ._stream import EventStream
from ._types import DecodeFailure, ReceivedEvent
from ._waiters import Waiters

__all__ = ["Inbound"]

logger = logging.getLogger("trio_realtime")


@final
class Inbound:
    """The receiver task and the routing of each event (see the module docstring).

    Attributes:
        decode_failures: Frames that arrived as :class:`DecodeFailure`.
    """

    __slots__ = (
        "_conversation",
        "_decode",
        "_layer",
        "_life",
        "_out",
        "_pending",
        "_recorder",
        "_replies",
        "_room_needed",
        "_routing",
        "_stream",
        "_waiters",
        "_ws",
        "decode_failures",
    )

    def __init__(
        self,
        ws: ClientWebSocket,
        lifecycle: Lifecycle,
        outbound: Outbound,
        stream: EventStream,
        waiters: Waiters,
        replies: Replies,
        layer: ResponseLayer,
        *,
        conversation: Conversation | None,
        recorder: Recorder | None,
        decode: Callable[[str | bytes], ReceivedEvent] = decode,
    ) -> None:
        self._ws = ws
        self._decode = decode
        self._life = lifecycle
        self._out = outbound
        self._stream = stream
        self._waiters = waiters
        self._replies = replies
        self._layer = layer
        self._conversation = conversation
        self._recorder = recorder
        self._pending: list[str | bytes] = []  # read by a reader, left for the receiver
        # What routing an event touches (each object lives as long as the session).
        self._routing = (
            lifecycle,
            decode,  # the dialect's: the codec's own for beta
            stream.offer,
            waiters.pending,
            waiters.dispatch,
            conversation,
            recorder,
            layer.routes,
            layer.followups,
        )
        self._room_needed = False  # the stream asked the receiver to wait for room
        self.decode_failures = 0

    def attach(self, ws: ClientWebSocket) -> None:
        """Read ``ws`` from the next :meth:`run` on (a resumed session's new connection)."""
        self._ws = ws

    async def run(self) -> None:
        """Receive until the connection ends; then end the session (or let it resume)."""
        ws, stream, followups = self._ws, self._stream, self._layer.followups
        lends = ws.reads_directly
        try:
            while True:
                # What a reader of the lent socket left to us, in order.
                if self._room_needed:
                    self._room_needed = False
                    await stream.wait_room()
                if followups:
                    await self._after_event(followups)
                if self._pending:
                    await self._deliver(self._take_pending())
                await self._deliver(await ws.receive_messages())
                if lends and stream.may_lend() and not followups and not self._pending:
                    await stream.lend(self.pull)  # until it is taken back
        except WebSocketClosed:
            self._life.connection_closed(ws.closed, ws)

    def _take_pending(self) -> list[str | bytes]:
        pending, self._pending = self._pending, []
        return pending

    async def _deliver(self, messages: list[str | bytes]) -> None:
        """Route ``messages``, waiting where the stream or the layer's sends must."""
        start, end = 0, len(messages)
        followups = self._layer.followups
        while start < end:
            start = self._route(messages, start)
            if self._room_needed:
                self._room_needed = False
                await self._stream.wait_room()
            if followups:
                await self._after_event(followups)

    async def pull(self) -> bool:
        """Read the lent socket once from a stream reader's task, and route what came without
        waiting for anything (see :mod:`._stream`).

        Returns:
            False when the receiver must take the socket back: what came needs an answer
            written, or the layer's sends after an event, or the stream is full (the reader
            fell behind: the receiver holds), or the connection ended.
        """
        ws = self._ws
        try:
            await ws.wait_readable()  # the only wait: a cancel here loses nothing
            messages = ws.read_now()
        except WebSocketClosed:
            self._life.connection_closed(ws.closed, ws)  # the end, or a resume takes over
            return False
        if messages is None:
            return False
        done = self._route(messages, 0)
        if done < len(messages) or self._layer.followups or self._room_needed:
            self._pending = messages[done:]
            return False
        return True

    def _route(self, messages: list[str | bytes], start: int) -> int:
        """Route ``messages`` from ``start`` on; stop after one whose routing must wait (the
        layer has sends to make, or the stream is full and holds the receiver).

        Returns:
            The index of the first message not routed.
        """
        life, decode, offer, waiting, dispatch, conversation, recorder, routes, followups = (
            self._routing
        )
        special, tracked, delta_types = _SPECIAL, _TRACKED, DELTA_TYPES
        index, end = start, len(messages)
        while index < end:
            message = messages[index]
            index += 1
            life.events_received += 1
            event: ReceivedEvent | None
            try:
                event = decode(message)
            except ProtocolError as exc:
                event = self._decode_failure(message, exc)
            # Every received frame passes here once, in order.
            if recorder is not None:
                recorder.record("server", getattr(event, "type", ""), message)
            if conversation is not None and type(event) in tracked:
                conversation.apply(event)  # type: ignore[arg-type]
            handler = special.get(type(event))
            if handler is not None:
                event = handler(self, event)  # None: an error the library handled
            if event is not None:
                if routes and type(event) in delta_types:  # copies into live handles
                    ref = routes.get(event.response_id)  # type: ignore[union-attr, arg-type]
                    handle = None if ref is None else ref()
                    if handle is not None:
                        handle._delta(event)  # type: ignore[arg-type]
                if waiting:
                    dispatch(event)
                if not offer(event, len(message)):
                    self._room_needed = True
                    return index
            if followups:
                return index
        return index

    async def _after_event(self, followups: list[Followup]) -> None:
        """Deliver notices and send what the layer decided, in order."""
        items = followups[:]
        followups.clear()  # in place: the receiver holds this list
        for item in items:
            if isinstance(item, PlaybackInterrupted):
                if self._waiters.pending:
                    self._waiters.dispatch(item)
                if not self._stream.offer(item, 0):
                    await self._stream.wait_room()
                continue
            event = self._layer.take_ready() if item is READY else item
            if event is None or isinstance(event, str):
                continue
            waiting = self._out.offer(event)
            if waiting is not None:
                # The outbound queue is full (the network is behind): the socket reads wait
                # until it drains, which it does only while the peer takes our data (the
                # keepalive's sign of life).
                await self._out.put_quietly(waiting)

    def _decode_failure(self, message: str | bytes, exc: ProtocolError) -> DecodeFailure:
        self.decode_failures += 1
        logger.debug("undecodable frame: %s", exc)
        return DecodeFailure(raw=message, error=exc)

    # --- the event types the session acts on -------------------------------------------------

    def _on_error(self, event: ErrorEvent) -> ErrorEvent | None:
        event = self._life.server_error(event)
        self._replies.error(event)
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

    def _on_session(self, event: Any) -> Any:
        name = event.session.input_audio_format
        if isinstance(name, str) and name in FORMATS:
            self._out.input_format = FORMATS[name]
        if type(event) in _ANSWER_TYPES:
            self._replies.answer(event)
        return event

    def _on_answer(self, event: Any) -> Any:
        self._replies.answer(event)
        return event


# What the Conversation is fed: server events and unknown ones (not client-typed oddities).
_TRACKED: Final = frozenset([*SERVER_EVENTS.values(), *GA_SERVER_EVENTS.values(), UnknownEvent])
_ANSWER_TYPES: Final = frozenset(ANSWERS.values())

# The few event types the receiver acts on, by exact type: one dict lookup per event.
# A handler returns the event to deliver, or None for an error the library handled.
_SPECIAL: Final[dict[type, Callable[[Inbound, Any], ReceivedEvent | None]]] = {
    **dict.fromkeys(_ANSWER_TYPES, Inbound._on_answer),
    ErrorEvent: Inbound._on_error,
    ResponseCreated: Inbound._on_response_created,
    ResponseDone: Inbound._on_response_done,
    InputAudioBufferSpeechStarted: Inbound._on_speech_started,
    **dict.fromkeys(
        (SessionCreated, SessionUpdated, TranscriptionSessionCreated, TranscriptionSessionUpdated),
        Inbound._on_session,
    ),
}
