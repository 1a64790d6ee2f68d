"""A session's stream read by a task of its own, as an application reads it.

Tests that drive a session with requests and handles still need something reading its
stream (else the inbound channel fills and the session waits for its reader); this one keeps
every event in a list for the test to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from trio_realtime import RealtimeSession

__all__ = ["read_stream"]


@asynccontextmanager
async def read_stream(session: RealtimeSession) -> AsyncIterator[list[Any]]:
    """A task reading ``session``'s events into the list yielded, until the block ends."""
    events: list[Any] = []

    async def read() -> None:
        async for event in session:
            events.append(event)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        yield events
        nursery.cancel_scope.cancel()
