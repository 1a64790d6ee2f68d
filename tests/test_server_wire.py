"""The reference server on a real loopback socket: handshake, auth, frames (checklist 1-9).

Rules these tests follow:

* The client is plain trio-websocket over a TCP stream the test owns and closes, so nothing
  leaks a ``ResourceWarning`` after a rejected handshake or a server-initiated close, and the
  tests depend on nothing else of trio_realtime's client side. Events are plain JSON dicts.
* Every test runs under a ``trio.fail_after`` deadline; none asserts how fast anything is.
* The fault tests (drop TCP, stuck and vanishing clients, oversize frames, keepalive) live in
  ``test_server_wire_faults.py`` and reuse :func:`raw_client` from here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import attrs
import orjson
import pytest
import trio
from trio_websocket import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    wrap_client_stream,
)

from trio_realtime.testing import open_local_server

MODEL = "gpt-4o-realtime-preview"
CONVERSATION = f"/v1/realtime?model={MODEL}"
TRANSCRIPTION = "/v1/realtime?intent=transcription"
KEY = "sk-test-0123456789abcdefWXYZ"
BETA = (b"OpenAI-Beta", b"realtime=v1")
DEADLINE = 10.0


@attrs.define
class RawClient:
    """A bare WebSocket client speaking JSON dicts."""

    ws: WebSocketConnection
    stream: trio.SocketStream

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_message(orjson.dumps(event).decode())

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.get_message()
        assert isinstance(message, str), "the server sends text frames only"
        event = orjson.loads(message)
        assert isinstance(event, dict)
        return event

    async def receive_until(self, event_type: str) -> list[dict[str, Any]]:
        """Events up to and including the first of ``event_type``."""
        events = [await self.receive()]
        while events[-1]["type"] != event_type:
            events.append(await self.receive())
        return events

    async def receive_until_closed(self) -> tuple[list[dict[str, Any]], CloseReason]:
        """Every remaining event, then how the connection was closed."""
        events = []
        while True:
            try:
                events.append(await self.receive())
            except ConnectionClosed as closed:
                reason = closed.reason
                break
        assert reason is not None
        return events, reason


class Listening(Protocol):
    """Anything with the port of a listening server (a ServerHandle, or a subprocess's)."""

    @property
    def port(self) -> int: ...


@asynccontextmanager
async def raw_client(
    server: Listening,
    target: str = CONVERSATION,
    *,
    headers: Sequence[tuple[bytes, bytes]] | None = None,
    subprotocols: Sequence[str] = (),
    message_queue_size: int = 64,
) -> AsyncIterator[RawClient]:
    """Connect to ``server`` at ``target``; by default with a Bearer key and the beta header."""
    if headers is None:
        headers = [(b"Authorization", f"Bearer {KEY}".encode()), BETA]
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    try:
        async with trio.open_nursery() as nursery:
            ws = await wrap_client_stream(
                nursery,
                stream,
                "127.0.0.1",
                target,
                subprotocols=subprotocols,
                extra_headers=list(headers),
                message_queue_size=message_queue_size,
                max_message_size=64 * 1024 * 1024,
                receive_buffer_size=None,
            )
            try:
                yield RawClient(ws, stream)
            finally:
                with trio.move_on_after(1):
                    await ws.aclose()
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


def error_of(event: dict[str, Any]) -> dict[str, Any]:
    assert event["type"] == "error", event
    error = event["error"]
    assert isinstance(error, dict)
    return error


# --- 1, 2: opening a session ---------------------------------------------------------------------


async def test_a_conversation_connection_opens_with_session_created() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server) as client:
            created = await client.receive()
            assert created["type"] == "session.created"
            assert created["session"]["model"] == MODEL
            (info,) = server.connections
            assert info.http_status == 101
            assert info.authenticated
            assert info.credential_source == "header"
            assert info.handshake is not None
            assert info.handshake.model == MODEL
            assert info.handshake.beta_header
            assert info.subprotocol is None  # none offered, none selected


async def test_a_transcription_connection_opens_with_transcription_session_created() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server, TRANSCRIPTION) as client:
            created = await client.receive()
            assert created["type"] == "transcription_session.created"
            assert created["session"]["object"] == "realtime.transcription_session"


# --- 3, 4: bad model parameters ------------------------------------------------------------------


async def test_a_model_on_a_transcription_connection_is_refused_with_close_4000() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with raw_client(server, f"{TRANSCRIPTION}&model={MODEL}") as client:
                events, closed = await client.receive_until_closed()
            (event,) = events
            assert error_of(event)["code"] == "invalid_model"
            assert error_of(event)["message"] == (
                "You must not provide a model parameter for transcription sessions."
            )
            assert (closed.code, closed.reason) == (4000, "invalid_request_error.invalid_model")


