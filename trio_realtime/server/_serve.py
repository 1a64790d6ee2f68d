"""``serve()``: the reference server's listener, and the handle it reports when listening."""

from __future__ import annotations

import collections
import itertools
import logging
from collections.abc import Callable, Iterable
from typing import Final, NoReturn, final
from urllib.parse import urlencode

import trio
from trio.testing import memory_stream_pair

from ._auth import ApiKeys
from ._connection import EndConnection, serve_connection
from ._connection_info import ConnectionInfo, ConnectionSettings
from ._engine import SimulatedEngine
from ._engine_api import Engine
from ._handshake import REALTIME_PATH
from ._state import ServerOptions

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "ServerHandle", "serve"]

_log = logging.getLogger("trio_realtime.server")

DEFAULT_MAX_MESSAGE_SIZE: Final = 32 * 1024 * 1024
"""Largest message accepted, in bytes: a maximal append (15 MiB of audio, about 20 MiB of
base64) fits with room to spare. Larger messages close the connection with 1009."""
#: Connections a handle remembers; a long-running server must not grow forever (finished
#: ones are summaries of a few KiB, see ConnectionInfo).
_HISTORY: Final = 1024
#: Server bugs a handle keeps (each holds its traceback, and what that refers to).
_ERRORS_KEPT: Final = 64


