"""``trio_realtime.connect()``: the one way to open a :class:`RealtimeSession`."""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import trio

from .._core._dialects import DialectName
from .._core._events._server import SessionCreated, TranscriptionSessionCreated
from .._core._recording import Recorder
from .._core._tools import FunctionTool, tool_registry
from .._wire._connection import (
    MAX_MESSAGE_SIZE,
    RECEIVE_BUFFER_SIZE,
    Auth,
    ConnectionConfig,
    build_config,
    open_transport,
)
from .._wire._errors import ConnectTimeout
from .._wire._groups import drop_cancelled_context, raise_single
from ._options import SessionOptions
from ._resume_policy import ResumePolicy
from ._session import RealtimeSession

__all__ = ["connect"]


def connect(
    *,
    model: str | None = None,
    intent: str | None = None,
    url: str | None = None,
    dialect: DialectName = "beta",
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    api_key: str | None = None,
    auth: Auth = "header",
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 5.0,
    keepalive: float | None = 20.0,
    request_timeout: float = 30.0,
    outbound_queue_size: int = 64,
    inbound_queue_size: int = 64,
    receive_buffer_size: int | None = RECEIVE_BUFFER_SIZE,
    max_message_size: int = MAX_MESSAGE_SIZE,
    open_stream: Callable[[], Awaitable[trio.abc.Stream]] | None = None,
    track_conversation: bool = True,
    keep_audio_seconds: float | None = None,
    record: str | os.PathLike[str] | None = None,
    tools: Iterable[FunctionTool | Callable[..., Any]] | None = None,
    tool_timeout: float = 30.0,
    handle_interruptions: bool | None = None,
    max_queued_responses: int = 32,
    resume: ResumePolicy | None = None,
) -> AbstractAsyncContextManager[RealtimeSession]:
    """Open a Realtime session; use as ``async with connect(...) as session:``.

    Entering connects (TCP, TLS for ``wss://``, the WebSocket upgrade) and waits for the
    server's ``session.created`` (or ``transcription_session.created``), so the session is
    ready for ``update_session`` when the block starts; that event is still the first one
    iteration yields. Leaving the block stops audio pumps, sends what was queued, closes
    with code 1000 (waiting at most ``close_timeout``) and closes the socket, whatever
    happened; no task outlives the block.

    Arguments are checked here, before any network traffic.

    Args:
        model: The model of a speech-to-speech session (``?model=MODEL``).
        intent: ``"transcription"`` for a transcription session (``?intent=transcription``;
            OpenAI's server refuses a model there). Give ``model``, ``intent``, or both for a
            server that wants a model beside the intent (speaches:
            ``?model=...&intent=transcription``). Either may instead come from ``url`` or
            ``query``, but each from one place only.
        url: The endpoint, ``wss://`` or (for local servers) ``ws://``; its own query
            parameters are kept, first. Default: the dialect's (:data:`trio_realtime.BETA_URL`
            for beta, :data:`trio_realtime.GA_URL`, OpenAI's public endpoint, for GA).
        dialect: The wire shape: ``"beta"`` (``OpenAI-Beta: realtime=v1``, the default) or
            ``"ga"`` (the generally available protocol: no beta marker, nested session
            configuration, ``response.output_audio.*`` names...). The application's code is
            the same for both: events are translated to and from the same classes (README.rst,
            "Dialects", has the table and what happens to a field only one dialect has).
        query: Extra query parameters.
        headers: Extra request headers; one named like ours replaces ours (for example an
            ``api-key`` header with ``auth=None`` for Azure).
        api_key: The key; default: the ``API_KEY`` environment variable, then
            ``OPENAI_API_KEY``. It never appears in a repr, log line or exception message.
        auth: ``"header"`` sends ``Authorization: Bearer KEY`` (and, for beta, ``OpenAI-Beta:
            realtime=v1``); ``"subprotocol"`` sends the browser form, subprotocols
            ``realtime``, ``openai-insecure-api-key.KEY`` (and, for beta,
            ``openai-beta.realtime-v1``), no Authorization header; ``None`` sends no
            credentials (no key needed).
        ssl_context: TLS settings for ``wss://``; default: the system's trusted CAs.
        connect_timeout: Seconds for everything up to ``session.created``.
        close_timeout: Seconds allowed for the graceful close.
        keepalive: A peer (or network) that vanished without a close frame is detected
            within this many seconds, idle or streaming: a ping goes out every
            ``keepalive / 2`` s and must be answered within ``keepalive / 2`` s unless the
            peer is still taking our data; pings never wait for writes. A slow application
            that stops reading is not a dead peer. The session then ends with
            ``ConnectionClosed`` (1006). ``None`` turns pings off.
        request_timeout: Seconds the server has to answer a request: the default timeout
            of :meth:`RealtimeSession.request`, and how long a ``response.create`` may wait
            for its ``response.created`` (or error) before its handle fails with
            ``trio.TooSlowError`` and the response queue moves on.
        outbound_queue_size: Events ``send`` may queue before it waits.
        inbound_queue_size: Unread events of the session's own stream at which, once the
            application reads it, the session stops reading the socket (backpressure); also
            how many events a stream nobody has read yet keeps (see README.rst, "Who gets
            which event").
        receive_buffer_size: Bytes per socket read (64 KiB; see ``_connection``).
        max_message_size: Largest message accepted from the server (64 MiB).
        open_stream: An async callable returning the byte stream to use instead of opening
            TCP/TLS to the URL's host (tests over ``trio.testing.memory_stream_pair``, Unix
            sockets, proxies). The URL still gives the ``Host`` header and the path. The
            session owns the stream and closes it.
        track_conversation: Keep :attr:`RealtimeSession.conversation` up to date from every
            event (on by default; a few microseconds per event: audio deltas are kept as
            their base64 text and decoded only when read). Off, the property raises.
        keep_audio_seconds: How much assistant audio the conversation keeps per item (the
            last N seconds; ``None`` keeps all, ``0`` none). Input audio is not kept (but see
            ``resume``'s ``input_audio_seconds``).
        record: Write every event, both directions, to this file as JSON lines with monotonic
            timestamps (see :func:`trio_realtime.read_recording`). Keys are never written.
        tools: Functions the model may call (:func:`trio_realtime.tool` objects, or plain
            callables, wrapped with it). Entering the block then also sends them in a
            ``session.update`` and waits for ``session.updated`` (which the event stream
            still yields, after ``session.created``). When a default-conversation response
            finishes with function calls, the session runs them concurrently in its nursery,
            sends one ``function_call_output`` per call (an unknown tool, bad arguments, an
            exception or a timeout become an output saying so) and then asks for exactly one
            follow-up response; calls of a cancelled response are answered "not run", without
            a follow-up. Sync tools run inline and must be quick (see
            :class:`trio_realtime.FunctionTool`). :meth:`RealtimeSession.set_tools` changes
            them later.
        tool_timeout: Seconds a tool call may take (a tool's own ``timeout`` wins).
        handle_interruptions: Barge-in handling: when server VAD hears the user start
            speaking over assistant audio, cancel the running response (unless the server's
            ``interrupt_response`` does it), truncate the item at what
            :attr:`RealtimeSession.playback` says was heard, and yield a
            :class:`trio_realtime.PlaybackInterrupted`. ``None`` (default): on whenever the
            conversation is tracked, which it needs.
        max_queued_responses: How many ``create_response`` requests may wait for the
            conversation to be free before ``create_response`` itself waits.
        resume: Carry the session on over new connections (a
            :class:`~trio_realtime.ResumePolicy`): a connection lost with a recoverable close
            (1001, 1005, 1006, 1011, 1012, 1013, ``session_expired``, a keepalive failure)
            no longer ends the session. It reconnects (backoff with full jitter, bounded by
            attempts and time), replays the last configuration and the conversation, sends
            what waited meanwhile (the outbound queue is the buffer: full, ``send`` waits),
            and yields a :class:`~trio_realtime.SessionResumed`. Before ``expires_at`` it
            recycles the session at a quiet point. Needs ``track_conversation``. Only a
            session that was ready resumes: failures while entering the block are raised.
            See README.rst, "Sessions that outlive their connection".

    Raises:
        ValueError: Neither ``model`` nor ``intent`` (anywhere), one of them given twice, an
            unknown ``dialect``,
            no API key, a bad URL, header or size, a bad tool, tools for a transcription
            session, ``handle_interruptions=True`` without ``track_conversation``. Raised by
            the call itself; also when entering, if the server refuses the tools.
        ConnectTimeout: Not connected within ``connect_timeout`` (a ``trio.TooSlowError``).
        ConnectionRejected: The server refused the upgrade with an HTTP status; has
            ``status_code`` and ``body``.
        HandshakeError: TLS failed, or the server closed the connection during the upgrade.
        AuthenticationError: The server refused the key: close code 3000 after the upgrade,
            or HTTP 401 / 403 instead of it (then also a ``ConnectionRejected``).
        ConnectionClosed: The server closed the connection before ``session.created``
            (for example 4000 for a bad model).
        DialectRefused: The server does not speak ``dialect`` (a :class:`ConnectionClosed`):
            OpenAI's endpoint refuses beta with ``beta_api_shape_disabled`` and close 4000;
            the message says to connect with ``dialect="ga"``.
        OSError: The host could not be reached.
    """
    config = build_config(
        model=model,
        intent=intent,
        url=url,
        query=query,
        headers=headers,
        api_key=api_key,
        auth=auth,
        ssl_context=ssl_context,
        receive_buffer_size=receive_buffer_size,
        max_message_size=max_message_size,
        open_stream=open_stream,
        dialect=dialect,
    )
    if not connect_timeout > 0:
        raise ValueError(f"connect_timeout must be positive, got {connect_timeout!r}")
    registry = tool_registry(tools or ())
    if registry and config.intent is not None:
        raise ValueError("a transcription session has no responses, hence no tools")
    options = SessionOptions(
        outbound_queue_size=outbound_queue_size,
        inbound_queue_size=inbound_queue_size,
        close_timeout=close_timeout,
        keepalive=keepalive,
        request_timeout=request_timeout,
        track_conversation=track_conversation,
        keep_audio_seconds=keep_audio_seconds,
        tools=tuple(registry.values()),
        tool_timeout=tool_timeout,
        handle_interruptions=handle_interruptions,
        max_queued_responses=max_queued_responses,
        resume=resume,
        connect_timeout=connect_timeout,
    )
    return _open_session(config, options, connect_timeout, record)