async def test_no_model_and_no_intent_is_refused_with_missing_model_and_close_4000() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with raw_client(server, "/v1/realtime") as client:
                events, closed = await client.receive_until_closed()
            (event,) = events
            assert error_of(event)["code"] == "missing_model"
            assert closed.code == 4000


# --- 5, 6, 7: authentication ---------------------------------------------------------------------


async def test_a_wrong_key_gets_invalid_api_key_showing_four_characters_then_close_3000() -> None:
    wrong = "sk-wrong-key-0000000000009876"
    with trio.fail_after(DEADLINE):
        async with open_local_server(api_keys=[KEY, "sk-another-key-abcdefgh"]) as server:
            headers = [(b"Authorization", f"Bearer {wrong}".encode()), BETA]
            async with raw_client(server, headers=headers) as client:
                events, closed = await client.receive_until_closed()
            (event,) = events  # in particular, no session.created first
            error = error_of(event)
            assert error["type"] == "invalid_request_error"
            assert error["code"] == "invalid_api_key"
            assert error["param"] is None
            assert error["event_id"] is None
            assert error["message"] == (
                "Incorrect API key provided: ****9876. "
                "You can find your API key at https://platform.openai.com/account/api-keys."
            )
            assert wrong[:-4] not in error["message"]
            assert (closed.code, closed.reason) == (3000, "invalid_request_error.invalid_api_key")
            assert not server.connections[0].authenticated


async def test_a_short_wrong_key_is_not_shown_at_all() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(api_keys=[KEY]) as server:
            async with raw_client(server, headers=[(b"authorization", b"Bearer abcdef")]) as client:
                (event,), _closed = await client.receive_until_closed()
            assert "Incorrect API key provided: ****. " in error_of(event)["message"]
            assert "abcd" not in error_of(event)["message"]


async def test_missing_credentials_get_a_null_code_error_then_close_3000() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with raw_client(server, headers=[BETA]) as client:
                events, closed = await client.receive_until_closed()
            (event,) = events
            error = error_of(event)
            assert error["code"] is None
            assert error["message"] == "Missing bearer or basic authentication in header"
            assert (closed.code, closed.reason) == (3000, "invalid_request_error")


@pytest.mark.parametrize("header", [b"authorization", b"AUTHORIZATION"])
async def test_header_names_and_the_bearer_scheme_are_case_insensitive(header: bytes) -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(api_keys=[KEY]) as server:
            headers = [(header, f"bearer {KEY}".encode()), (b"openai-beta", b"realtime=v1")]
            async with raw_client(server, headers=headers) as client:
                assert (await client.receive())["type"] == "session.created"


async def test_browser_subprotocols_authenticate_and_only_realtime_is_selected() -> None:
    subprotocols = ["realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1"]
    with trio.fail_after(DEADLINE):
        async with open_local_server(api_keys=[KEY]) as server:
            async with raw_client(server, headers=[], subprotocols=subprotocols) as client:
                assert (await client.receive())["type"] == "session.created"
                assert client.ws.subprotocol == "realtime"
                response_headers = b"".join(k + v for k, v in client.ws.handshake_headers)
                assert KEY.encode() not in response_headers
            (info,) = server.connections
            assert info.credential_source == "subprotocol"
            assert info.handshake is not None
            assert info.handshake.beta_subprotocol
            assert not info.handshake.beta_header
            assert KEY not in repr(info)


@pytest.mark.parametrize(
    ("header_key", "subprotocol_key", "accepted"),
    [(KEY, "sk-wrong-0000000000000000", True), ("sk-wrong-0000000000000000", KEY, False)],
)
async def test_a_header_key_wins_over_a_subprotocol_key(
    header_key: str, subprotocol_key: str, accepted: bool
) -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(api_keys=[KEY]) as server:
            headers = [(b"Authorization", f"Bearer {header_key}".encode()), BETA]
            subprotocols = ["realtime", f"openai-insecure-api-key.{subprotocol_key}"]
            async with raw_client(server, headers=headers, subprotocols=subprotocols) as client:
                first = await client.receive()
            assert first["type"] == ("session.created" if accepted else "error")


async def test_any_non_empty_key_is_accepted_when_none_is_configured() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            headers = [(b"Authorization", b"Bearer anything")]
            async with raw_client(server, headers=headers) as client:
                assert (await client.receive())["type"] == "session.created"