@final
class ServerHandle:
    """A running server, as reported by :func:`serve` once it listens.

    Made by :func:`serve`; not constructible. It remembers the last 1024 connections: a
    finished one as a bounded summary (its full protocol state only with
    ``keep_finished_state``), and the last 64 server bugs.

    Attributes:
        host: The host the server was asked to bind.
        port: The port it listens on (the real one when ``0`` was asked for).
    """

    host: str
    port: int
    _ids: itertools.count[int]
    _connections: collections.deque[ConnectionInfo]
    _errors: collections.deque[Exception]
    _live: dict[int, EndConnection]
    _serve_memory: Callable[[trio.abc.Stream], None] | None

    def __init__(self) -> None:
        raise TypeError("ServerHandle is made by serve(), not constructed")

    @classmethod
    def _create(cls, host: str, port: int) -> ServerHandle:
        self = object.__new__(cls)
        self.host = host
        self.port = port
        self._ids = itertools.count(1)
        self._connections = collections.deque(maxlen=_HISTORY)
        self._errors = collections.deque(maxlen=_ERRORS_KEPT)
        self._live = {}
        self._serve_memory = None
        return self

    def __repr__(self) -> str:
        return f"<ServerHandle {self.url}>"

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/v1/realtime``, ready for ``?model=...`` (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{REALTIME_PATH}"

    def url_for(self, *, model: str | None = None, intent: str | None = None) -> str:
        """:attr:`url` with a query: ``url_for(model="gpt-realtime")`` or
        ``url_for(intent="transcription")``."""
        query = urlencode(
            [(k, v) for k, v in (("model", model), ("intent", intent)) if v is not None]
        )
        return f"{self.url}?{query}" if query else self.url

    @property
    def connections(self) -> tuple[ConnectionInfo, ...]:
        """The connections seen so far, oldest first (the last 1024)."""
        return tuple(self._connections)

    @property
    def active(self) -> int:
        """How many connections are being served right now."""
        return sum(not c.ended for c in self._connections)

    @property
    def errors(self) -> tuple[Exception, ...]:
        """Unexpected exceptions (server bugs) that ended a connection, oldest first (the
        last 64).

        Each was logged, and its connection closed with 1011; the server kept serving.
        Nothing a client sends is a bug: bad input is answered (an ``error`` event, a close
        code, an HTTP error) and never lands here.
        """
        return tuple(self._errors)

    async def open_memory_stream(self) -> trio.abc.Stream:
        """A new connection to this server over an in-memory stream instead of TCP.

        For ``connect(url=handle.url, open_stream=handle.open_memory_stream)`` in tests that
        run on a mock clock: no socket is involved, so ``trio.testing.MockClock(autojump_
        threshold=0)`` can skip a 30-minute session limit in milliseconds. The connection is
        served like any other (it is in :attr:`connections`, with remote ``"memory"``).

        Raises:
            RuntimeError: The server is not running.
        """
        if self._serve_memory is None:
            raise RuntimeError("the server is not running")
        await trio.lowlevel.checkpoint()
        client, server = memory_stream_pair()
        self._serve_memory(server)
        return client

    def close_connections(self, code: int = 1012, reason: str = "service restart") -> int:
        """End every open connection with a close frame (for tests of what clients do next).

        The default is a restart's: 1012 "service restart". Events not yet sent are not
        sent; the server keeps listening. Returns how many connections were told.

        Raises:
            ValueError: ``code`` is not one a server may send (1000-4999, not 1004-1006
                or 1015).
        """
        if not 1000 <= code <= 4999 or code in (1004, 1005, 1006, 1015):
            raise ValueError(f"a server cannot close with code {code}")
        return self._end_all(code, reason, drop=False)

    def drop_connections(self) -> int:
        """End every open connection's TCP connection at once, without a close frame (a
        crash, or a route that went away: clients see 1006). Returns how many."""
        return self._end_all(1006, "dropped", drop=True)

    def _end_all(self, code: int, reason: str, *, drop: bool) -> int:
        ends = list(self._live.values())
        for end in ends:
            end(code, reason, drop)
        return len(ends)

    def _new_connection(self, remote: str) -> ConnectionInfo:
        info = ConnectionInfo(id=next(self._ids), remote=remote)
        self._connections.append(info)
        return info


async def serve(
    host: str,
    port: int,
    *,
    api_keys: Iterable[str] | None = None,
    engine: Engine | None = None,
    options: ServerOptions | None = None,
    dialects: Iterable[str] = ("beta", "ga"),
    strict_beta_header: bool = False,
    drop_tcp: bool = False,
    stuck_client_timeout: float = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float = 20.0,
    handshake_timeout: float = 10.0,
    close_timeout: float = 5.0,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    keep_finished_state: bool = False,
    handler_nursery: trio.Nursery | None = None,
    task_status: trio.TaskStatus[ServerHandle] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve the Realtime API over WebSocket, beta and GA dialects, until cancelled.

    Upgrades ``GET /v1/realtime?model=M`` (a conversation session) and
    ``GET /v1/realtime?intent=transcription`` (a transcription session); any other path gets
    HTTP 404, and a request that is not a valid WebSocket upgrade HTTP 400 (405 for another
    method, 426 for another WebSocket version, 431 for a head over 16 KiB) with a short reason
    that quotes nothing the client sent. Every header the handshake reads must be ASCII. Credentials come from ``Authorization: Bearer KEY`` or, for browsers, the
    subprotocols ``realtime``, ``openai-insecure-api-key.KEY``, ``openai-beta.realtime-v1``
    (the 101 then selects ``realtime``, never the key). As on the live service, credentials
    are checked after the upgrade: a missing key gets an ``error`` (code null) and close 3000
    ``invalid_request_error``; a wrong one an ``invalid_api_key`` error showing only the
    key's last four characters, and close 3000 ``invalid_request_error.invalid_api_key``.

    A client that breaks RFC 6455 gets the close code the RFC asks for before the connection
    ends: 1002 (an unmasked frame, a reserved bit, an unknown opcode, a bad control frame or
    close code), 1007 (a text message or close reason that is not UTF-8), 1009 (a message
    over ``max_message_size``); the messages it sent before the bad frame are answered first.
    Malformed *events* (bad JSON, unknown types, bad fields) get an ``error`` event and the
    session goes on.

    Cancelling it shuts down gracefully: open connections get a 1001 close frame and up to a
    second to answer it. A bug in one connection is logged, closes that connection with 1011
    and is kept in :attr:`ServerHandle.errors`; the server goes on serving. Nothing a client
    sends counts as a bug.

    Use it with ``nursery.start``::

        handle = await nursery.start(serve, "127.0.0.1", 0)
        print(handle.url)

    Args:
        host: Interface to bind, e.g. ``"127.0.0.1"``.
        port: Port to bind; ``0`` picks a free one (see :attr:`ServerHandle.port`).
        api_keys: Accepted keys, compared in constant time; ``None`` accepts any non-empty
            key (keys never appear in logs or exceptions).
        engine: What answers and transcribes; a default :class:`SimulatedEngine` if ``None``.
        options: Protocol options (session length and the like).
        dialects: The wire shapes served: ``"beta"``, ``"ga"`` or both (the default). As on
            the live services, the beta marker (``OpenAI-Beta: realtime=v1`` or the
            ``openai-beta.realtime-v1`` subprotocol) selects beta and its absence GA
            (:attr:`ConnectionInfo.dialect`). A GA-only server answers a beta client as
            OpenAI's endpoint has since 2026-05-12: ``error`` ``beta_api_shape_disabled``
            (``The Realtime Beta API is no longer supported. Please use /v1/realtime for the
            GA API.``) and close 4000; a beta-only one answers a client without the marker
            with ``missing_beta_header`` and close 4000 [inf: the live beta service's answer
            was not recorded].
        strict_beta_header: The same as ``dialects=("beta",)`` (kept from before the GA
            dialect).
        drop_tcp: Fault mode: whenever the server would close a connection (session expiry,
            refusals, shutdown), it ends the TCP connection without a close frame, as the
            live service was seen to do.
        stuck_client_timeout: A client that accepts no data for this many seconds while the
            server has something to send (its outbound queue is then full) is cut off. The
            server records close code 1008; the client cannot be sent a close frame, since
            half a frame sits unread in its buffers, and sees the connection end (1006).
            Other connections are not slowed meanwhile.
        ping_interval: Seconds between server pings (the live service pinged about every
            20 s); ``None`` sends none. Client pings are always answered.
        ping_timeout: A ping unanswered for this long closes the connection with 1011.
        handshake_timeout: Seconds a client may take to send its upgrade request.
        close_timeout: Seconds to wait for the client's answer to a close frame.
        max_message_size: Largest message accepted, in bytes (after reassembling its
            fragments); larger ones close the connection with 1009. Keep it above 21 MiB so
            a maximal ``input_audio_buffer.append`` fits.
        keep_finished_state: Keep each finished connection's whole
            :attr:`ConnectionInfo.state` (conversation, assistant audio, committed user
            audio: about 1.5 MB for one 30-second reply) for inspection. By default it is
            let go when the connection ends, and :attr:`ServerHandle.connections` holds
            bounded summaries, so a long-running server does not grow.
        handler_nursery: Run connection tasks there instead of in a nursery of their own.
        task_status: Reports the :class:`ServerHandle` once the server listens.

    Raises:
        ValueError: An argument is out of range (``api_keys`` empty or holding ``""``,
            a non-positive timeout or size, a dialect other than ``beta`` / ``ga``).
        OSError: The address cannot be bound.
    """
    for name, value in (
        ("stuck_client_timeout", stuck_client_timeout),
        ("ping_timeout", ping_timeout),
        ("handshake_timeout", handshake_timeout),
        ("close_timeout", close_timeout),
        ("ping_interval", 1.0 if ping_interval is None else ping_interval),
    ):
        if not value > 0:  # also refuses NaN
            raise ValueError(f"{name} must be > 0, got {value!r}")
    if max_message_size < 1:
        raise ValueError(f"max_message_size must be >= 1, got {max_message_size!r}")
    served = frozenset(dialects)
    if not served or not served <= {"beta", "ga"}:
        raise ValueError(f"dialects must be 'beta', 'ga' or both, got {sorted(served)!r}")
    if strict_beta_header:
        if "beta" not in served:
            raise ValueError("strict_beta_header=True serves beta, but dialects has no 'beta'")
        served = frozenset({"beta"})
    settings = ConnectionSettings(
        api_keys=ApiKeys(api_keys),
        engine=SimulatedEngine() if engine is None else engine,
        options=ServerOptions() if options is None else options,
        dialects=served,
        drop_tcp=drop_tcp,
        stuck_client_timeout=stuck_client_timeout,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        handshake_timeout=handshake_timeout,
        close_timeout=close_timeout,
        max_message_size=max_message_size,
        keep_finished_state=keep_finished_state,
    )
    listeners = await trio.open_tcp_listeners(port, host=host)
    try:
        bound_port = listeners[0].socket.getsockname()[1]
        handle = ServerHandle._create(host, bound_port)

        async def handler(stream: trio.SocketStream) -> None:
            info = handle._new_connection(_peer(stream))
            # A bug in one connection must not take the others down: it is logged, the client
            # gets a 1011, and the handle keeps it where tests can find it.
            await serve_connection(stream, info, settings, handle._errors.append, handle._live)

        async def memory_handler(stream: trio.abc.Stream) -> None:
            info = handle._new_connection("memory")
            await serve_connection(stream, info, settings, handle._errors.append, handle._live)

        _log.info("listening on %s", handle.url)
        async with trio.open_nursery() as connections:
            nursery = handler_nursery or connections

            def serve_memory(stream: trio.abc.Stream) -> None:
                nursery.start_soon(memory_handler, stream)

            handle._serve_memory = serve_memory
            task_status.started(handle)
            try:
                await trio.serve_listeners(handler, listeners, handler_nursery=nursery)
            finally:
                handle._serve_memory = None
    finally:
        # Shielded: a Cancelled from this cleanup would replace whatever is propagating (a
        # KeyboardInterrupt from a connection task, say) and lose it.
        with trio.CancelScope(shield=True):
            for listener in listeners:
                await trio.aclose_forcefully(listener)


def _peer(stream: trio.SocketStream) -> str:
    try:
        address = stream.socket.getpeername()
    except OSError:  # the client left before we asked
        return "?"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
