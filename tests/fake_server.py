"""Scripted Realtime servers for the client tests, built on trio-websocket.

The reference server is written elsewhere; these are small, fully controlled stand-ins.

* :class:`FakeServer` serves on a loopback port (plain or TLS) or over in-memory streams
  (``memory_stream_pair`` or the unbuffered ``lockstep_stream_pair``, whose ``open_stream``
  plugs into ``connect``). Either way it owns each byte stream and closes it itself, so
  trio-websocket's server side cannot leak a socket either (after a rejection it would).
* A handler script gets a :class:`ServerConnection`: send events (dicts or raw text),
  receive what the client sent, close with a code, drop TCP without a close frame, or
  vanish (stop reading and answering pings while keeping the connection open).
* :func:`realtime` is the default script: ``session.created`` (or the transcription form),
  then plain replies to what the client sends.
"""

from __future__ import annotations

import itertools
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson
import trio
import trio.testing
import trio_websocket

from trio_realtime import encode_audio
from trio_realtime._session._client import connect
from trio_realtime._session._session import RealtimeSession

# A self-signed certificate for 127.0.0.1 and localhost, valid until 2126; test use only.
TEST_CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIBrTCCAVOgAwIBAgIUEADdfXuZ33jyFQtt8Xc10mvZ8fcwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSdHJpby1yZWFsdGltZSB0ZXN0MCAXDTI2MTEyNDEwNTUwOVoY
DzIxMjYxMDMxMTA1NTA5WjAdMRswGQYDVQQDDBJ0cmlvLXJlYWx0aW1lIHRlc3Qw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQDb1QCU0jEud8SMj7uaiDMKf6moAsq
gt3r97ao2vEY5RgvYHMuKFrLgH+2y1LY9kn1dga5uyXxDRPVkgK+GQeBo28wbTAd
BgNVHQ4EFgQUrt8UhAOE2ZLMABN35bDZEf6Iw9owHwYDVR0jBBgwFoAUrt8UhAOE
2ZLMABN35bDZEf6Iw9owGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxob3N0MA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAKcwN3P0r33/plV0ZDWUE/cq
QjUZRlX/BrHNn9pk+shqAiBIDe6JpHtsjH9HRobSEYW+5SyLuFo9Ijj1Tdjg2dd5
aQ==
-----END CERTIFICATE-----
"""
TEST_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglieNAlglL7p1Yvs3
PL3Die8cw5JrRYNAHi9RYGmYA+uhRANCAAQDb1QCU0jEud8SMj7uaiDMKf6moAsq
gt3r97ao2vEY5RgvYHMuKFrLgH+2y1LY9kn1dga5uyXxDRPVkgK+GQeB
-----END PRIVATE KEY-----
"""


def server_ssl_context(directory: Path) -> ssl.SSLContext:
    """A server context with the test certificate (files are written to ``directory``)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    cert.write_text(TEST_CERT_PEM)
    key.write_text(TEST_KEY_PEM)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_ssl_context() -> ssl.SSLContext:
    """A client context that trusts the test certificate."""
    return ssl.create_default_context(cadata=TEST_CERT_PEM)


# --- Server events, as JSON-ready dicts -----------------------------------------------------

_ids = itertools.count(1)


def _event_id() -> str:
    return f"event_{next(_ids):021d}"


def session_created(
    *, transcription: bool = False, input_audio_format: str = "pcm16"
) -> dict[str, Any]:
    """``session.created`` (or ``transcription_session.created``) with a minimal session."""
    if transcription:
        return {
            "type": "transcription_session.created",
            "event_id": _event_id(),
            "session": {
                "id": "sess_1",
                "object": "realtime.transcription_session",
                "input_audio_format": input_audio_format,
            },
        }
    return {
        "type": "session.created",
        "event_id": _event_id(),
        "session": {
            "id": "sess_1",
            "object": "realtime.session",
            "model": "test-model",
            "input_audio_format": input_audio_format,
            "output_audio_format": "pcm16",
        },
    }


def audio_delta(index: int, pcm: bytes = b"\x00\x01" * 2400) -> dict[str, Any]:
    """``response.audio.delta`` number ``index`` (100 ms of pcm16 by default)."""
    return {
        "type": "response.audio.delta",
        "event_id": _event_id(),
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": index,  # carries the sequence number, so tests can check order
        "delta": encode_audio(pcm),
    }


def error_event(
    message: str, *, code: str | None = None, event_id: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An ``error`` event (``invalid_request_error``)."""
    return {
        "type": "error",
        "event_id": _event_id(),
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }


# --- Connections ----------------------------------------------------------------------------


