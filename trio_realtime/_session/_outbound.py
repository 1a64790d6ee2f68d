"""The session's outbound path: direct writes, a bounded queue and the sender task.

::

    send(event) --> written from the caller's task   (plain ws://, nothing queued, sender idle)
                --> outbound queue (bounded) --> sender --> WebSocket      (otherwise)

A send on a plain socket is written from the caller's task when nothing is queued and the
sender is idle: one task switch fewer per event. The queue and the sender task are made by
the first event that must wait (the socket could not take it at once, or TLS, where every send
is queued); an idle session never needs them. Order is kept either way: an event is written
directly only when nothing is queued or being written.

**No reply can slip past.** :meth:`Outbound.put` never yields *after* the frame leaves: a
direct write returns at once, and a put that waited for room queues the item from the
caller's own task (:class:`~._mailbox.Mailbox`) and returns. So the task that sent an event
runs on before the receiver can see anything the server answers, and a ``wait_for`` it
calls right after the send is registered in time. Before the frame leaves, a put is a
cancel point, and a schedule point only now and then (:data:`~._support.SCHEDULE`): a
trip through the scheduler per send cost about as much CPU as the send.
"""

from __future__ import annotations

import binascii
import contextlib
import secrets
from collections.abc import Callable
from typing import Final, TypeAlias, TypeVar, cast, final

import attrs
import trio

from .._core._audio_format import PCM16, AudioFormat
from .._core._codec import encode
from .._core._conversation import Conversation
from .._core._events import ClientEvent, UnknownEvent
from .._core._events._client import InputAudioBufferAppend
from .._core._recording import Recorder
from .._core._unset import UNSET
from .._wire._flag import Flag
from .._wire._websocket import ClientWebSocket, WebSocketClosed
from ._lifecycle import Lifecycle
from ._mailbox import Mailbox
from ._pump import MAX_APPEND_EVENT_CHARS
from ._requests import Replies
from ._support import SCHEDULE, SentLog, base64_payload_bytes

__all__ = ["EventIds", "Outbound", "Outgoing"]

_C = TypeVar("_C", bound=ClientEvent | UnknownEvent)

#: One outbound item: the event, its encoded text frame, and the milliseconds of audio it
#: carries.
Outgoing: TypeAlias = tuple[ClientEvent | UnknownEvent, str, float]

_APPEND_HEAD: Final = '{"type":"input_audio_buffer.append","event_id":"'
_APPEND_MIDDLE: Final = '","audio":"'


@final
class EventIds:
    """``event_id`` values unique in a session: ``evt_`` + a random prefix + a counter."""

    __slots__ = ("_next", "_prefix")

    def __init__(self) -> None:
        self._prefix = f"evt_{secrets.token_hex(4)}_"
        self._next = 1

    def __call__(self) -> str:
        number = self._next
        self._next = number + 1
        return self._prefix + str(number)


