"""The reference server under faults: expiry, dropped TCP, stuck, vanishing and silent clients,
oversize frames, server bugs, shutdown (checklist 53, 58 and the transport pitfalls).

Same rules as ``test_server_wire.py``: a bare trio-websocket client on a stream the test owns,
``trio.fail_after`` around everything, no assertion on speed. Where a test needs one thing
to happen *while* another has not yet (a stuck client not yet cut off), the margin is seconds
against milliseconds of work.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from functools import partial
from typing import Any

import orjson
import pytest
import trio
import trio.lowlevel
import wsproto
import wsproto.events as wse
from test_server_wire import BETA, CONVERSATION, DEADLINE, KEY, error_of, raw_client
from trio_websocket import ConnectionClosed

from trio_realtime.server import (
    DEFAULT_MAX_MESSAGE_SIZE,
    ConnectionState,
    ServerHandle,
    ServerOptions,
    SimulatedEngine,
    serve,
)
from trio_realtime.testing import open_local_server


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def wait_until(condition: Any, poll: float = 0.01) -> None:
    """Poll ``condition``: for server counters and logs, which have no event to wait on."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(poll)


# --- 53, 58: the end of a session ----------------------------------------------------------------


async def test_at_the_session_limit_session_expired_is_sent_then_the_connection_closes() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(options=ServerOptions(session_seconds=0.2)) as server:
            async with raw_client(server) as client:
                events, closed = await client.receive_until_closed()
            assert events[0]["type"] == "session.created"
            error = error_of(events[-1])
            assert error["code"] == "session_expired"
            assert (error["param"], error["event_id"]) == (None, None)
            (info,) = server.connections
            await info.wait_ended()
            assert closed.code == info.close_code
            assert closed.code != 1006  # a real close frame
            assert not info.dropped


async def test_a_session_expiring_while_the_client_keeps_sending_still_closes_cleanly() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(options=ServerOptions(session_seconds=0.2)) as server:
            async with raw_client(server) as client, trio.open_nursery() as nursery:

                async def chatter() -> None:
                    with contextlib.suppress(ConnectionClosed):
                        while True:
                            await client.send({"type": "input_audio_buffer.clear"})
                            await trio.lowlevel.checkpoint()

                nursery.start_soon(chatter)
                events, closed = await client.receive_until_closed()
                nursery.cancel_scope.cancel()
            assert error_of(events[-1])["code"] == "session_expired"
            assert closed.code == 1001


async def test_in_drop_tcp_mode_the_session_ends_without_a_close_frame() -> None:
    with trio.fail_after(DEADLINE):
        options = ServerOptions(session_seconds=0.2)
        async with open_local_server(options=options, drop_tcp=True) as server:
            async with raw_client(server) as client:
                events, closed = await client.receive_until_closed()
            assert error_of(events[-1])["code"] == "session_expired"
            assert closed.code == 1006  # trio-websocket's "ended without a close frame"
            (info,) = server.connections
            await info.wait_ended()
            assert info.dropped
            assert info.close_code not in (None, 1006)  # the close it would have sent


async def test_drop_tcp_mode_also_applies_to_refusals() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(drop_tcp=True) as server:
            async with raw_client(server, headers=[BETA]) as client:
                events, closed = await client.receive_until_closed()
            assert error_of(events[0])["message"].startswith("Missing bearer")
            assert closed.code == 1006
            assert server.connections[0].close_code == 3000


async def test_shutting_the_server_down_closes_open_connections_with_1001() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            server: ServerHandle = await nursery.start(partial(serve, "127.0.0.1", 0))
            async with raw_client(server) as client:
                await client.receive_until("session.created")
                nursery.cancel_scope.cancel()
                _events, closed = await client.receive_until_closed()
            assert (closed.code, closed.reason) == (1001, "server shutting down")


# --- Clients that misbehave ----------------------------------------------------------------------


async def test_a_client_that_stops_reading_is_cut_off_and_others_are_served_meanwhile() -> None:
    # A 30-second spoken reply (about 2 MB of JSON) overflows every buffer on the way to a
    # client that reads nothing.
    with trio.fail_after(DEADLINE):
        async with (
            open_local_server(stuck_client_timeout=2.0) as server,
            raw_client(server, message_queue_size=1) as stuck,
        ):
            await stuck.send(user_text("x" * 500))
            await stuck.send({"type": "response.create"})
            stuck_info = server.connections[0]
            await wait_until(lambda: stuck_info.events_sent > 10)

            async with raw_client(server) as other:
                await other.receive_until("session.created")
                await other.send(user_text("hello"))
                await other.send({"type": "response.create"})
                done = (await other.receive_until("response.done"))[-1]
                assert done["response"]["status"] == "completed"
            assert not stuck_info.ended  # the other client was not kept waiting for it

            await stuck_info.wait_ended()
            assert (stuck_info.close_code, stuck_info.dropped) == (1008, True)
            # What the stuck client finds when it reads again: the connection is gone.
            _events, closed = await stuck.receive_until_closed()
            assert closed.code == 1006