@asynccontextmanager
async def _open_session(
    config: ConnectionConfig,
    options: SessionOptions,
    connect_timeout: float,
    record: str | os.PathLike[str] | None,
) -> AsyncIterator[RealtimeSession]:
    recorder = None
    if record is not None:
        recorder = Recorder.open(
            record,
            clock=trio.current_time,
            metadata={"url": redacted_url(config.url), "dialect": config.dialect.name},
            secrets=(config.api_key,),
        )
    try:
        deadline = trio.current_time() + connect_timeout
        async with open_transport(config, deadline) as transport, trio.open_nursery() as nursery:
            session = RealtimeSession._create(transport, nursery, options, recorder)
            session._start()
            try:
                try:
                    with trio.fail_at(deadline):
                        await session.wait_for((SessionCreated, TranscriptionSessionCreated))
                        if options.tools:
                            await session._install_tools()
                    session._start_resumer()
                except trio.TooSlowError:
                    raise ConnectTimeout(
                        f"{config.url}: no session.created (or, with tools, session.updated) "
                        "before the connect timeout"
                    ) from None
                yield session
            finally:
                try:
                    await session.aclose()
                finally:
                    session._release()
                    nursery.cancel_scope.cancel()
            session._raise_unreported_failure()
    except BaseExceptionGroup as group:
        raise_single(group)
    except BaseException as exc:
        if not isinstance(exc, trio.Cancelled):
            drop_cancelled_context(exc)
        raise
    finally:
        if recorder is not None:
            recorder.close()


def redacted_url(url: str) -> str:
    """``url`` with the values of query parameters that may hold credentials removed."""
    parts = urlsplit(url)
    query = [
        (name, "<redacted>" if _SECRET_PARAM.search(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


_SECRET_PARAM = re.compile(r"key|token|secret|auth|sig", re.IGNORECASE)
