"""One bare client connection of the benchmark: trio-websocket, pre-encoded frames, orjson.

Untyped on purpose, so that the client side stays cheap on a 2-core machine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Final

import orjson
import trio
from trio_websocket import WebSocketConnection, connect_websocket_url
from wsproto.utilities import LocalProtocolError

__all__ = ["close_all", "closing_race_ignored", "failure_name", "open_session"]

HEADERS: Final = [
    (b"Authorization", b"Bearer sk-bench-server-load"),
    (b"OpenAI-Beta", b"realtime=v1"),
]
RECEIVE_BUFFER: Final = 64 * 1024
MAX_MESSAGE: Final = 16 * 1024 * 1024


async def open_session(
    nursery: trio.Nursery, url: str, limiter: trio.CapacityLimiter, seconds: float
) -> tuple[WebSocketConnection, float]:
    """Connect under a handshake slot and wait for ``session.created``.

    Returns the connection and the connect time in ms (TCP connect to ``session.created``),
    which may take ``seconds`` at most (the wait for a slot does not count).
    """
    async with limiter:
        start = trio.current_time()
        with trio.fail_after(seconds):
            ws = await connect_websocket_url(
                nursery,
                url,
                extra_headers=HEADERS,
                message_queue_size=64,
                max_message_size=MAX_MESSAGE,
                receive_buffer_size=RECEIVE_BUFFER,
            )
            first = orjson.loads(await ws.get_message())
        elapsed = (trio.current_time() - start) * 1000.0
    if first.get("type") != "session.created":
        await ws.aclose()
        raise RuntimeError(f"first event was {first.get('type')!r}, not session.created")
    return ws, elapsed


async def close_all(connections: Sequence[WebSocketConnection], grace: float = 10.0) -> None:
    """Close connections concurrently (bounded), giving up on stragglers after ``grace`` s."""
    limiter = trio.CapacityLimiter(128)

    async def close(ws: WebSocketConnection) -> None:
        async with limiter:
            try:
                await ws.aclose()
            except Exception:
                pass  # a dead connection is closed enough

    with trio.move_on_after(grace):
        async with trio.open_nursery() as nursery:
            for ws in connections:
                nursery.start_soon(close, ws)


@contextlib.contextmanager
def closing_race_ignored() -> Iterator[None]:
    """Ignore trio-websocket's failure to answer a ping that arrives while we close.

    Its reader task then tries to send a pong in the CLOSING state, and wsproto raises
    ``LocalProtocolError`` into the connections' nursery. Only teardown is affected.
    """
    try:
        yield
    except* LocalProtocolError:
        pass


def failure_name(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "timeout"
