"""The session's outbound path: direct writes, the outbound channel and the sender task.

::

    send(event) --> written from the caller's task   (plain ws://, nothing queued, sender idle)
                --> outbound channel (bounded) --> sender --> WebSocket      (otherwise)

A send on a plain socket is written from the caller's task when nothing is queued and the
sender is idle: one task switch fewer per event. The channel and the sender task are made by
the first event that must wait (the socket could not take it at once, or TLS, where every send
is queued); an idle session never needs them. Order is kept either way: an event is written
directly only when nothing is queued or being written.
"""

from __future__ import annotations

import contextlib
from typing import Final, TypeVar

import trio

from .._core._audio_format import AudioFormat
from .._core._conversation import Conversation
from .._core._events import ClientEvent, UnknownEvent
from .._core._events._client import InputAudioBufferAppend
from .._core._recording import Recorder
from .._wire._flag import Flag
from .._wire._websocket import ClientWebSocket, WebSocketClosed
from ._support import Ending, Outgoing, SentLog, SessionOptions, prepare_outgoing

__all__ = ["SendingMethods"]

_C = TypeVar("_C", bound=ClientEvent | UnknownEvent)


class SendingMethods:
    """Sending; :class:`~trio_realtime.RealtimeSession` provides the state.

    No ``__slots__ = ()`` as the other mixins have: these methods assign the session's
    attributes (the channel once made, the counters), and the session keeps a ``__dict__``.
    """

    _ws: ClientWebSocket
    _nursery: trio.Nursery
    _options: SessionOptions
    _out_send: trio.MemorySendChannel[Outgoing] | None
    _out_recv: trio.MemoryReceiveChannel[Outgoing] | None
    _sender_done: Flag
    _closing: bool
    _ending: Ending | None
    _conversation: Conversation | None
    _recorder: Recorder | None
    _sent_log: SentLog
    _input_format: AudioFormat
    _events_sent: int
    _audio_ms_sent: float

    def _next_id(self) -> str:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    def _raise_closed(self) -> None:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    def _on_websocket_closed(self) -> None:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    def _outbound(self) -> trio.MemorySendChannel[Outgoing]:
        """The outbound channel; the first call makes it and starts the sender task.

        An idle session on a plain socket never needs either (its sends are written directly),
        and they cost about 3.5 KiB together. Made once the session is closing, the channel is
        closed at once: sending on it raises ``trio.ClosedResourceError``, as it would have.
        """
        send = self._out_send
        if send is None:
            send, receive = trio.open_memory_channel[Outgoing](self._options.outbound_queue_size)
            self._out_send, self._out_recv = send, receive
            if self._closing or self._ending is not None:
                send.close()
            else:
                self._nursery.start_soon(self._sender, receive, name="trio_realtime.sender")
        return send

    def _try_direct(self, item: Outgoing) -> bool:
        """Write ``item`` from the caller's task if the sender is idle with nothing queued.

        One task switch fewer per event (an append every 100 ms per session adds up); order
        is kept because nothing is queued or being written. Over TLS, or while the sender is
        busy, everything goes through the outbound channel as usual.
        """
        ws = self._ws
        if not ws.writes_directly:
            return False
        outbound = self._out_send
        if outbound is not None:
            queue = outbound.statistics()
            if queue.current_buffer_used or not queue.tasks_waiting_receive:
                return False  # something is queued, or the sender holds an unwritten item
        if not ws.try_send_now(item[1]):
            return False
        self._written(item[0], item[1], item[2])
        if ws.has_unsent:  # the socket took part of the frame: the sender writes the rest
            with contextlib.suppress(trio.WouldBlock):
                self._outbound().send_nowait(_FLUSH)
        return True

    def _written(self, event: ClientEvent | UnknownEvent, text: str, audio_ms: float) -> None:
        # Every event written to the socket passes here once, in order.
        self._events_sent += 1
        self._audio_ms_sent += audio_ms
        if self._conversation is not None:
            self._conversation.sent(event)
        if self._recorder is not None:
            self._recorder.record("client", event.type, text)

    async def _put(self, item: Outgoing) -> None:
        if self._try_direct(item):
            # Checkpoints as a channel send does: a cancel point before, a schedule point after.
            await trio.lowlevel.checkpoint_if_cancelled()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        outbound = self._outbound()
        try:
            await outbound.send(item)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self._raise_closed()
            raise  # pragma: no cover - closed channels imply closing or ended

    async def send(self, event: _C) -> _C:
        """Queue a client event for sending; wait while the outbound channel is full.

        An event without an ``event_id`` (left :data:`~trio_realtime.UNSET`) gets one, unique
        in this session (``evt_`` + a random session prefix + a counter); ``None`` is kept and
        sent as ``null``. The server echoes the id in ``error.event_id`` when it refuses the
        event, and :meth:`cause_of` maps such an error back to the event.

        Args:
            event: Any client event, or an :class:`~trio_realtime.UnknownEvent` to send a type
                this library does not model.

        Returns:
            The event as queued, with its ``event_id``.

        Raises:
            TypeError: ``event`` is not a client event, or cannot be encoded.
            ValueError: An audio append larger than the 15 MiB limit (use :meth:`append_audio`,
                which splits).
            ConnectionClosed: The connection has ended (also after a normal close by the server).
            trio.ClosedResourceError: The session was closed by this side.
        """
        self._raise_closed()
        sent, text, audio_ms = prepare_outgoing(event, self._next_id, self._input_format)
        if type(sent) is not InputAudioBufferAppend and isinstance(sent.event_id, str):
            self._sent_log.add(sent.event_id, sent, len(text))
        await self._put((sent, text, audio_ms))
        return sent  # type: ignore[return-value]  # same class as event (attrs.evolve)

    async def _send_quietly(self, event: ClientEvent) -> bool:
        """The library's own sends (control task, tool calls): False once the session can
        take no more, without reporting the ending (that is the application's to see)."""
        if self._ending is not None or self._closing:
            return False
        sent, text, audio_ms = prepare_outgoing(event, self._next_id, self._input_format)
        if isinstance(sent.event_id, str):
            self._sent_log.add(sent.event_id, sent, len(text))
        outbound = self._outbound()
        try:
            await outbound.send((sent, text, audio_ms))
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    async def _sender(self, outbound: trio.MemoryReceiveChannel[Outgoing]) -> None:
        ws = self._ws
        send_message = ws.send_message
        written = self._written
        receive = outbound.receive
        receive_nowait = outbound.receive_nowait
        try:
            while True:
                try:
                    item = receive_nowait()  # a backlog is written without a checkpoint each
                except trio.WouldBlock:
                    item = None
                if item is None:  # parked outside the except: no WouldBlock kept alive
                    item = await receive()
                if item is _FLUSH:
                    await ws.flush()
                    continue
                event, text, audio_ms = item
                await send_message(text)
                written(event, text, audio_ms)
        except trio.EndOfChannel:
            pass  # aclose() closed the channel and everything queued has been written
        except WebSocketClosed:
            self._on_websocket_closed()
        except trio.ClosedResourceError:
            pass  # _terminate closed the channel: the session ended
        finally:
            self._sender_done.set()


#: Queued after a direct write the socket took only part of: the sender writes the rest.
_FLUSH: Final[Outgoing] = (UnknownEvent(raw={"type": "trio_realtime.flush"}), "", 0.0)