@final
class Outbound:
    """Everything the session writes goes through here, in order, once.

    Args:
        ws: The WebSocket.
        spawn: Starts the sender task (``nursery.start_soon``), when one is first needed.
        lifecycle: The session's state; a closed or ended session refuses sends.
        replies: Told of every event the protocol answers, before it can leave.
        queue_size: Events queued at most before ``send`` waits.
        sent_log: Where events are kept for :meth:`RealtimeSession.cause_of`.
        conversation: Fed every event written, if the conversation is tracked.
        recorder: Records every event written, if recording.
        encode: Turns an event into its frame's text: the dialect's encoder (the codec's
            :func:`~trio_realtime.encode` for beta).

    Attributes:
        new_id: Makes ``event_id`` values.
        input_format: The input audio format (the receiver keeps it current).
        events_sent: Events written to the socket.
        audio_ms_sent: Milliseconds of input audio written.
    """

    __slots__ = (
        "_conversation",
        "_drained",
        "_encode",
        "_life",
        "_queue",
        "_recorder",
        "_replies",
        "_sender_scope",
        "_size",
        "_spawn",
        "_suspended",
        "_ws",
        "audio_ms_sent",
        "events_sent",
        "input_format",
        "new_id",
        "sent_log",
    )

    def __init__(
        self,
        ws: ClientWebSocket,
        spawn: Callable[..., object],
        lifecycle: Lifecycle,
        replies: Replies,
        *,
        queue_size: int,
        sent_log: SentLog,
        conversation: Conversation | None,
        recorder: Recorder | None,
        encode: Callable[[ClientEvent | UnknownEvent], str] = encode,
    ) -> None:
        self._ws = ws
        self._encode = encode
        self._spawn = spawn
        self._life = lifecycle
        self._replies = replies
        self._size = queue_size
        self._queue: Mailbox[Outgoing] | None = None  # made with the sender, when needed
        self._sender_scope: trio.CancelScope | None = None  # the running sender's
        self._suspended = False  # no connection to write to: everything waits in the queue
        # Set once nothing more will be written: the queue closed and drained, or the end.
        self._drained = Flag()
        self._conversation = conversation
        self._recorder = recorder
        self.sent_log = sent_log
        self.new_id = EventIds()
        self.input_format: AudioFormat = PCM16
        self.events_sent = 0
        self.audio_ms_sent = 0.0
        if not ws.writes_directly:
            self._start_sender()  # every send goes through the queue: no reason to wait

    @property
    def queued(self) -> int:
        """Events accepted and not yet written."""
        return 0 if self._queue is None else len(self._queue)

    # --- preparing ---------------------------------------------------------------------------

    def prepare(self, event: ClientEvent | UnknownEvent) -> Outgoing:
        """``event`` ready to go: with an ``event_id``, encoded, logged for ``cause_of``, its
        answer expected, and the milliseconds of audio it carries.

        Raises:
            TypeError: Not a client event, or not encodable.
            ValueError: An append over the 15 MiB limit.
        """
        if isinstance(event, ClientEvent):
            if event.event_id is UNSET:
                event = attrs.evolve(event, event_id=self.new_id())
            event_id = event.event_id
        elif isinstance(event, UnknownEvent):
            if "event_id" not in event.raw:
                event = UnknownEvent(raw={**event.raw, "event_id": self.new_id()})
            event_id = event.raw["event_id"]
        else:
            raise TypeError(f"send() takes a client event, not {type(event).__name__}")
        text = self._encode(event)
        if type(event) is InputAudioBufferAppend:
            if len(text) > MAX_APPEND_EVENT_CHARS:
                raise ValueError(
                    f"an input_audio_buffer.append of {len(text)} characters exceeds the 15 "
                    "MiB limit; append_audio() splits audio into appends that fit"
                )
            return event, text, base64_payload_bytes(event.audio) / self.input_format.bytes_per_ms
        if isinstance(event_id, str):
            self.sent_log.add(event_id, event, len(text))
        if isinstance(event, ClientEvent):
            self._replies.sent(event)
        return event, text, 0.0

    def append_item(
        self, pcm: bytes, bytes_per_ms: int
    ) -> tuple[InputAudioBufferAppend, str, float]:
        """The hot path for audio: one append, its frame and its duration.

        The frame is written by hand: our ids and base64 need no JSON escaping, and skipping
        the converter saves about 2 us of the 7.7 us an append costs (base64 itself is 5 us
        for 100 ms of pcm16). A test checks the text equals ``encode(event)``.
        """
        audio = binascii.b2a_base64(pcm, newline=False).decode("ascii")
        event_id = self.new_id()
        text = _APPEND_HEAD + event_id + _APPEND_MIDDLE + audio + '"}'
        return (
            InputAudioBufferAppend(audio=audio, event_id=event_id),
            text,
            len(pcm) / bytes_per_ms,
        )

    # --- the application's sends -------------------------------------------------------------

    async def send(self, event: _C) -> _C:
        """Prepare and queue ``event`` (see :meth:`RealtimeSession.send`)."""
        self._life.raise_if_closed()
        item = self.prepare(event)
        try:
            await self.put(item)
        except BaseException:
            self._replies.unsent(item[0])
            raise
        return item[0]  # type: ignore[return-value]  # same class as event (attrs.evolve)

    async def put(self, item: Outgoing) -> None:
        """Write ``item`` now if the socket takes it, else queue it (waiting for room).

        A cancel point (and now and then a schedule point) before the frame can leave, no
        yield after (see the module docstring).

        Raises:
            ConnectionClosed: The session has ended.
            trio.ClosedResourceError: The session is closing or closed.
        """
        if not await self._enqueue(item):
            self._life.raise_if_closed()
            raise trio.ClosedResourceError("the session is closed")  # pragma: no cover

    async def put_quietly(self, item: Outgoing) -> bool:
        """:meth:`put` for the library's own events: False once the session takes no more
        (the ending is the application's to see, so it is not raised here)."""
        return await self._enqueue(item)

    async def _enqueue(self, item: Outgoing) -> bool:
        if SCHEDULE.due():
            await trio.lowlevel.checkpoint()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()
        if self._try_direct(item):
            return True
        queue = self._sender_queue()
        try:
            queue.put_nowait(item)
        except trio.WouldBlock:
            try:
                await queue.put(item)
            except trio.ClosedResourceError:
                return False
        except trio.ClosedResourceError:
            return False
        return True

    def _try_direct(self, item: Outgoing) -> bool:
        """Write ``item`` from the caller's task if the sender is idle with nothing queued."""
        ws = self._ws
        if not ws.writes_directly:
            return False
        queue = self._queue
        if queue is not None and not queue.getter_waiting:
            return False  # something is queued, or the sender holds an unwritten item
        if not ws.try_send_now(item[1]):
            return False
        self._written(item[0], item[1], item[2])
        if ws.has_unsent:  # the socket took part of the frame: the sender writes the rest
            self.flush_soon()
        return True

    # --- the library's own sends -------------------------------------------------------------

    async def send_quietly(self, event: ClientEvent) -> bool:
        """The library's own sends (tool outputs, requests): False once the session can take
        no more, without reporting the ending (that is the application's to see)."""
        if not self._life.open:
            return False
        return await self.put_quietly(self.prepare(event))

    def offer(self, event: ClientEvent) -> Outgoing | None:
        """From the receiver: write or queue ``event`` without waiting.

        Returns:
            ``None`` if it went (or the session is closing: the library sends nothing more);
            the prepared item if the queue is full: send it with :meth:`put_quietly`.
        """
        if not self._life.open:
            return None
        item = self.prepare(event)
        if self._try_direct(item):
            return None
        queue = self._sender_queue()
        try:
            queue.put_nowait(item)
        except trio.WouldBlock:
            return item
        except trio.ClosedResourceError:
            pass
        return None

    async def send_audio(self, pcm: bytes, bytes_per_ms: int) -> bool:
        """An audio pump's ``send_frame``: False once the session can take no more.

        No checkpoint of its own when there is room: the pump checkpoints while pacing, and
        in fast mode it may queue a burst before the sender runs.
        """
        if not self._life.open:
            return False
        item = self.append_item(pcm, bytes_per_ms)
        queue = self._sender_queue()
        try:
            queue.put_nowait(item)
        except trio.WouldBlock:
            try:
                await queue.put(item)
            except trio.ClosedResourceError:
                return False
        except trio.ClosedResourceError:
            return False
        return True

    def flush_soon(self) -> None:
        """Have the sender write what the WebSocket holds back (the end of a frame, a ping)."""
        queue = self._sender_queue()
        with contextlib.suppress(trio.WouldBlock, trio.ClosedResourceError):
            queue.put_nowait(_FLUSH)  # full: the sender is busy, and writes it with its next

    # --- the sender --------------------------------------------------------------------------

    def _sender_queue(self) -> Mailbox[Outgoing]:
        """The queue, made with the sender the first time (not ``self._queue or ...``: an
        empty mailbox is falsy, and a second sender would reorder what the first holds)."""
        queue = self._queue
        return queue if queue is not None else self._start_sender()

    def _start_sender(self) -> Mailbox[Outgoing]:
        """Make the queue and start the sender (about 3.5 KiB an idle session never needs).
        Made once the session is closing, the queue is closed at once, as it would have been;
        made while suspended, it waits for :meth:`attach` to get a sender."""
        queue = self._queue = Mailbox[Outgoing](self._size)
        if not self._life.open:
            queue.close()
            self._drained.set()
        elif not self._suspended:
            self._spawn_sender(queue)
        return queue

    def _spawn_sender(self, queue: Mailbox[Outgoing]) -> None:
        # The scope exists before the task runs, so a suspend before then cancels it too.
        scope = self._sender_scope = trio.CancelScope()
        self._spawn(self._sender, queue, self._ws, scope, name="trio_realtime.sender")

    def _written(self, event: ClientEvent | UnknownEvent, text: str, audio_ms: float) -> None:
        # Every event written to the socket passes here once, in order.
        self.events_sent += 1
        self.audio_ms_sent += audio_ms
        if self._conversation is not None:
            self._conversation.sent(event)
        if self._recorder is not None:
            self._recorder.record("client", event.type, text)

    async def _sender(
        self, queue: Mailbox[Outgoing], ws: ClientWebSocket, scope: trio.CancelScope
    ) -> None:
        send_message = ws.send_message
        written = self._written
        get, get_nowait = queue.get, queue.get_nowait
        try:
            with scope:  # cancelled by suspend(): the connection is being left
                await trio.lowlevel.checkpoint()  # cancelled before it ran: it takes nothing
                while True:
                    try:
                        item = get_nowait()  # a backlog is written without a checkpoint each
                    except trio.WouldBlock:
                        item = None
                    if item is None:  # parked outside the except: no WouldBlock kept alive
                        item = await get()
                    if item is _FLUSH:
                        await ws.flush()
                        continue
                    event, text, audio_ms = item
                    try:
                        await send_message(text)
                    except BaseException:
                        # Not written whole, so not processed: it goes to the next connection
                        # if the session moves to one (else the queue is dropped anyway).
                        queue.push_front([item])
                        raise
                    written(event, text, audio_ms)
        except trio.EndOfChannel:
            self._drained.set()  # closed for the close: everything queued has been written
        except WebSocketClosed:
            self._life.connection_closed(ws.closed, ws)  # the end, or a resume takes over
        finally:
            if self._sender_scope is scope:
                self._sender_scope = None
            if self._life.ending is not None:
                self._drained.set()

    # --- the end -----------------------------------------------------------------------------

    def close(self) -> bool:
        """No more sends; the sender writes what is queued, then stops (while suspended,
        once :meth:`attach` gives it a connection). False if there was never anything to
        write (no sender)."""
        queue = self._queue
        if queue is None:
            return False
        queue.close()
        if self._sender_scope is None and not len(queue):
            self._drained.set()  # no sender, nothing queued: nothing to wait for
        return True

    async def wait_sent(self) -> None:
        """Wait until the sender has written everything queued before :meth:`close`."""
        if self._queue is not None:
            await self._drained.wait()

    def ended(self) -> None:
        """The session ended: blocked sends wake up and raise; nothing more is queued."""
        if self._queue is not None:
            self._queue.close()
            if self._sender_scope is None:
                self._drained.set()

    # --- moving to another connection (a resumed session) ------------------------------------

    @property
    def suspended(self) -> bool:
        """Whether sends wait in the queue for a connection (:meth:`suspend` was called)."""
        return self._suspended

    def suspend(self) -> None:
        """Stop writing: the connection is gone, or being left. The sender stops at once (a
        frame it had not finished writing goes back to the front of the queue); sends from
        now on wait in the queue (the bounded buffer: a full one makes ``send`` wait) until
        :meth:`attach`."""
        self._suspended = True
        self._ws = _NO_CONNECTION
        scope, self._sender_scope = self._sender_scope, None
        if scope is not None:
            scope.cancel()

    def queued_ids(self) -> frozenset[str]:
        """The ``event_id`` of every event queued and not yet written."""
        queue = self._queue
        if queue is None:
            return frozenset()
        return frozenset(
            str(event_id)
            for event, _, _ in queue.items
            if (event_id := getattr(event, "event_id", None)) is not None
        )

    def attach(self, ws: ClientWebSocket, first: list[Outgoing]) -> None:
        """Write to ``ws`` from now on: ``first`` (events sent again), then what waited."""
        self._ws = ws
        self._suspended = False
        queue = self._queue
        if first:
            queue = queue if queue is not None else self._start_sender()
            queue.push_front(first)
        if queue is not None and self._sender_scope is None and self._life.ending is None:
            self._spawn_sender(queue)
        elif queue is None and not ws.writes_directly:
            self._start_sender()

    def record_written(self, event: ClientEvent | UnknownEvent, text: str) -> None:
        """Count an event written to the socket by someone else (a resume's replay)."""
        self._written(event, text, 0.0)


#: Queued after a direct write the socket took only part of: the sender writes the rest.
_FLUSH: Final[Outgoing] = (UnknownEvent(raw={"type": "trio_realtime.flush"}), "", 0.0)


class _NoConnection:
    """Where a suspended session's direct writes go: nowhere (they queue instead)."""

    writes_directly = False

    def try_send_now(self, message: str) -> bool:  # pragma: no cover - writes_directly is False
        return False


_NO_CONNECTION: Final = cast(ClientWebSocket, _NoConnection())
