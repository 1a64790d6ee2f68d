"""The openai SDK as a peer of the reference server: a session whose every frame is checked.

The SDK's realtime client is asyncio; :func:`run_checked_session` runs one session of it, in
its own event loop, against a server started by :func:`peer_server.server_process` (the
``fast_server`` and ``paced_server`` fixtures of ``conftest.py``). Each frame the client
receives goes through a test module's ``check`` (strict validation against the SDK's models
and the spec schemas, and our decoder) before the test sees it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from openai import AsyncOpenAI

Check = Callable[[bytes], Any]
"""A frame's bytes -> the SDK's event for it; fails the test if the frame is not right."""


class Checked:
    """An SDK connection whose every received frame passes ``check``."""

    def __init__(self, connection: Any, check: Check) -> None:
        self.connection = connection
        self.seen: list[str] = []
        self._check = check

    async def recv(self) -> Any:
        event = self._check(await self.connection.recv_bytes())
        self.seen.append(event.type)
        return event

    async def until(self, event_type: str) -> list[Any]:
        """Receive events up to and including the first of ``event_type``."""
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event.type == event_type:
                return events


def run_checked_session(
    url: str,
    connect: Callable[[AsyncOpenAI], AbstractAsyncContextManager[Any]],
    check: Check,
    body: Callable[[Checked], Awaitable[None]],
    opened: Callable[[Any], None] = lambda created: None,
) -> list[str]:
    """Run ``body`` on the SDK connection ``connect`` opens to ``url`` (within 30 s).

    The first event must be ``session.created`` (``opened`` may check more of it). Returns the
    types of the events seen.
    """

    async def session() -> list[str]:
        client = AsyncOpenAI(
            api_key="sk-test-key", websocket_base_url=url.removesuffix("/realtime")
        )
        async with connect(client) as connection:
            checked = Checked(connection, check)
            first = await checked.recv()
            assert first.type == "session.created"
            opened(first)
            await asyncio.wait_for(body(checked), timeout=30)
            return checked.seen

    return asyncio.run(session())


async def stream_audio(conn: Checked, pcm: bytes, chunk_ms: int = 100) -> None:
    """Append 24 kHz PCM16 ``pcm`` in ``chunk_ms`` chunks, as fast as the SDK sends them."""
    step = 48 * chunk_ms
    for start in range(0, len(pcm), step):
        await conn.connection.input_audio_buffer.append(
            audio=base64.b64encode(pcm[start : start + step]).decode()
        )


#: The function both dialects' tool round trips register (the simulated engine calls it when
#: asked to, and answers with its output).
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def cancel_a_running_response_twice(conn: Checked, item: dict[str, Any]) -> None:
    """Start a response to ``item`` and cancel it: it ends ``cancelled`` by the client; a
    second cancel, with nothing running, gets ``response_cancel_not_active``."""
    await conn.connection.conversation.item.create(item=item)
    await conn.connection.response.create()
    (created,) = [e for e in await conn.until("response.created") if e.type == "response.created"]
    await conn.connection.response.cancel()
    done = (await conn.until("response.done"))[-1].response
    assert done.id == created.response.id
    assert done.status == "cancelled"
    assert done.status_details.reason == "client_cancelled"
    await conn.connection.response.cancel()
    error = (await conn.until("error"))[-1]
    assert error.error.code == "response_cancel_not_active"
