"""The client WebSocket against trio-websocket's server side, an independent RFC 6455
implementation: it must understand our frames and we must understand its frames."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import trio_websocket
from websocket_helpers import (
    FIVE_MB,
    TIMEOUT,
    handshake_args,
    receive_until,
    receive_until_closed,
)

from trio_realtime._wire._handshake import client_handshake
from trio_realtime._wire._websocket import ClientWebSocket, CloseInfo

# --- Interoperability with trio-websocket's server side ---------------------------------------


@asynccontextmanager
async def trio_websocket_peer(
    *, subprotocols: tuple[str, ...] = (), max_message_size: int = 1 << 20
) -> AsyncIterator[tuple[ClientWebSocket, trio_websocket.WebSocketConnection, tuple[str, ...]]]:
    """Our client handshaken with trio-websocket's server over memory streams; yields both ends
    and the subprotocols the server saw offered (it accepts ``realtime`` when offered)."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    send, receive = trio.open_memory_channel[
        tuple[trio_websocket.WebSocketConnection, tuple[str, ...]]
    ](1)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            request = await trio_websocket.wrap_server_stream(
                nursery,
                server_stream,
                max_message_size=max_message_size,
                receive_buffer_size=65536,
            )
            offered = tuple(request.proposed_subprotocols)
            chosen = "realtime" if "realtime" in offered else None
            await send.send((await request.accept(subprotocol=chosen), offered))

        nursery.start_soon(serve)
        ws = await client_handshake(
            client_stream,
            **handshake_args(subprotocols=subprotocols, max_message_size=max_message_size),
        )
        server, offered = await receive.receive()
        yield ws, server, offered
        nursery.cancel_scope.cancel()


async def test_interop_handshake_with_a_subprotocol() -> None:
    offered = ("openai-insecure-api-key.sk-test", "realtime")
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer(subprotocols=offered) as (ws, server, seen):
            assert seen == offered
            assert ws.subprotocol == "realtime"
            assert server.subprotocol == "realtime"
            assert server.path == "/v1/realtime?model=test-model"


async def test_interop_handshake_without_a_subprotocol() -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer() as (ws, server, seen):
            assert seen == ()
            assert ws.subprotocol is None
            assert server.subprotocol is None
            await ws.send_message("hi")
            assert await server.get_message() == "hi"


async def test_interop_text_both_ways_including_5_mb() -> None:
    big = "ab€😀" * (FIVE_MB // 9 + 1)  # 9 bytes of UTF-8 each
    assert len(big.encode()) >= FIVE_MB
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer(max_message_size=2 * FIVE_MB) as (ws, server, _):
            await ws.send_message("hello")
            await ws.send_message(big)
            assert await server.get_message() == "hello"
            received = await server.get_message()
            assert received == big
            await server.send_message("héllo back")
            await server.send_message(big)
            assert await receive_until(ws, 2) == ["héllo back", big]


async def test_interop_binary_both_ways() -> None:
    payload = bytes(range(256)) * 300
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer() as (ws, server, _):
            await ws.send_message(payload)
            await ws.send_message(b"")
            assert await server.get_message() == payload
            assert await server.get_message() == b""
            await server.send_message(payload[::-1])
            [message] = await receive_until(ws, 1)
            assert message == payload[::-1]
            assert type(message) is bytes


async def test_interop_server_ping_is_answered() -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer() as (ws, server, _), trio.open_nursery() as nursery:
            nursery.start_soon(receive_until, ws, 1)
            await server.ping(b"ping from the server")  # returns once its pong arrives
            await server.send_message("done")


async def test_interop_our_ping_is_answered() -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer() as (ws, server, _):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive_until, ws, 1)
                await ws.ping()
                await ws.ping()
                await server.send_message("done")
            assert ws.closed is None


async def test_interop_server_close_with_code_and_reason() -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer() as (ws, server, _):
            received: list[str | bytes] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive_until_closed, ws, received)
                await server.send_message("before close")
                await server.aclose(4000, "session over")  # waits for our echo
            assert received == ["before close"]
            assert ws.closed == CloseInfo(4000, "session over")


async def test_interop_our_aclose_is_seen_as_1000() -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer() as (ws, server, _):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive_until_closed, ws, [])
                await ws.aclose()
                with pytest.raises(trio_websocket.ConnectionClosed) as info:
                    await server.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1000
            assert ws.closed == CloseInfo(1000, None)


async def test_interop_a_message_over_our_limit_closes_with_1009() -> None:
    with trio.fail_after(TIMEOUT):
        async with trio_websocket_peer(max_message_size=1000) as (ws, server, _):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.send_message, b"x" * 1001)
                assert await receive_until_closed(ws, []) == CloseInfo(
                    1009, "message larger than 1000 bytes"
                )
                with pytest.raises(trio_websocket.ConnectionClosed) as info:
                    await server.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1009
