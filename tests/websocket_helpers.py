"""Shared by the WebSocket test modules: handshake arguments and reading helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from trio_realtime._wire._websocket import ClientWebSocket, CloseInfo, WebSocketClosed

TIMEOUT = 5
FIVE_MB = 5 * 1024 * 1024


def handshake_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "host": "example.test",
        "target": "/v1/realtime?model=test-model",
        "subprotocols": (),
        "headers": (),
        "receive_buffer_size": 65536,
        "max_message_size": 1 << 20,
    }
    args.update(overrides)
    return args


async def receive_until(ws: ClientWebSocket, count: int) -> list[str | bytes]:
    """Messages from ``ws`` until ``count`` have arrived."""
    messages: list[str | bytes] = []
    while len(messages) < count:
        messages.extend(await ws.receive_messages())
    return messages


async def receive_until_closed(ws: ClientWebSocket, into: list[str | bytes]) -> CloseInfo:
    """Read ``ws`` into ``into`` until it closes; how it closed."""
    while True:
        try:
            into.extend(await ws.receive_messages())
        except WebSocketClosed as exc:
            closed = exc.closed
            break
    assert closed == ws.closed
    return closed


async def closed_by(call: Callable[[], Awaitable[object]]) -> CloseInfo:
    """How the connection had closed, by the WebSocketClosed that ``call()`` must raise."""
    with pytest.raises(WebSocketClosed) as info:
        await call()
    return info.value.closed
