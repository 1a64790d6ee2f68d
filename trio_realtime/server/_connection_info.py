"""What the server keeps of one connection (:class:`ConnectionInfo`), and what every connection
of a server shares (:class:`ConnectionSettings`)."""

from __future__ import annotations

from typing import final

import attrs
import trio

from ._auth import ApiKeys
from ._engine_api import Engine
from ._handshake import Handshake
from ._options import ConnectionStatistics
from ._state import ConnectionState, ServerOptions

__all__ = ["ConnectionInfo", "ConnectionSettings"]


@final
@attrs.frozen(kw_only=True)
class ConnectionSettings:
    """What every connection of one server shares (built by :func:`~._serve.serve`)."""

    api_keys: ApiKeys
    engine: Engine
    options: ServerOptions
    dialects: frozenset[str]
    drop_tcp: bool
    stuck_client_timeout: float
    ping_interval: float | None
    ping_timeout: float
    handshake_timeout: float
    close_timeout: float
    max_message_size: int
    keep_finished_state: bool = False


@final
@attrs.define(kw_only=True, eq=False)
class ConnectionInfo:
    """What the server saw of one connection, for tests and diagnostics.

    The server updates it as the connection progresses; treat it as read-only. It holds no
    credential: the handshake is redacted, and only the key's *source* is recorded. Once the
    connection has ended it is a bounded summary (a few KiB: the request head is at most
    16 KiB, a browser's is about one): the protocol state, with its conversation and audio,
    is let go unless the server was asked to keep it (``keep_finished_state``), and
    :attr:`statistics` keeps its final counts.

    Attributes:
        id: Sequence number of the connection within its server, from 1.
        remote: The client's address, ``host:port``.
        handshake: The upgrade request (redacted), once it arrived.
        http_status: The HTTP status of the handshake answer: 101; 404 for another path;
            400 (or 405, 426, 431) for a request that is not a valid WebSocket upgrade, whose
            handshake is then not kept; ``None`` if none was sent.
        subprotocol: The subprotocol selected in the 101, if any.
        authenticated: Whether the credentials were accepted.
        dialect: The dialect the client asked for (``"beta"`` with the beta marker, else
            ``"ga"``), once its credentials were accepted; it is refused when the server
            does not speak it.
        credential_source: ``"header"``, ``"subprotocol"`` or ``None`` (no key presented).
        state: The connection's protocol state, from the session's start until the
            connection ends; after that only with ``keep_finished_state`` (else ``None``).
        frames_received: Frames received from the client.
        events_sent: Events fully written to the socket.
        close_code: How the connection ended: the code the server sent (or, with
            ``drop_tcp``, would have sent), the code the client sent, 1006 for a TCP
            connection that ended without a close frame, 1008 for a client that stopped
            reading, 1002 for a client that broke the framing rules, 1007 for a text message
            that is not UTF-8, 1009 for an oversize message (each sent to the client in a
            close frame). ``None`` while open or if no WebSocket was established.
        close_reason: The close frame's reason, if any.
        dropped: Whether the server ended the TCP connection without sending a close frame
            (``drop_tcp`` mode, or a stuck client).
    """

    id: int
    remote: str
    handshake: Handshake | None = None
    http_status: int | None = None
    subprotocol: str | None = None
    authenticated: bool = False
    dialect: str | None = None
    credential_source: str | None = None
    state: ConnectionState | None = None
    frames_received: int = 0
    events_sent: int = 0
    close_code: int | None = None
    close_reason: str | None = None
    dropped: bool = False
    _ended: trio.Event = attrs.field(factory=trio.Event, init=False, repr=False)
    _final_statistics: ConnectionStatistics | None = attrs.field(
        default=None, init=False, repr=False
    )

    @property
    def statistics(self) -> ConnectionStatistics | None:
        """The session's counters: live while it runs, final once the connection ended;
        ``None`` if no session started (a refused or failed handshake)."""
        if self._final_statistics is not None:
            return self._final_statistics
        return None if self.state is None else self.state.statistics()

    def _finish(self, keep_state: bool) -> None:
        """The connection is over: keep the summary, let the state go unless asked not to."""
        if self.state is not None:
            self._final_statistics = self.state.statistics()
            if not keep_state:
                self.state = None
        self._ended.set()

    @property
    def ended(self) -> bool:
        """Whether the server is done with the connection (its TCP stream is closed)."""
        return self._ended.is_set()

    async def wait_ended(self) -> None:
        """Wait until the server is done with the connection."""
        await self._ended.wait()

    def _record_close(self, code: int, reason: str | None, *, dropped: bool = False) -> None:
        if self.close_code is None:  # the first account of the ending is the true one
            self.close_code, self.close_reason, self.dropped = code, reason, dropped
