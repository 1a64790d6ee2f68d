"""Helpers for testing code that talks to a Realtime server, against the local reference server.

::

    from trio_realtime.testing import open_local_server

    async def test_my_agent_greets():
        async with open_local_server() as server:
            await run_my_agent(server.url_for(model="gpt-4o-realtime-preview"), api_key="test")
            (connection,) = server.connections
            assert connection.handshake.beta  # my agent sent OpenAI-Beta: realtime=v1

The server runs in the caller's trio run, on ``127.0.0.1`` and a free port, with the
deterministic :class:`~trio_realtime.server.SimulatedEngine` unless told otherwise; it is
cancelled when the block exits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import partial

import trio

from ._wire._groups import unwrap_single
from .server import DEFAULT_MAX_MESSAGE_SIZE, Engine, ServerHandle, ServerOptions, serve

__all__ = ["open_local_server"]


@asynccontextmanager
async def open_local_server(
    *,
    port: int = 0,
    api_keys: Iterable[str] | None = None,
    engine: Engine | None = None,
    options: ServerOptions | None = None,
    dialects: Iterable[str] = ("beta", "ga"),
    strict_beta_header: bool = False,
    drop_tcp: bool = False,
    stuck_client_timeout: float = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float = 20.0,
    close_timeout: float = 5.0,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    keep_finished_state: bool = False,
    raise_server_errors: bool = True,
) -> AsyncIterator[ServerHandle]:
    """Run the reference server on ``127.0.0.1`` (a free port by default) for the block.

    Yields the :class:`~trio_realtime.server.ServerHandle`: ``.url``
    (``ws://127.0.0.1:PORT/v1/realtime``), ``.url_for(model=...)``, ``.port``,
    ``.close_connections(code)`` and ``.drop_connections()`` to end sessions on demand, and
    ``.connections``, one :class:`~trio_realtime.server.ConnectionInfo` per connection (the
    redacted handshake with its headers and subprotocols, whether the beta marker was sent,
    how the connection ended, its final statistics, and the protocol state while it runs, or
    after it ended with ``keep_finished_state=True``).

    Args:
        port: The port to listen on; 0 picks a free one. A server started again on the
            port of one that ended is a restart, as its clients see it.
        api_keys: Accepted keys; ``None`` accepts any non-empty key.
        engine: The engine; a default :class:`~trio_realtime.server.SimulatedEngine` if
            ``None``.
        options: Protocol options, e.g. ``ServerOptions(session_seconds=1.0)``.
        dialects: The dialects served (see :func:`~trio_realtime.server.serve`).
        strict_beta_header: Refuse clients without the beta marker (``dialects=("beta",)``).
        drop_tcp: End connections without a close frame.
        stuck_client_timeout: See :func:`~trio_realtime.server.serve`.
        ping_interval: See :func:`~trio_realtime.server.serve`.
        ping_timeout: See :func:`~trio_realtime.server.serve`.
        close_timeout: See :func:`~trio_realtime.server.serve`.
        max_message_size: See :func:`~trio_realtime.server.serve`.
        keep_finished_state: Keep each finished connection's whole protocol state (see
            :func:`~trio_realtime.server.serve`), to inspect it after the client left.
        raise_server_errors: After a block that raised nothing, raise an
            :class:`ExceptionGroup` of any unexpected server exceptions (bugs the server
            logged and answered with close 1011), so they fail the test.

    An exception leaving the block comes out as itself, as it does from
    :func:`trio_realtime.connect` (not wrapped in an exception group, no ``Cancelled``
    context).
    """
    async with unwrap_single(), trio.open_nursery() as nursery:
        handle: ServerHandle = await nursery.start(
            partial(
                serve,
                "127.0.0.1",
                port,
                api_keys=api_keys,
                engine=engine,
                options=options,
                dialects=dialects,
                strict_beta_header=strict_beta_header,
                drop_tcp=drop_tcp,
                stuck_client_timeout=stuck_client_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                close_timeout=close_timeout,
                max_message_size=max_message_size,
                keep_finished_state=keep_finished_state,
            )
        )
        try:
            yield handle
        finally:
            nursery.cancel_scope.cancel()
    if raise_server_errors and handle.errors:
        raise ExceptionGroup("the local reference server failed", list(handle.errors))