@attrs.frozen
class Handshake:
    """What the server saw in one upgrade request."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    subprotocols: tuple[str, ...]


class ServerConnection:
    """The server's end of one accepted WebSocket, for handler scripts."""

    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        stream: trio.abc.Stream,
        handshake: Handshake,
        ws_scope: trio.CancelScope,
    ) -> None:
        self.ws = ws
        self.stream = stream
        self.handshake = handshake
        self._ws_scope = ws_scope
        self.received: list[Any] = []  # every JSON event received, in order
        self.received_at: list[float] = []  # trio.current_time() when each arrived
        self.sent = 0  # events whose send completed
        self.sending = False  # True while a send waits (the client is not reading)
        self.close_code: int | None = None  # the client's close code, once it closed

    @property
    def transcription(self) -> bool:
        return self.handshake.query.get("intent") == "transcription"

    async def send(self, event: Mapping[str, Any] | str | bytes) -> None:
        """Send a dict as JSON text, or a raw ``str`` (text frame) / ``bytes`` (binary)."""
        message = event if isinstance(event, str | bytes) else orjson.dumps(event).decode()
        self.sending = True
        await self.ws.send_message(message)
        self.sending = False
        self.sent += 1

    async def receive(self) -> Any:
        """The next JSON event from the client (also appended to :attr:`received`)."""
        message = await self.ws.get_message()
        event = orjson.loads(message)
        self.received.append(event)
        self.received_at.append(trio.current_time())
        return event

    async def events(self) -> AsyncIterator[Any]:
        """Every event the client sends, until it closes; records its close code."""
        while True:
            try:
                yield await self.receive()
            except trio_websocket.ConnectionClosed as exc:
                self.close_code = exc.reason.code if exc.reason else None
                return

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close with a close frame."""
        await self.ws.aclose(code, reason)

    async def drop(self) -> None:
        """Close TCP at once, without a close frame."""
        await trio.aclose_forcefully(self.stream)

    async def vanish(self) -> None:
        """Stop reading, answering pings and sending, but keep the connection open forever."""
        self._ws_scope.cancel()
        await trio.sleep_forever()


Handler = Callable[[ServerConnection], Awaitable[None]]
Reject = tuple[int, bytes]


async def realtime(conn: ServerConnection) -> None:
    """The default script: ``*.created``, then a plain reply to each client event."""
    await conn.send(session_created(transcription=conn.transcription))
    async for event in conn.events():
        reply = default_reply(event)
        if reply is not None:
            await conn.send(reply)


def never_answers(code: str, message: str) -> Handler:
    """A script: ``session.created``, one ``server_error`` (``code``: ``message``) about nothing
    the client sent, then no answer to anything."""

    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.send(
            {
                "type": "error",
                "event_id": "e",
                "error": {"type": "server_error", "code": code, "message": message},
            }
        )
        async for _ in conn.events():
            pass

    return script


def default_reply(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """A plausible answer to one client event, or None (appends get none)."""
    kind = event.get("type")
    caused_by = event.get("event_id")
    if kind == "session.update":
        return {"type": "session.updated", "event_id": _event_id(), "session": event["session"]}
    if kind == "transcription_session.update":
        return {
            "type": "transcription_session.updated",
            "event_id": _event_id(),
            "session": event["session"],
        }
    if kind == "input_audio_buffer.commit":
        return {
            "type": "input_audio_buffer.committed",
            "event_id": _event_id(),
            "previous_item_id": None,
            "item_id": "item_u1",
        }
    if kind == "input_audio_buffer.clear":
        return {"type": "input_audio_buffer.cleared", "event_id": _event_id()}
    if kind == "conversation.item.create":
        return {
            "type": "conversation.item.created",
            "event_id": _event_id(),
            "previous_item_id": None,
            "item": {**event["item"], "id": "item_c1"},
        }
    if kind == "conversation.item.delete":
        return error_event(
            f"Error deleting item: the item with id '{event['item_id']}' does not exist.",
            code="invalid_value",
            event_id=caused_by,
            param="item_id",
        )
    if kind == "response.cancel":
        return error_event(
            "Cancellation failed: no active response found",
            code="response_cancel_not_active",
            event_id=caused_by,
        )
    return None


class FakeServer:
    """A scripted server; start it with :func:`fake_server`.

    Attributes:
        handshakes: Every upgrade request seen, in order.
        connections: Every accepted connection, in order.
        url: ``ws://`` (or ``wss://``) URL of the loopback listener, when there is one.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        reject: Reject | None = None,
        raw: Callable[[trio.abc.Stream], Awaitable[None]] | None = None,
        max_message_size: int = 64 * 1024 * 1024,
    ) -> None:
        self.handler = handler
        self.reject = reject
        self.raw = raw
        self.max_message_size = max_message_size
        self.handshakes: list[Handshake] = []
        self.connections: list[ServerConnection] = []
        self.url = ""
        self._nursery: trio.Nursery | None = None
        self._pair: Callable[[], tuple[trio.abc.Stream, trio.abc.Stream]] = (
            trio.testing.memory_stream_pair
        )
        self.connected = trio.Event()  # set when the first connection is accepted

    def base_url(self, path: str = "/v1/realtime") -> str:
        return self.url + path

    async def open_stream(self) -> trio.abc.Stream:
        """For ``connect(open_stream=...)``: a fresh in-memory stream to this server."""
        assert self._nursery is not None
        client, server = self._pair()
        self._nursery.start_soon(self.serve_stream, server)
        return client

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one connection on ``stream``, then close it, whatever happens."""
        async with stream:
            if self.raw is not None:
                await self.raw(stream)
                return
            async with trio.open_nursery() as nursery:
                ws_scope = trio.CancelScope()
                # trio-websocket's reader runs in a scope of its own so vanish() can stop it.
                ws_nursery = await nursery.start(_nursery_in_scope, ws_scope)
                request = await trio_websocket.wrap_server_stream(
                    ws_nursery,
                    stream,
                    max_message_size=self.max_message_size,
                    receive_buffer_size=65536,
                )
                parts = urllib.parse.urlsplit(request.path)
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
                handshake = Handshake(
                    parts.path,
                    dict(urllib.parse.parse_qsl(parts.query)),
                    headers,
                    tuple(request.proposed_subprotocols),
                )
                self.handshakes.append(handshake)
                if self.reject is not None:
                    status, body = self.reject
                    await request.reject(status, body=body)
                    nursery.cancel_scope.cancel()
                    return
                subprotocol = "realtime" if "realtime" in handshake.subprotocols else None
                ws = await request.accept(subprotocol=subprotocol)
                conn = ServerConnection(ws, stream, handshake, ws_scope)
                self.connections.append(conn)
                self.connected.set()
                try:
                    await self.handler(conn)
                except trio_websocket.ConnectionClosed:
                    pass  # the client went away while the script was talking: its business
                finally:
                    nursery.cancel_scope.cancel()


async def _nursery_in_scope(
    scope: trio.CancelScope, task_status: trio.TaskStatus[trio.Nursery]
) -> None:
    with scope:
        async with trio.open_nursery() as nursery:
            task_status.started(nursery)
            await trio.sleep_forever()


@asynccontextmanager
async def fake_server(
    handler: Handler = realtime,
    *,
    transport: Literal["tcp", "memory", "lockstep"] = "tcp",
    tls: ssl.SSLContext | None = None,
    reject: Reject | None = None,
    raw: Callable[[trio.abc.Stream], Awaitable[None]] | None = None,
    max_message_size: int = 64 * 1024 * 1024,
) -> AsyncIterator[FakeServer]:
    """Run a :class:`FakeServer` for the duration of the block.

    ``transport="tcp"`` listens on 127.0.0.1 port 0 (``server.url``; TLS with ``tls``);
    ``"memory"`` / ``"lockstep"`` serve whatever ``server.open_stream`` hands out.
    """
    server = FakeServer(handler, reject=reject, raw=raw, max_message_size=max_message_size)
    if transport == "lockstep":
        server._pair = trio.testing.lockstep_stream_pair
    async with trio.open_nursery() as nursery:
        server._nursery = nursery
        if transport == "tcp":
            listeners: list[Any] = list(await trio.open_tcp_listeners(0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            if tls is not None:
                listeners = [
                    trio.SSLListener(listener, tls, https_compatible=True) for listener in listeners
                ]
            server.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}"
            await nursery.start(trio.serve_listeners, server.serve_stream, listeners)
        else:
            server.url = "ws://fake.invalid"
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()


TEST_KEY = "sk-test-0123456789abcdef"


def client(server: FakeServer, **kwargs: Any) -> AbstractAsyncContextManager[RealtimeSession]:
    """``connect()`` to ``server`` (its URL, or its in-memory streams), model ``test-model``."""
    kwargs.setdefault("api_key", TEST_KEY)
    if "intent" not in kwargs:
        kwargs.setdefault("model", "test-model")
    if server.url == "ws://fake.invalid":
        kwargs.setdefault("open_stream", server.open_stream)
    return connect(url=server.base_url(), **kwargs)


async def drain(server: FakeServer, into: list[Any], **kwargs: Any) -> None:
    """Run a session against ``server`` that reads every event into ``into`` until it ends."""
    async with client(server, **kwargs) as session:
        async for event in session:
            into.append(event)


def tracked_tcp(
    server: FakeServer,
) -> tuple[Callable[[], Awaitable[trio.abc.Stream]], list[trio.SocketStream]]:
    """An ``open_stream`` for ``connect`` that opens real TCP to ``server`` and keeps each
    stream in the returned list, so a test can check the session closed its socket."""
    opened: list[trio.SocketStream] = []
    port = int(server.url.rsplit(":", 1)[1])

    async def open_stream() -> trio.abc.Stream:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        opened.append(stream)
        return stream

    return open_stream, opened