async def test_a_client_vanishing_mid_response_ends_only_its_own_connection() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(engine=SimulatedEngine.realistic()) as server:
            async with raw_client(server) as client:
                await client.receive_until("session.created")
                await client.send(user_text("tell me a long story " * 5))
                await client.send({"type": "response.create"})
                await client.receive_until("response.audio.delta")
                await client.stream.aclose()  # TCP gone, no close frame
            info = server.connections[0]
            await info.wait_ended()
            assert info.close_code == 1006
            async with raw_client(server) as client:
                assert (await client.receive())["type"] == "session.created"
            assert server.errors == ()


async def test_unanswered_pings_close_the_connection_with_1011() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(
            ping_interval=0.05, ping_timeout=0.2, close_timeout=0.2
        ) as server:
            # A client that completes the handshake, then never reads again.
            async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
                connection = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
                request = wse.Request(
                    host="127.0.0.1",
                    target=CONVERSATION,
                    extra_headers=[(b"authorization", f"Bearer {KEY}".encode())],
                )
                await stream.send_all(connection.send(request))
                accepted = False
                while not accepted:
                    connection.receive_data(await stream.receive_some())
                    accepted = any(isinstance(e, wse.AcceptConnection) for e in connection.events())
                (info,) = server.connections
                await info.wait_ended()
            assert (info.close_code, info.close_reason) == (1011, "keepalive ping timeout")


async def test_the_server_pings_and_a_client_that_answers_stays_connected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio-websocket")
    with trio.fail_after(DEADLINE):
        async with open_local_server(ping_interval=0.05, ping_timeout=1.0) as server:
            async with raw_client(server) as client:
                await client.receive_until("session.created")
                await wait_until(lambda: "trio-realtime-3" in caplog.text)
                await client.send({"type": "input_audio_buffer.clear"})
                assert (await client.receive())["type"] == "input_audio_buffer.cleared"
            await server.connections[0].wait_ended()
            assert server.connections[0].close_code == 1000


# --- Frame sizes ---------------------------------------------------------------------------------


async def test_a_frame_over_the_size_limit_closes_the_connection_with_1009() -> None:
    limit = 64 * 1024
    with trio.fail_after(DEADLINE):
        async with open_local_server(max_message_size=limit) as server:
            async with raw_client(server) as client:
                await client.receive_until("session.created")
                await client.ws.send_message("x" * (limit + 1))
                _events, closed = await client.receive_until_closed()
            assert closed.code == 1009
            assert server.connections[0].close_code == 1009


async def test_a_maximal_append_fits_in_one_frame() -> None:
    assert DEFAULT_MAX_MESSAGE_SIZE >= 21 * 1024 * 1024
    audio = base64.b64encode(bytes(15 * 1024 * 1024)).decode()
    frame = orjson.dumps({"type": "input_audio_buffer.append", "audio": audio}).decode()
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server) as client:
            await client.receive_until("session.created")
            await client.send({"type": "session.update", "session": {"turn_detection": None}})
            await client.receive_until("session.updated")
            await client.ws.send_message(frame)
            await client.send({"type": "input_audio_buffer.clear"})
            assert (await client.receive())["type"] == "input_audio_buffer.cleared"


# --- Server bugs ---------------------------------------------------------------------------------


def break_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give the protocol core a bug: it raises on every text frame."""

    def receive_text(self: ConnectionState, text: str, now: float) -> list[Any]:
        raise RuntimeError("core bug")

    monkeypatch.setattr(ConnectionState, "receive_text", receive_text)


async def test_a_server_bug_closes_that_connection_with_1011_and_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    break_the_state(monkeypatch)
    with trio.fail_after(DEADLINE):
        async with open_local_server(raise_server_errors=False) as server:
            async with raw_client(server) as client:
                await client.receive_until("session.created")
                await client.send({"type": "input_audio_buffer.clear"})
                _events, closed = await client.receive_until_closed()
            assert (closed.code, closed.reason) == (1011, "internal server error")
            await server.connections[0].wait_ended()
            assert [str(e) for e in server.errors] == ["core bug"]
            async with raw_client(server) as client:  # the server itself is fine
                assert (await client.receive())["type"] == "session.created"


async def test_the_testing_server_raises_server_bugs_when_the_block_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    break_the_state(monkeypatch)
    with (
        trio.fail_after(DEADLINE),
        pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="core bug")),
    ):
        async with open_local_server() as server:
            async with raw_client(server) as client:
                await client.receive_until("session.created")
                await client.send({"type": "input_audio_buffer.clear"})
                await client.receive_until_closed()
            await server.connections[0].wait_ended()
