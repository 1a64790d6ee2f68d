"""The parts of a session, made and wired together, and what happens at its end.

::

    RealtimeSession (the facade: the public API, no protocol logic)
      SessionParts   made here; the facade forwards to them
        Lifecycle      open / closing / ended, the ending, the last server error  (_lifecycle)
        Outbound       direct writes, the bounded queue and the sender task        (_outbound)
        Inbound        the receiver: decode, conversation, routes, stream          (_inbound)
        EventStream    the session's own stream, and when it holds the receiver    (_stream)
        Waiters        ``wait_for``                                                (_waiters)
        Replies        request and reply                                          (_requests)
        ResponseLayer  handles, the turn queue, tools, barge-in                    (_layer)
        AudioPumps     appends and pump tasks                                      (_audio)
        Watchdog       the keepalive and other deadlines, on their own clock       (_keepalive)
        Resumer        with ``resume=``: carries the session on over new connections (_resume)

Each part is given only what it uses: the response layer gets an outbox, a way to start
tasks and a wait gauge, never the session; the receiver gets the parts it feeds. Each can be
tested without a socket. The session's one nursery runs the receiver, the watchdog, the
sender once one is needed, audio pumps and tool calls, and the resumer.

The connection is the one thing a resumed session swaps: the transport, the receiver task
reading it (under a cancel scope of its own), the sender writing it and the heartbeat judging
it. Everything else (the queue, the stream, waiters, handles, the conversation) lives on.
"""

from __future__ import annotations

import logging
from typing import final

import trio

from .._core._conversation import Conversation
from .._core._recording import Recorder
from .._core._tools import tool_registry
from .._wire._connection import Transport
from ._audio import AudioPumps
from ._inbound import Inbound
from ._keepalive import Deadline, Heartbeat, ReceiverStalls, Watchdog
from ._layer import ResponseLayer
from ._lifecycle import Ending, Lifecycle, local_close, peer_gone
from ._options import BACKLOG_BYTES, BACKLOG_EVENTS, SessionOptions
from ._outbound import Outbound, Outgoing
from ._requests import Replies, Requester
from ._resume import Resumer
from ._stream import EventStream
from ._support import SentLog
from ._types import SessionStatistics
from ._waiters import Waiters

__all__ = ["SessionParts"]

logger = logging.getLogger("trio_realtime")


