"""One client connection of the reference server: handshake, auth, and the session's tasks.

The protocol lives in :class:`~._state.ConnectionState`; this module only moves frames and
events between it and the WebSocket (:mod:`._upgrade` reads the upgrade request,
:class:`~._websocket.ServerWebSocket` the frames). Per accepted connection:

* the **receiver** task reads the socket, answers pings and close frames, and puts each
  message into a bounded inbound channel; it runs from the upgrade to the end of the
  connection, so a close the server starts is always answered, session or not;
* the **timer** task owns the state: it applies each inbound frame, and between frames sleeps
  until ``state.next_deadline()`` and calls ``state.advance(now)``. Having one owner keeps the
  events of a frame and of a deadline in the order the state produced them, with no lock;
* the **sender** task drains a bounded outbound channel onto the socket, and performs the
  close the state asks for (its events first, then the close frame);
* the **keepalive** task pings every ``ping_interval`` seconds.

Every hop is bounded: a client that stops reading stops the sender, which fills the outbound
channel, which stops the timer and the receiver, which stops reading the socket. If the sender
makes no progress for ``stuck_client_timeout`` seconds (see :mod:`._stream`) the connection is
dropped, without slowing any other connection.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Final, final, overload

import attrs
import trio

from .._core._codec import encode
from .._core._dialects import dialect_named
from .._core._events import ErrorDetails, ErrorEvent, ServerEvent
from .._wire._frames import FrameError
from .._wire._websocket import WebSocketClosed
from ._connection_info import ConnectionInfo, ConnectionSettings
from ._engine_worker import EngineWorker
from ._handshake import (
    REALTIME_PATH,
    not_found_body,
    read_handshake,
    select_subprotocol,
)
from ._ids import IdFactory
from ._state import ConnectionState
from ._stream import GuardedStream
from ._upgrade import (
    BadUpgrade,
    Upgrade,
    UpgradeReader,
    accept_response,
    error_body,
    error_response,
)
from ._websocket import ServerWebSocket

__all__ = [
    "BETA_REQUIRED_CLOSE_CODE",
    "KEEPALIVE_CLOSE_CODE",
    "SERVER_ERROR_CLOSE_CODE",
    "SHUTDOWN_CLOSE_CODE",
    "STUCK_CLIENT_CLOSE_CODE",
    "serve_connection",
]

_log = logging.getLogger("trio_realtime.server")

STUCK_CLIENT_CLOSE_CODE: Final = 1008
"""Recorded when a client stopped reading. Never reaches that client: half a frame is stuck in
its buffers, so it sees the TCP connection end without a close frame (1006)."""
KEEPALIVE_CLOSE_CODE: Final = 1011
"""A ping went unanswered for ``ping_timeout`` seconds."""
SERVER_ERROR_CLOSE_CODE: Final = 1011
"""The server failed (a bug): the connection ends, the server keeps serving others."""
SHUTDOWN_CLOSE_CODE: Final = 1001
"""The server is shutting down ("going away")."""
BETA_REQUIRED_CLOSE_CODE: Final = 4000
"""A beta-only server refused a connection without the beta marker; a GA-only one refused a
connection with it (``beta_api_shape_disabled``, as OpenAI's endpoint does)."""

_INBOUND_QUEUE: Final = 16
_OUTBOUND_QUEUE: Final = 64
_RECEIVE_BUFFER: Final = 64 * 1024
#: After answering a protocol error (1002, 1007, 1009, or an HTTP error with input unread),
#: input is drained until the client has been quiet this long.
_LINGER_QUIET: Final = 0.2
#: Closing on shutdown, after a failure or a keepalive timeout waits this long at most for
#: the client's answer (or ``close_timeout``, if shorter).
_SHUTDOWN_CLOSE_TIMEOUT: Final = 1.0
_BAD_UPGRADE_BODY: Final = "Bad WebSocket upgrade request: {reason}."
_BETA_REQUIRED_MESSAGE: Final = (
    "This server speaks only the Realtime beta protocol: send the header "
    "'OpenAI-Beta: realtime=v1' or the subprotocol 'openai-beta.realtime-v1'."
)
#: OpenAI's words, verbatim (server-behaviour.md 6.2).
_BETA_DISABLED_MESSAGE: Final = (
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
)
#: How a server refuses the dialect it does not speak: error code and message.
_DIALECT_REFUSALS: Final = {
    "beta": ("beta_api_shape_disabled", _BETA_DISABLED_MESSAGE),
    "ga": ("missing_beta_header", _BETA_REQUIRED_MESSAGE),
}
_PEER_GONE: Final = (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError)


@attrs.frozen
class _Close:
    """Outbound marker: close with this code and reason once the events before it are sent
    (at once, without waiting for an answer, when it answers the client's ``violation``)."""

    code: int
    reason: str
    violation: FrameError | None = None


#: What the receiver hands the session: a message, or the client's protocol violation (the
#: session answers what came before it, then the connection fails with its close code).
_Inbound = str | bytes | FrameError


#: Ends one connection on demand: ``end(code, reason, drop)`` (see :meth:`_Shell.end`).
EndConnection = Callable[[int, str, bool], None]


async def serve_connection(
    tcp: trio.abc.Stream,
    info: ConnectionInfo,
    settings: ConnectionSettings,
    report_bug: Callable[[Exception], None],
    live: dict[int, EndConnection] | None = None,
) -> None:
    """Serve one accepted TCP connection until it ends. Never raises but for cancellation.

    The peer going away ends the connection quietly. Any other exception is a bug: it is
    logged, the client gets a 1011 close, and ``report_bug`` is called with it before the
    connection counts as ended, so one bad connection never takes the server down.

    Cancellation (the server shutting down) is graceful: the client gets a 1001 close frame
    and up to a second to answer it. That needs the receiver task, which reads the answer, to
    outlive the cancellation, so the connection runs in a shielded scope and a watcher
    outside it turns the cancellation into :meth:`_Shell.shut_down`. While it runs, ``live``
    (if given) maps its id to a way to end it on demand (tests: a restart, a dropped route).
    """
    stream = GuardedStream(tcp, stall_timeout=settings.stuck_client_timeout)
    shell = _Shell(stream, info, settings)
    if live is not None:
        live[info.id] = shell.end
    try:
        async with trio.open_nursery() as watcher:
            watcher.start_soon(_shut_down_when_cancelled, shell)
            with trio.CancelScope(shield=True):
                async with trio.open_nursery() as transport:
                    try:
                        await shell.run(transport)
                    finally:
                        transport.cancel_scope.cancel()  # the receiver task
            watcher.cancel_scope.cancel()
    except* _PEER_GONE:
        _log.debug("connection %d: peer went away", info.id)
    except* Exception as bugs:
        for bug in _leaves(bugs):
            report_bug(bug)
    finally:
        if live is not None:
            live.pop(info.id, None)
        with trio.CancelScope(shield=True):
            if shell.linger and not info.dropped and not stream.torn:
                await _linger(stream, settings.close_timeout)
            await stream.aclose()
        info._finish(settings.keep_finished_state)
        _log.info(
            "connection %d ended: code=%s reason=%r%s",
            info.id,
            info.close_code,
            info.close_reason,
            " (dropped)" if info.dropped else "",
        )


async def _shut_down_when_cancelled(shell: _Shell) -> None:
    try:
        await trio.sleep_forever()
    finally:
        shell.shut_down()


@final
class _Shell:
    """The tasks and decisions of one connection (see the module docstring)."""

    def __init__(
        self, stream: GuardedStream, info: ConnectionInfo, settings: ConnectionSettings
    ) -> None:
        self._stream = stream
        self._info = info
        self._settings = settings
        self._transport: trio.Nursery | None = None
        self._ws: ServerWebSocket | None = None
        #: Whether the client's unread input should be drained before the stream closes.
        self.linger = False
        # Cancelled to end the connection early: shutdown, or a keepalive timeout.
        self._scope = trio.CancelScope()
        self._pending_close: _Close | None = None
        self._drop = False
        self._done = False

    def shut_down(self) -> None:
        """End the connection soon with a 1001 close (no-op once it has ended)."""
        self.end(SHUTDOWN_CLOSE_CODE, "server shutting down", False)

    def end(self, code: int, reason: str, drop: bool) -> None:
        """End the connection soon: a close frame with ``code`` and ``reason``, or with
        ``drop`` the TCP connection ends without one (what is queued is not sent). No-op
        once it is ending."""
        if not self._done and self._pending_close is None:
            self._pending_close = _Close(code, reason)
            self._drop = drop
            self._scope.cancel()

    async def run(self, transport: trio.Nursery) -> None:
        """Serve the connection; ``transport`` hosts the receiver task."""
        self._transport = transport
        try:
            with self._scope:
                await self._run()
            if self._pending_close is not None:
                await self._close_now(self._pending_close, grace=_SHUTDOWN_CLOSE_TIMEOUT)
        except BaseException as exc:
            if _is_bug(exc):
                _log.exception("connection %d: internal error", self._info.id)
                with trio.CancelScope(shield=True):
                    close = _Close(SERVER_ERROR_CLOSE_CODE, "internal server error")
                    await self._close_now(close, grace=_SHUTDOWN_CLOSE_TIMEOUT)
            raise
        finally:
            self._done = True
            if self._stream.stalled:
                _log.warning(
                    "connection %d: client stopped reading for %g s; dropped",
                    self._info.id,
                    self._settings.stuck_client_timeout,
                )
                self._info._record_close(
                    STUCK_CLIENT_CLOSE_CODE, "client stopped reading", dropped=True
                )
            if self._ws is not None and self._ws.closed is not None:
                self._info._record_close(self._ws.closed.code, self._ws.closed.reason)
                self.linger = self.linger or self._ws.failed

    async def _run(self) -> None:
        settings, info = self._settings, self._info
        upgrade = await self._receive_upgrade()
        if upgrade is None:
            return
        handshake, credential = read_handshake(
            upgrade.target, upgrade.headers, upgrade.subprotocols
        )
        info.handshake = handshake
        if handshake.path != REALTIME_PATH:
            info.http_status = 404
            _log.info("connection %d: 404 for path %r", info.id, handshake.path)
            self.linger = bool(upgrade.rest)
            await self._stream.send_all(error_response(404, not_found_body(handshake.path)))
            return
        info.subprotocol = select_subprotocol(upgrade.subprotocols)
        await self._stream.send_all(accept_response(upgrade.key, info.subprotocol))
        self._ws = ws = ServerWebSocket(
            self._stream,
            max_message_size=settings.max_message_size,
            receive_buffer_size=_RECEIVE_BUFFER,
            early=upgrade.rest,
        )
        info.http_status = 101
        info.credential_source = credential.source if credential else None
        _log.info(
            "connection %d from %s: model=%r intent=%r beta marker=%s",
            info.id,
            info.remote,
            handshake.model,
            handshake.intent,
            handshake.beta,
        )
        inbound_send, inbound_receive = trio.open_memory_channel[_Inbound](_INBOUND_QUEUE)
        assert self._transport is not None
        self._transport.start_soon(self._receiver, ws, inbound_send)
        with inbound_receive:
            ids = IdFactory()
            failure = settings.api_keys.check(credential)
            if failure is not None:
                _log.info("connection %d: refused, %s", info.id, failure.close_reason)
                inbound_receive.close()  # the receiver drops what comes, answers the close
                await self._refuse(ids, failure.code, failure.message, failure.close_code)
                return
            info.authenticated = True
            info.dialect = asked = "beta" if handshake.beta else "ga"
            if asked not in settings.dialects:
                _log.info("connection %d: refused, the %s dialect is not served", info.id, asked)
                inbound_receive.close()
                code, message = _DIALECT_REFUSALS[asked]
                await self._refuse(ids, code, message, BETA_REQUIRED_CLOSE_CODE)
                return
            state = ConnectionState(
                intent=handshake.intent,
                model=handshake.model,
                now=trio.current_time(),
                engine=settings.engine,
                options=settings.options,
                ids=ids,
                dialect=dialect_named(asked),
            )
            info.state = state
            await self._run_session(state, inbound_receive)

    async def _receive_upgrade(self) -> Upgrade | None:
        """The upgrade request; ``None`` if it never came, or was answered with an error.

        A request that is not a valid upgrade gets its HTTP error here, with a short reason
        that names no header value; nothing of it is kept.
        """
        reader = UpgradeReader()
        with trio.move_on_after(self._settings.handshake_timeout):
            while True:
                try:
                    data = await self._stream.receive_some(_RECEIVE_BUFFER)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return None
                try:
                    upgrade = reader.feed(bytes(data))
                except BadUpgrade as bad:
                    self._info.http_status = bad.status
                    _log.info("connection %d: HTTP %d, %s", self._info.id, bad.status, bad.reason)
                    self.linger = reader.unread
                    body = _BAD_UPGRADE_BODY.format(reason=bad.reason)
                    await self._stream.send_all(
                        error_response(bad.status, error_body(body), bad.headers)
                    )
                    return None
                if upgrade is not None or not data:
                    return upgrade
        _log.debug("connection %d: no upgrade request in time", self._info.id)
        return None

    async def _refuse(self, ids: IdFactory, code: str | None, message: str, close: int) -> None:
        """Send one fatal ``error`` (no client event caused it) and close."""
        assert self._ws is not None
        error = ErrorDetails(
            type="invalid_request_error", code=code, message=message, param=None, event_id=None
        )
        await self._ws.send_message(encode(ErrorEvent(event_id=ids.new("event"), error=error)))
        self._info.events_sent += 1
        reason = f"invalid_request_error.{code}" if code else "invalid_request_error"
        await self._close_now(_Close(close, reason))

    async def _run_session(
        self, state: ConnectionState, inbound: trio.MemoryReceiveChannel[_Inbound]
    ) -> None:
        assert self._ws is not None
        outbound_send, outbound_receive = trio.open_memory_channel[ServerEvent | _Close](
            _OUTBOUND_QUEUE
        )
        async with trio.open_nursery() as nursery:
            # Deferred engine work (real speech) runs in this nursery, started on demand.
            worker = EngineWorker(state.engine_work, nursery, f"connection {self._info.id}")
            nursery.start_soon(self._timer, state, inbound, outbound_send, worker)
            nursery.start_soon(
                self._sender, self._ws, outbound_receive, nursery.cancel_scope, state.dialect.encode
            )
            if self._settings.ping_interval is not None:
                nursery.start_soon(self._keepalive, self._ws)

    async def _receiver(
        self, ws: ServerWebSocket, inbound: trio.MemorySendChannel[_Inbound]
    ) -> None:
        """Read until the connection ends; hand each message to the session while it runs."""
        session_over = False
        with inbound:
            while True:
                try:
                    messages = await ws.receive_messages()
                except WebSocketClosed:
                    return  # the timer sees the end of the channel
                except FrameError as violation:
                    _log.info(
                        "connection %d: client broke the protocol (%s), closing with %d",
                        self._info.id,
                        violation.reason,
                        violation.code,
                    )
                    if not session_over:
                        try:  # after the answers to what came before it
                            await inbound.send(violation)
                            return
                        except trio.BrokenResourceError:
                            pass
                    await self._fail_now(ws, violation)
                    return
                self._info.frames_received += len(messages)
                if session_over:
                    continue
                for message in messages:
                    try:
                        await inbound.send(message)
                    except trio.BrokenResourceError:
                        # The session is over (the state asked for a close, or there never
                        # was one). Messages are dropped from now on, but reading goes on,
                        # so the client's answer to the close frame is seen.
                        session_over = True
                        break

    async def _timer(
        self,
        state: ConnectionState,
        inbound: trio.MemoryReceiveChannel[_Inbound],
        outbound: trio.MemorySendChannel[ServerEvent | _Close],
        worker: EngineWorker,
    ) -> None:
        # Channels close synchronously here: an async close checkpoints, and a cancellation
        # arriving there would replace an exception on its way out of this task.
        with inbound, outbound:
            events = state.open()
            while True:
                try:
                    for event in events:
                        await outbound.send(event)
                    if state.close is not None:
                        await outbound.send(_Close(*state.close))
                        return
                except trio.BrokenResourceError:
                    return  # the sender stopped: the client is gone
                next_events = await _next_events(state, inbound, worker)
                if next_events is None:
                    return  # the client is gone: nothing more to say
                if isinstance(next_events, FrameError):
                    with contextlib.suppress(trio.BrokenResourceError):
                        violation = next_events
                        await outbound.send(_Close(violation.code, violation.reason, violation))
                    return
                events = next_events

    async def _sender(
        self,
        ws: ServerWebSocket,
        outbound: trio.MemoryReceiveChannel[ServerEvent | _Close],
        session: trio.CancelScope,
        encode: Callable[[ServerEvent], str] = encode,
    ) -> None:
        try:
            with outbound:
                async for item in outbound:
                    if isinstance(item, _Close):
                        if item.violation is not None:
                            await self._fail_now(ws, item.violation)
                        else:
                            await self._close_now(item)
                        return
                    await ws.send_message(encode(item))
                    self._info.events_sent += 1
        except WebSocketClosed:
            pass  # the client left, or its socket broke: either way the session is over
        finally:
            session.cancel()

    async def _keepalive(self, ws: ServerWebSocket) -> None:
        assert self._settings.ping_interval is not None
        count = 0
        while True:
            await trio.sleep(self._settings.ping_interval)
            count += 1
            with trio.move_on_after(self._settings.ping_timeout) as ping_scope:
                try:
                    await ws.ping(b"trio-realtime-%d" % count)
                except WebSocketClosed:
                    return
            if ping_scope.cancelled_caught:
                _log.info("connection %d: ping unanswered, closing", self._info.id)
                self._pending_close = _Close(KEEPALIVE_CLOSE_CODE, "keepalive ping timeout")
                self._scope.cancel()
                return

    async def _fail_now(self, ws: ServerWebSocket, violation: FrameError) -> None:
        """Answer the client's protocol violation with its close code (or drop TCP, in that
        mode); no answer is waited for."""
        if self._settings.drop_tcp or self._stream.torn:
            self._info._record_close(violation.code, violation.reason, dropped=True)
            await self._stream.aclose()
            return
        self._info._record_close(violation.code, violation.reason)
        await ws.fail(violation)

    async def _close_now(self, close: _Close, *, grace: float | None = None) -> None:
        """Close the WebSocket with ``close`` if it is still open (or drop TCP, in that mode).

        Bounded by ``close_timeout``: a client that does not answer the close frame is cut off.
        """
        ws = self._ws
        if ws is None or ws.closed is not None:
            return
        if self._settings.drop_tcp or self._stream.torn or self._drop:
            self._info._record_close(close.code, close.reason, dropped=True)
            await self._stream.aclose()
            return
        self._info._record_close(close.code, close.reason)
        limit = self._settings.close_timeout
        with trio.move_on_after(limit if grace is None else min(limit, grace)):
            await ws.aclose(close.code, close.reason)


async def _next_events(
    state: ConnectionState,
    inbound: trio.MemoryReceiveChannel[_Inbound],
    worker: EngineWorker,
) -> list[ServerEvent] | FrameError | None:
    """Apply inbound frames until some produce events or the state's next deadline comes.

    Returns the events to send (those of a frame, or those the deadline released, which may
    be none), the client's protocol violation once the frames before it are applied, or
    ``None`` once the client is gone. Most frames (appends) produce nothing, so
    frames are applied in a loop inside one deadline scope, moved when the state's deadline
    moves: a frame costs no cancel scope of its own. The engine worker ends the wait early
    when an engine result is ready; while the engine is saturated no frame is read (the
    client is pushed back through TCP) until it catches up.
    """
    deadline = state.next_deadline()
    with trio.move_on_at(math.inf if deadline is None else deadline) as wait:
        worker.interruptible(wait, paused=state.engine_work.saturated)
        try:
            if state.engine_work.saturated:
                await trio.sleep_forever()
            return await _apply_frames(state, inbound, wait)
        finally:
            worker.interruptible(None)
    return state.advance(trio.current_time())


async def _apply_frames(
    state: ConnectionState,
    inbound: trio.MemoryReceiveChannel[_Inbound],
    wait: trio.CancelScope,
) -> list[ServerEvent] | FrameError | None:
    while True:
        try:
            message = await inbound.receive()
        except trio.EndOfChannel:
            return None
        now = trio.current_time()
        if isinstance(message, str):
            events = state.receive_text(message, now)
        elif isinstance(message, bytes):
            events = state.receive_binary(message, now)
        else:
            return message
        if events or state.close is not None or state.engine_work.saturated:
            return events
        deadline = state.next_deadline()
        wait.deadline = math.inf if deadline is None else deadline


async def _linger(stream: GuardedStream, limit: float) -> None:
    """Read and discard until the client is quiet, so closing does not reset the connection.

    After a 1009 the client is usually still sending the oversize frame (after a 1002 or an
    HTTP error, whatever followed the bad bytes). Closing a socket with unread input sends a
    TCP reset, which can destroy the close frame (or the HTTP answer) in the client's
    buffers before it reads it; draining first lets the client see why it was cut off.
    """
    with trio.move_on_after(limit):
        while True:
            with trio.move_on_after(_LINGER_QUIET) as quiet:
                try:
                    data = await stream.receive_some(_RECEIVE_BUFFER)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
            if quiet.cancelled_caught or not data:
                return


@overload
def _leaves(exc: Exception) -> list[Exception]: ...
@overload
def _leaves(exc: BaseException) -> list[BaseException]: ...
def _leaves(exc: BaseException) -> list[BaseException] | list[Exception]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _is_bug(exc: BaseException) -> bool:
    """Whether ``exc`` holds an exception other than cancellation or the peer going away."""
    return any(
        isinstance(leaf, Exception) and not isinstance(leaf, _PEER_GONE) for leaf in _leaves(exc)
    )
