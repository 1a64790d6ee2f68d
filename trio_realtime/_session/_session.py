# ruff: noqa: ASYNC109
# (``timeout`` arguments on purpose: ``wait_for`` can return an event that matched as time
# ran out, and every timeout the session raises says what it waited for.)
"""``RealtimeSession``: the facade. The public API of a session, forwarding to its parts
(:mod:`._parts` makes and wires them); no protocol logic of its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar, final, overload

import trio

from .._core._audio_format import AudioFormat
from .._core._coerce import client_event, structured
from .._core._conversation import Conversation
from .._core._events import (
    ClientEvent,
    ConversationItem,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    ErrorDetails,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    OutputAudioBufferClear,
    ResponseCancel,
    ResponseConfig,
    ServerEvent,
    Session,
    SessionUpdate,
    SessionUpdated,
    TranscriptionSession,
    TranscriptionSessionUpdate,
    TranscriptionSessionUpdated,
    UnknownEvent,
)
from .._core._playback import Playback
from .._core._recording import Recorder
from .._core._tools import FunctionTool, tool_registry
from .._core._unset import UNSET, Unset
from .._wire._connection import Transport
from ._options import SessionOptions
from ._parts import SessionParts
from ._pump import AudioSource, AudioStream
from ._requests import RequestRefused
from ._response_handles import ResponseHandle, ResponseWatch
from ._support import NoPublicConstructor
from ._types import ReceivedEvent, SessionStatistics
from ._waiters import EventMatch

__all__ = ["RealtimeSession", "SessionOptions"]

logger = logging.getLogger("trio_realtime")

_C = TypeVar("_C", bound=ClientEvent | UnknownEvent)
_E = TypeVar("_E")
_EventId = str | Unset | None


@final
class RealtimeSession(metaclass=NoPublicConstructor):
    """A live Realtime session: typed events in, typed events out, over one WebSocket.

    Created only by :func:`trio_realtime.connect`, whose ``async with`` block is its lifetime.
    :meth:`send` and the methods named after the client events write (or queue) an event;
    :meth:`request` also returns its answer. Every received event reaches whoever asked for
    it: response handles, :meth:`wait_for`, :meth:`request`, the :attr:`conversation`, and
    the session's own stream (``async for event in session``, :meth:`receive`); reading only
    what you asked for never stalls (README.rst, "Who gets which event"). A normal close ends
    iteration after the buffered events; an abnormal one raises
    :class:`~trio_realtime.ConnectionClosed` after them, unless the session was opened with
    ``connect(resume=...)``: then a recoverable loss moves it to a new connection, and the
    stream yields a :class:`~trio_realtime.SessionResumed`. A failure no operation raised is
    raised when the block ends: failures never pass silently.
    """

    __slots__ = ("__weakref__", "_p")

    def __init__(
        self,
        transport: Transport,
        nursery: trio.Nursery,
        options: SessionOptions,
        recorder: Recorder | None = None,
    ) -> None:
        self._p = SessionParts(transport, nursery, options, recorder)

    def _start(self) -> None:
        """Start the receiver and the watchdog (``connect`` does, right after making it)."""
        self._p.start()

    def _start_resumer(self) -> None:
        """With ``resume=``, start carrying the session on over new connections (``connect``
        does once the session is ready)."""
        self._p.start_resumer()

    def __repr__(self) -> str:
        state = "open" if self._p.life.open else "closed"
        return f"<RealtimeSession {self._p.transport.config.url} {state}>"

    # --- sending -----------------------------------------------------------------------------

    async def send(self, event: _C | Mapping[str, Any]) -> _C:
        """Send a client event: written now if the socket takes it, else queued (waiting
        while the outbound queue is full).

        An event without an ``event_id`` gets one, unique in this session (``None`` is sent
        as ``null``); the server echoes it in ``error.event_id`` (see :meth:`cause_of`). It
        returns before any answer can have been received, so a :meth:`wait_for` called right
        after it sees the answer; :meth:`request` does both in one call.

        Args:
            event: Any client event; an :class:`~trio_realtime.UnknownEvent` to send a type
                this library does not model; or the event as a dict in the wire's (and the
                openai SDK's) shape, ``{"type": "session.update", "session": {...}}``.

        Returns:
            The event as sent, with its ``event_id``.

        Raises:
            TypeError: ``event`` is not a client event, or cannot be encoded.
            ProtocolError: A dict whose fields do not fit the event (the message names the
                field path).
            ValueError: An audio append larger than the 15 MiB limit (use :meth:`append_audio`).
            ConnectionClosed: The connection has ended (also after a normal close by the server).
            trio.ClosedResourceError: The session was closed by this side.
        """
        if isinstance(event, Mapping):
            event = client_event(event)  # type: ignore[assignment]
        return await self._p.out.send(event)  # type: ignore[arg-type]

    @overload
    async def request(
        self, event: SessionUpdate, *, timeout: float | Unset | None = ...
    ) -> SessionUpdated: ...
    @overload
    async def request(
        self, event: TranscriptionSessionUpdate, *, timeout: float | Unset | None = ...
    ) -> TranscriptionSessionUpdated: ...
    @overload
    async def request(
        self, event: ConversationItemCreate, *, timeout: float | Unset | None = ...
    ) -> ConversationItemCreated: ...
    @overload
    async def request(
        self, event: ConversationItemDelete, *, timeout: float | Unset | None = ...
    ) -> ConversationItemDeleted: ...
    @overload
    async def request(
        self, event: ConversationItemRetrieve, *, timeout: float | Unset | None = ...
    ) -> ConversationItemRetrieved: ...
    @overload
    async def request(
        self, event: ConversationItemTruncate, *, timeout: float | Unset | None = ...
    ) -> ConversationItemTruncated: ...
    @overload
    async def request(
        self, event: InputAudioBufferCommit, *, timeout: float | Unset | None = ...
    ) -> InputAudioBufferCommitted: ...
    @overload
    async def request(
        self, event: InputAudioBufferClear, *, timeout: float | Unset | None = ...
    ) -> InputAudioBufferCleared: ...
    @overload
    async def request(
        self, event: Mapping[str, Any], *, timeout: float | Unset | None = ...
    ) -> ServerEvent: ...

    async def request(
        self,
        event: ClientEvent | Mapping[str, Any],
        *,
        timeout: float | Unset | None = UNSET,
    ) -> ServerEvent:
        """Send an event the protocol answers and return the answer, in one call.

        ``session.update`` gives ``session.updated``, ``transcription_session.update``
        gives ``transcription_session.updated``, ``conversation.item.create`` /
        ``delete`` / ``retrieve`` / ``truncate`` give ``.created`` / ``.deleted`` /
        ``.retrieved`` / ``.truncated``, ``input_audio_buffer.commit`` / ``clear`` give
        ``.committed`` / ``.cleared``. The answer is expected before the event can leave, so
        it cannot be missed; it is matched by item id where the request names one (a
        ``create`` of an item with a client-chosen ``id``), else by order. The answer (or
        the error) is still delivered to the stream and to ``wait_for`` as usual.

        Args:
            event: The event, or its dict form (``{"type": "session.update", ...}``).
            timeout: Seconds to wait for the answer; default: the session's
                ``request_timeout`` (30 s); ``None`` waits as long as the session lives.

        Raises:
            RequestRefused: The server answered with an ``error`` naming the event
                (``.error`` has its code and message).
            trio.TooSlowError: No answer in time (the message names what was awaited and the
                last server error).
            TypeError: The protocol does not answer this event.
            ConnectionClosed: The connection ended first.
            trio.ClosedResourceError: The session was closed by this side.
        """
        if isinstance(event, Mapping):
            event = client_event(event)  # type: ignore[assignment]
        if not isinstance(event, ClientEvent):
            raise TypeError(f"request() takes a client event, not {type(event).__name__}")
        wait = self._p.options.request_timeout if timeout is UNSET else timeout
        return await self._p.requester.request(event, wait)

    async def update_session(
        self, session: Session | Mapping[str, Any], *, event_id: _EventId = UNSET
    ) -> SessionUpdate:
        """Send ``session.update``: change the fields of ``session`` that are set.

        Fields left :data:`~trio_realtime.UNSET` stay as they are; ``None`` sends ``null``
        (``Session(turn_detection=None)`` turns server VAD off). A dict in the SDK's shape
        works too. The server answers ``session.updated`` (use :meth:`request` to get it).
        """
        session = structured(session, Session, event_type="session.update", field="session")
        return await self._p.out.send(SessionUpdate(session=session, event_id=event_id))

    async def update_transcription_session(
        self, session: TranscriptionSession | Mapping[str, Any], *, event_id: _EventId = UNSET
    ) -> TranscriptionSessionUpdate:
        """Send ``transcription_session.update`` (transcription sessions only); the server
        answers ``transcription_session.updated``."""
        session = structured(
            session,
            TranscriptionSession,
            event_type="transcription_session.update",
            field="session",
        )
        return await self._p.out.send(
            TranscriptionSessionUpdate(session=session, event_id=event_id)
        )

    async def append_audio(
        self, pcm: bytes | bytearray | memoryview
    ) -> list[InputAudioBufferAppend]:
        """Send raw audio in the session's input format as ``input_audio_buffer.append``.

        Audio larger than one append may carry (15 MiB of event, about 245 s of pcm16) is
        split into several appends; empty audio sends nothing.

        Raises:
            AudioFormatError: ``pcm`` is not a whole number of samples of the input format.
            ConnectionClosed: The connection has ended.
            trio.ClosedResourceError: The session was closed by this side.
        """
        return await self._p.pumps.append(pcm)

    async def commit_audio(self, *, event_id: _EventId = UNSET) -> InputAudioBufferCommit:
        """Send ``input_audio_buffer.commit``: turn the input buffer into a user item (needed
        only without server VAD). The server answers ``input_audio_buffer.committed``, or
        ``input_audio_buffer_commit_empty`` for less than 100 ms of audio."""
        return await self._p.out.send(InputAudioBufferCommit(event_id=event_id))

    async def clear_audio(self, *, event_id: _EventId = UNSET) -> InputAudioBufferClear:
        """Send ``input_audio_buffer.clear``: drop the uncommitted input audio."""
        return await self._p.out.send(InputAudioBufferClear(event_id=event_id))

    async def create_item(
        self,
        item: ConversationItem | Mapping[str, Any],
        *,
        previous_item_id: str | Unset | None = UNSET,
        event_id: _EventId = UNSET,
    ) -> ConversationItemCreate:
        """Send ``conversation.item.create``: add ``item`` (or its dict form) after
        ``previous_item_id``, at the end without one, first with ``"root"``. The server
        answers ``conversation.item.created``."""
        item = structured(
            item, ConversationItem, event_type="conversation.item.create", field="item"
        )
        return await self._p.out.send(
            ConversationItemCreate(item=item, previous_item_id=previous_item_id, event_id=event_id)
        )

    async def delete_item(
        self, item_id: str, *, event_id: _EventId = UNSET
    ) -> ConversationItemDelete:
        """Send ``conversation.item.delete``; the server answers ``conversation.item.deleted``."""
        return await self._p.out.send(ConversationItemDelete(item_id=item_id, event_id=event_id))

    async def retrieve_item(
        self, item_id: str, *, event_id: _EventId = UNSET
    ) -> ConversationItemRetrieve:
        """Send ``conversation.item.retrieve``; the answer, ``conversation.item.retrieved``,
        carries the server's view of the item, audio included."""
        return await self._p.out.send(ConversationItemRetrieve(item_id=item_id, event_id=event_id))

    async def truncate_item(
        self, item_id: str, content_index: int, audio_end_ms: int, *, event_id: _EventId = UNSET
    ) -> ConversationItemTruncate:
        """Send ``conversation.item.truncate``: cut assistant audio at what was played
        (``audio_end_ms`` in the item's own audio; ``content_index`` 0). The server answers
        ``conversation.item.truncated``."""
        return await self._p.out.send(
            ConversationItemTruncate(
                item_id=item_id,
                content_index=content_index,
                audio_end_ms=audio_end_ms,
                event_id=event_id,
            )
        )

    async def cancel_response(
        self, response_id: str | Unset | None = UNSET, *, event_id: _EventId = UNSET
    ) -> ResponseCancel:
        """Send ``response.cancel``: stop the running response (or the one named). It ends
        with ``response.done``, status ``cancelled``; with none running the server answers a
        harmless ``response_cancel_not_active`` error."""
        return await self._p.out.send(ResponseCancel(response_id=response_id, event_id=event_id))

    async def clear_output_audio(self, *, event_id: _EventId = UNSET) -> OutputAudioBufferClear:
        """Send ``output_audio_buffer.clear`` (for WebRTC; a WebSocket server answers it with
        an ``error``). It is here so every client event has its method."""
        return await self._p.out.send(OutputAudioBufferClear(event_id=event_id))

    async def stream_audio(
        self,
        source: AudioSource,
        *,
        realtime: bool = True,
        chunk_ms: float = 100,
        input_format: str | AudioFormat | None = None,
    ) -> AudioStream:
        """Start an audio pump: a task in the session's nursery that streams ``source``.

        Pieces of any size in, ``input_audio_buffer.append`` frames of ``chunk_ms`` out, through
        the same bounded queue as :meth:`send`. Returns an :class:`~trio_realtime.AudioStream`
        at once (``await stream.wait()``, ``stream.cancel()``). Leaving the block stops the pump
        (what it queued is still sent); an abnormal end of the session makes ``wait()`` raise;
        an exception from the source propagates out of the session block.

        Args:
            source: ``bytes``, or an async iterable of ``bytes`` pieces (an async generator,
                a ``trio.MemoryReceiveChannel``). An async generator is closed when the pump
                stops; a channel is left to its owner.
            realtime: Pace frames at real time against an absolute schedule; False sends as
                fast as backpressure allows (a live microphone paces itself).
            chunk_ms: Duration of each frame in milliseconds (rounded down to whole samples).
            input_format: The format of ``source``; default: the session's input format.

        Raises:
            ValueError: ``chunk_ms`` is shorter than a sample or longer than one append allows.
            AudioFormatError: Unknown ``input_format``.
        """
        return await self._p.pumps.start(
            source, realtime=realtime, chunk_ms=chunk_ms, input_format=input_format
        )

    # --- responses, tools, playback ----------------------------------------------------------

    async def create_response(
        self,
        response: ResponseConfig | Mapping[str, Any] | Unset | None = UNSET,
        *,
        event_id: str | Unset = UNSET,
        max_deltas: int = 1024,
    ) -> ResponseHandle:
        """Ask for a response; return its :class:`~trio_realtime.ResponseHandle` at once.

        The request is tagged in its ``metadata`` (``trio_realtime_request``) to find its
        response; a server that does not echo metadata is matched by order (README.rst).
        Default-conversation requests go one at a time: while a response runs (VAD's too),
        a request awaits its answer, or tool calls run, the request waits in a queue; else it
        is sent now, from this task. One that loses a race with a VAD response is sent again
        after it. Out-of-band requests (``conversation="none"``) are never queued.

        Args:
            response: The configuration (a :class:`~trio_realtime.ResponseConfig` or its dict
                form), or nothing for the session's defaults.
            event_id: The ``event_id`` of the (first) ``response.create``.
            max_deltas: How many unread deltas the handle keeps; 0 when only ``done()`` matters.

        Raises:
            ValueError: ``metadata`` already holds 16 pairs, uses the reserved key, or
                ``max_deltas`` is negative.
            ConnectionClosed: The connection has ended.
            trio.ClosedResourceError: The session was closed by this side.
        """
        self._p.life.raise_if_closed()
        config = (
            structured(response, ResponseConfig, event_type="response.create", field="response")
            if isinstance(response, Mapping)
            else response
        )
        return await self._p.layer.request(config, event_id, max_deltas)

    async def next_response(
        self, *, timeout: float | None = None, max_deltas: int = 1024
    ) -> ResponseHandle:
        """The handle of the next response to start, whoever asked for it.

        Registered when called, like ``wait_for``; to follow every response without a gap
        between calls, use :meth:`watch_responses`.

        Raises:
            trio.TooSlowError: ``timeout`` passed first.
            ConnectionClosed: The connection ended first.
            trio.ClosedResourceError: The session was closed by this side.
        """
        self._p.life.raise_if_closed()
        with self._p.layer.watch(1, max_deltas) as watch:
            with trio.move_on_after(float("inf") if timeout is None else timeout):
                try:
                    return await watch.receive()
                except trio.EndOfChannel:
                    self._p.life.raise_if_closed()
                    raise  # pragma: no cover - an ended watch means an ended session
        raise trio.TooSlowError(
            f"no response started within {timeout:g} s{self._p.life.last_error_note()}"
        )

    def watch_responses(
        self, *, max_handles: int = 16, max_deltas: int = 1024
    ) -> contextlib.AbstractContextManager[ResponseWatch]:
        """Follow every response that starts while the block is open::

            with session.watch_responses() as responses:
                async for handle in responses:
                    async for delta in handle:
                        ...

        Each response is one :class:`~trio_realtime.ResponseHandle` (``handle.origin`` says
        who asked). Handles keep up to ``max_deltas`` unread deltas; at most ``max_handles``
        wait unread (see :class:`~trio_realtime.ResponseWatch`).

        Raises:
            ValueError: A bound below 1.
        """
        return self._p.layer.watch(max_handles, max_deltas)

    @property
    def tools(self) -> Mapping[str, FunctionTool]:
        """The tools the session runs, by name (read-only; change them with :meth:`set_tools`)."""
        return MappingProxyType(self._p.layer.tools)

    async def set_tools(
        self,
        tools: Iterable[FunctionTool | Callable[..., Any]],
        *,
        tool_timeout: float | None = None,
    ) -> SessionUpdate:
        """Replace the tools: run these from now on, and send them in ``session.update``.

        Plain callables are made tools with :func:`~trio_realtime.tool`. With no tools,
        function calls are left to the application.

        Raises:
            ValueError: Two tools share a name, or ``tool_timeout`` is not positive.
        """
        registry = tool_registry(tools)
        if tool_timeout is not None and not tool_timeout > 0:
            raise ValueError(f"tool_timeout must be positive, got {tool_timeout!r}")
        definitions = [t.definition for t in registry.values()]
        event = await self._p.out.send(SessionUpdate(session=Session(tools=definitions)))
        self._p.layer.tools = registry
        if tool_timeout is not None:
            self._p.layer.tool_timeout = tool_timeout
        return event

    async def _install_tools(self) -> None:
        """Send the tools given to ``connect`` and wait until the server has them.

        Raises:
            ValueError: The server refused them (the message is the server's).
        """
        definitions = [t.definition for t in self._p.layer.tools.values()]
        try:
            await self._p.requester.request(SessionUpdate(session=Session(tools=definitions)), None)
        except RequestRefused as exc:
            raise ValueError(f"the server refused the tools: {exc.error.message}") from None

    @property
    def playback(self) -> Playback:
        """Playback progress for barge-in: ``session.playback.played(item_id, ms)`` (or
        ``played_bytes``) as audio leaves the speaker; ``handle_interruptions = False`` turns
        barge-in off. See :class:`~trio_realtime.Playback`.

        Raises:
            RuntimeError: The session was opened with ``track_conversation=False``.
        """
        playback = self._p.layer.playback
        if playback is None:
            raise RuntimeError("this session was opened with track_conversation=False")
        return playback

    # --- receiving ---------------------------------------------------------------------------

    async def receive(self) -> ReceivedEvent:
        """The next event of the session's stream, waiting for one.

        Raises:
            trio.EndOfChannel: The session closed normally and every event has been read.
            ConnectionClosed: The connection ended abnormally and every event has been read
                (:class:`~trio_realtime.AuthenticationError` for close code 3000).
            trio.ClosedResourceError: The session's block has been left.
        """
        try:
            return await self._p.stream.receive()
        except trio.EndOfChannel:
            self._raise_if_failed()
            raise

    def __aiter__(self) -> RealtimeSession:
        return self

    async def __anext__(self) -> ReceivedEvent:
        try:
            return await self._p.stream.receive()
        except trio.EndOfChannel:
            self._raise_if_failed()
            raise StopAsyncIteration from None

    def _raise_if_failed(self) -> None:
        ending = self._p.life.ending
        if ending is not None and not ending.ends_iteration:
            raise ending.error()

    @overload
    async def wait_for(  # type: ignore[overload-overlap]
        self, match: type[_E], *, timeout: float | None = None
    ) -> _E: ...
    @overload
    async def wait_for(
        self, match: EventMatch, *, timeout: float | None = None
    ) -> ReceivedEvent: ...

    async def wait_for(self, match: EventMatch, *, timeout: float | None = None) -> Any:
        """Wait for the next received event that matches, without taking it from anyone.

        The waiter is registered when the call starts, before it first yields, and sees
        events received from then on (never earlier ones, even if still unread). A
        :meth:`send` returns before its answer can be received, so ``wait_for`` right after
        it is in time. It returns the first match; the event still goes to the stream and to
        every other waiter it matches. While it waits, the stream does not hold the receiver.

        Args:
            match: A wire type (``"session.updated"``), an event class, a tuple of those
                (any matches), or a predicate (an exception it raises is raised here).
            timeout: Seconds to wait; ``None`` waits as long as the session lives.

        Raises:
            trio.TooSlowError: ``timeout`` passed first (the message names the match and the
                last server error).
            ConnectionClosed: The connection ended first (after a normal close too).
            trio.ClosedResourceError: The session was closed by this side.
        """
        return await self._p.waiters.wait_for(match, timeout)

    def cause_of(self, error: ErrorEvent | ErrorDetails) -> ClientEvent | UnknownEvent | None:
        """The client event a server ``error`` refers to (by the ``event_id`` it echoes),
        if known: the last 1024 events sent with an id (at most 1 MiB; appends excepted)."""
        details = error.error if isinstance(error, ErrorEvent) else error
        event_id = details.event_id
        return self._p.out.sent_log.get(event_id) if isinstance(event_id, str) else None

    def statistics(self) -> SessionStatistics:
        """A snapshot of the queues and counters (plain numbers; cheap to call)."""
        return self._p.statistics()

    @property
    def conversation(self) -> Conversation:
        """The conversation so far, kept up to date from every event sent and received.

        Raises:
            RuntimeError: The session was opened with ``track_conversation=False``.
        """
        if self._p.conversation is None:
            raise RuntimeError("this session was opened with track_conversation=False")
        return self._p.conversation

    @property
    def input_format(self) -> AudioFormat:
        """The input audio format, as the server last reported it (pcm16 until then)."""
        return self._p.out.input_format

    # --- the end -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the session: stop audio pumps, send what is queued, close with code 1000.

        Waits at most ``close_timeout`` for the queued events and the server's close frame,
        then closes the socket regardless. Leaving the ``async with`` block calls this;
        calling it earlier ends iteration (after the buffered events) for every reader.
        Idempotent. If cancelled, the socket is closed at once without a close frame.
        """
        await self._p.aclose()

    def _release(self) -> None:
        """The block is over: drop unread events; from now on ``receive`` raises."""
        self._p.release()

    def _raise_unreported_failure(self) -> None:
        self._p.raise_unreported_failure()