@final
class SessionParts:
    """Every part of one session, wired together (see the module docstring)."""

    __slots__ = (
        "_app_stalls",
        "_receiver_scope",
        "_retired_bytes",
        "conversation",
        "inbound",
        "layer",
        "life",
        "nursery",
        "options",
        "out",
        "pumps",
        "replies",
        "requester",
        "resumer",
        "stream",
        "transport",
        "waiters",
        "watchdog",
    )

    def __init__(
        self,
        transport: Transport,
        nursery: trio.Nursery,
        options: SessionOptions,
        recorder: Recorder | None,
    ) -> None:
        ws, spawn = transport.ws, nursery.start_soon
        self.transport = transport
        self.options = options
        resume = options.resume
        conversation = self.conversation = (
            Conversation(
                keep_audio_seconds=options.keep_audio_seconds,
                keep_input_audio_seconds=0.0 if resume is None else resume.input_audio_seconds,
            )
            if options.track_conversation
            else None
        )
        life = self.life = Lifecycle(transport.config.url, transport.config.api_key, self)
        app_stalls = self._app_stalls = ReceiverStalls()
        stream = self.stream = EventStream(
            options.inbound_queue_size, BACKLOG_EVENTS, BACKLOG_BYTES, app_stalls
        )
        replies = self.replies = Replies()
        self.waiters = Waiters(stream, life)
        out = self.out = Outbound(
            ws,
            spawn,
            life,
            replies,
            queue_size=options.outbound_queue_size,
            sent_log=SentLog(options.sent_log_events, options.sent_log_bytes),
            conversation=conversation,
            recorder=recorder,
            encode=transport.config.dialect.encode,
        )
        self.requester = Requester(out, replies, stream, life)
        heartbeat = None
        if options.keepalive is not None:
            heartbeat = Heartbeat(ws, options.keepalive, app_stalls, out)
        deadlines: list[Deadline] = []
        self.watchdog = Watchdog(heartbeat, deadlines, self)
        layer = self.layer = ResponseLayer(
            out,
            spawn,
            stream,
            life,
            self.watchdog,
            conversation,
            tools=tool_registry(options.tools),
            tool_timeout=options.tool_timeout,
            request_timeout=options.request_timeout,
            handle_interruptions=options.handle_interruptions is not False,
            max_queued_responses=options.max_queued_responses,
        )
        deadlines.append(layer)
        deadlines.append(stream)  # a socket lent to the stream's readers is checked
        stream.deadline_moved = self.watchdog.poke
        self.inbound = Inbound(
            ws,
            life,
            out,
            stream,
            self.waiters,
            replies,
            layer,
            conversation=conversation,
            recorder=recorder,
            decode=transport.config.dialect.decode_server_event,
        )
        self.pumps = AudioPumps(out, life, nursery)
        self.nursery = nursery
        self._receiver_scope = trio.CancelScope()
        self._retired_bytes = (0, 0)  # sent and received by connections left behind
        self.resumer = None
        if options.resume is not None and conversation is not None:
            self.resumer = Resumer(
                policy=options.resume,
                config=transport.config,
                connect_timeout=options.connect_timeout,
                close_timeout=options.close_timeout,
                host=self,
                life=life,
                out=out,
                layer=layer,
                replies=replies,
                stream=stream,
                waiters=self.waiters,
                conversation=conversation,
                recorder=recorder,
            )

    def start(self) -> None:
        """Start the receiver and the watchdog (``connect`` does, right after making them)."""
        self._start_receiver()
        self.nursery.start_soon(self.watchdog.run, name="trio_realtime.watchdog")

    def start_resumer(self) -> None:
        """With a resume policy, start carrying the session on over new connections
        (``connect`` does once the session is ready: a failure before then is its own)."""
        if self.resumer is not None:
            self.life.resumer = self.resumer
            self.nursery.start_soon(self.resumer.run, name="trio_realtime.resumer")

    def _start_receiver(self) -> None:
        scope = self._receiver_scope = trio.CancelScope()
        self.nursery.start_soon(self._receive, scope, name="trio_realtime.receiver")

    async def _receive(self, scope: trio.CancelScope) -> None:
        with scope:
            await self.inbound.run()

    # --- moving to another connection (the resumer calls) ------------------------------------

    def leave_connection(self) -> None:
        """Stop writing to the connection and judging it (what waits goes to the next)."""
        self.watchdog.set_heartbeat(None)
        self.out.suspend()
        self.stream.take_back()  # the receiver reads what the connection still says

    def stop_receiver(self) -> None:
        """Stop reading the connection being left."""
        self._receiver_scope.cancel()

    def take_over(self, transport: Transport, first: list[Outgoing]) -> None:
        """Use ``transport`` from now on (see :class:`~._resume.Host`)."""
        old = self.transport.ws
        sent, received = self._retired_bytes
        self._retired_bytes = (sent + old.bytes_sent, received + old.bytes_received)
        self.transport = transport
        ws = transport.ws
        self.out.attach(ws, first)
        self.inbound.attach(ws)
        self._start_receiver()
        if self.options.keepalive is not None:
            heartbeat = Heartbeat(ws, self.options.keepalive, self._app_stalls, self.out)
            self.watchdog.set_heartbeat(heartbeat)

    def statistics(self) -> SessionStatistics:
        """A snapshot of every part's counters."""
        out, stream, ws, layer = self.out, self.stream, self.transport.ws, self.layer
        return SessionStatistics(
            outbound_buffer_used=out.queued,
            outbound_max_buffer_size=self.options.outbound_queue_size,
            inbound_buffer_used=len(stream),
            inbound_max_buffer_size=self.options.inbound_queue_size,
            inbound_skipped=stream.skipped,
            inbound_dropped=stream.dropped,
            events_sent=out.events_sent,
            events_received=self.life.events_received,
            bytes_sent=self._retired_bytes[0] + ws.bytes_sent,
            bytes_received=self._retired_bytes[1] + ws.bytes_received,
            audio_ms_sent=out.audio_ms_sent,
            decode_failures=self.inbound.decode_failures,
            receiver_stalls=stream.stalls.count,
            waiters=len(self.waiters.pending),
            replies_pending=self.replies.pending,
            audio_streams=self.pumps.running,
            queued_responses=len(layer.queue.waiting),
            response_handles=layer.live_handles,
            tool_calls_running=layer.tool_calls_running,
            errors_handled=layer.errors_handled,
            resumes=0 if self.resumer is None else self.resumer.resumes,
        )

    def session_ended(self, ending: Ending) -> None:
        """The lifecycle tells: tell every part the session is over."""
        self.stream.close()  # readers get the buffered events, then the ending
        self.out.ended()  # blocked senders wake up
        self.waiters.fail_all(ending.error)
        self.replies.fail_all(ending.error)
        self.layer.terminate(ending.error, ending.ends_iteration)
        self.pumps.stop_all(None if ending.ends_iteration else ending.error)

    async def peer_gone(self, message: str) -> None:
        """The keepalive's verdict: end the session with 1006 and close the socket (or,
        with a resume policy, leave the connection for a new one)."""
        life = self.life
        if life.open:
            logger.debug("%s: %s", self.transport.config.url, message)
            resumer = life.resumer
            if resumer is not None and resumer.lost(
                self.transport.ws, 1006, f"keepalive: {message}", None
            ):
                return  # the resumer closes the socket
            life.end(peer_gone(message))
        await self.transport.abort()

    async def aclose(self) -> None:
        """Close: stop the pumps, write what is queued, close with 1000 (see
        :meth:`RealtimeSession.aclose`)."""
        life = self.life
        if life.closing:
            await life.closed.wait()
            return
        life.closing = True
        try:
            self.stream.stop_holding()  # the close handshake needs the receiver
            self.pumps.stop_all()
            self.layer.close()  # the library queues nothing more of its own
            self.out.close()  # the sender writes what is queued, then stops
            with trio.move_on_after(self.options.close_timeout) as scope:
                await self.out.wait_sent()
                if life.ending is None:
                    await self.transport.ws.aclose(1000)
            if scope.cancelled_caught:
                logger.debug("%s: close timed out; closing the socket", self.transport.config.url)
                await self.transport.abort()
        except BaseException:
            await self.transport.abort()
            raise
        finally:
            life.end(local_close())
            life.closed.set()

    def release(self) -> None:
        """The block is over: drop unread events; from now on ``receive`` raises."""
        self.stream.release()

    def raise_unreported_failure(self) -> None:
        """Raise the ending's error if the session failed and nobody was told."""
        ending = self.life.ending
        if ending is not None and not ending.ends_iteration and not ending.reported:
            raise ending.error()