async def test_keys_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-never-log-me-QzXw"
    with trio.fail_after(DEADLINE):
        async with open_local_server(api_keys=[KEY]) as server:
            for key in (KEY, wrong):
                headers = [(b"Authorization", f"Bearer {key}".encode())]
                async with raw_client(server, headers=headers) as client:
                    await client.receive()
    assert any(r.name == "trio_realtime.server" for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY not in logged
    assert wrong not in logged
    assert wrong[-4:] not in logged


# --- Beta marker, paths --------------------------------------------------------------------------


async def test_a_missing_beta_header_is_recorded_but_served_by_default() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            headers = [(b"Authorization", f"Bearer {KEY}".encode())]
            async with raw_client(server, headers=headers) as client:
                assert (await client.receive())["type"] == "session.created"
            (info,) = server.connections
            assert info.handshake is not None
            assert not info.handshake.beta
            assert info.handshake.header("authorization") == "Bearer <redacted>"


async def test_strict_mode_refuses_a_client_without_the_beta_marker() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(strict_beta_header=True) as server:
            headers = [(b"Authorization", f"Bearer {KEY}".encode())]
            async with raw_client(server, headers=headers) as client:
                events, closed = await client.receive_until_closed()
            (event,) = events
            assert error_of(event)["code"] == "missing_beta_header"
            assert (closed.code, closed.reason) == (
                4000,
                "invalid_request_error.missing_beta_header",
            )
            async with raw_client(server) as client:  # with the header: served
                assert (await client.receive())["type"] == "session.created"


@pytest.mark.parametrize("target", ["/", "/v1/realtime/extra?model=m", "/v2/realtime?model=m"])
async def test_other_paths_get_http_404(target: str) -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            with pytest.RaisesGroup(ConnectionRejected) as raised:
                async with raw_client(server, target):
                    pass  # pragma: no cover - the handshake fails
            rejected = raised.value.exceptions[0]
            assert isinstance(rejected, ConnectionRejected)
            assert rejected.status_code == 404
            assert rejected.body is not None
            assert orjson.loads(rejected.body)["error"]["type"] == "invalid_request_error"
            (info,) = server.connections
            await info.wait_ended()
            assert info.http_status == 404


async def test_a_request_that_is_not_a_websocket_upgrade_is_answered_and_closed() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
                await stream.send_all(b"GET /v1/realtime HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while chunk := await stream.receive_some():
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 4")
            (info,) = server.connections
            await info.wait_ended()  # promptly: not after the handshake timeout


# --- 8, 9: malformed frames ----------------------------------------------------------------------


async def test_malformed_frames_get_errors_and_the_session_stays_open() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server) as client:
            await client.receive_until("session.created")
            await client.ws.send_message(b'{"type": "input_audio_buffer.clear"}')
            assert error_of(await client.receive())["code"] == "invalid_event"
            await client.ws.send_message("not json")
            assert error_of(await client.receive())["code"] == "invalid_json"
            await client.send({"event_id": "e1"})
            assert error_of(await client.receive())["code"] == "invalid_event"
            await client.send({"type": "no.such.event", "event_id": "evt_9"})
            error = error_of(await client.receive())
            assert (error["code"], error["param"], error["event_id"]) == (
                "invalid_value",
                "type",
                "evt_9",
            )
            await client.send({"type": "input_audio_buffer.clear"})
            assert (await client.receive())["type"] == "input_audio_buffer.cleared"
            assert server.connections[0].frames_received == 5


async def test_a_refused_event_s_client_event_id_comes_back_in_the_error() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server) as client:
            await client.receive_until("session.created")
            await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit_1"})
            error = error_of(await client.receive())
            assert error["code"] == "input_audio_buffer_commit_empty"
            assert error["event_id"] == "evt_commit_1"


async def test_a_session_update_sent_at_once_is_answered_after_session_created() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server) as client:
            await client.send({"type": "session.update", "session": {"instructions": "Hi."}})
            first, second = await client.receive(), await client.receive()
            assert (first["type"], second["type"]) == ("session.created", "session.updated")


async def test_a_whole_text_turn_reaches_the_client() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, raw_client(server) as client:
            await client.receive_until("session.created")
            await client.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hello"}],
                    },
                }
            )
            await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
            events = await client.receive_until("response.done")
            text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
            assert text == "You said: hello"
            assert events[-1]["response"]["status"] == "completed"
            assert (await client.receive())["type"] == "rate_limits.updated"


# --- The public face -----------------------------------------------------------------------------


def test_the_server_package_exports_exactly_its_documented_names() -> None:
    import trio_realtime.server as server_package

    # (ruff's RUF022 keeps the list sorted.)
    for name in server_package.__all__:
        assert getattr(server_package, name) is not None
    public = {n for n in vars(server_package) if not n.startswith("_")} - {"annotations"}
    assert public == set(server_package.__all__)


async def test_the_handle_names_its_urls_and_cannot_be_made_by_hand() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            assert server.url == f"ws://127.0.0.1:{server.port}/v1/realtime"
            assert server.url_for(model="gpt-realtime") == f"{server.url}?model=gpt-realtime"
            assert server.url_for(intent="transcription").endswith("?intent=transcription")
            assert server.connections == ()
            assert server.active == 0
    with pytest.raises(TypeError):
        type(server)()
