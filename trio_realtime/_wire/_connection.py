"""Opening the WebSocket: URL, credentials, transport settings, and a stream the session owns.

Everything this module hands upward is either a :class:`Transport` (an open
:class:`~trio_realtime._wire._websocket.ClientWebSocket` over a stream we open and close
ourselves) or one of the library's own exceptions; the only lower-level exception that
passes is :class:`WebSocketClosed`, which the session catches on its hot path and
translates with :func:`close_error`.

Owning the stream is what keeps sockets from leaking (a ``ResourceWarning``) after a
rejected handshake or a server-initiated close, the trap trio-websocket users fall into
(``shared/protocol/client-pitfalls.md``): whatever happens, ``open_transport`` closes it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Final, Literal, TypeAlias, final

import attrs
import trio

from .._core._dialects import BETA, Dialect, DialectName, dialect_named
from .._core._events import ErrorDetails
from ._errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionRejected,
    ConnectTimeout,
    DialectRefused,
    HandshakeError,
    UpgradeAuthenticationError,
)
from ._handshake import HandshakeFailed, HandshakeRefused, client_handshake
from ._websocket import ClientWebSocket, WebSocketClosed

__all__ = [
    "API_KEY_ENV_VARS",
    "BETA_URL",
    "DEFAULT_URL",
    "DEFAULT_URLS",
    "GA_URL",
    "MAX_MESSAGE_SIZE",
    "RECEIVE_BUFFER_SIZE",
    "Auth",
    "ConnectionConfig",
    "Transport",
    "WebSocketClosed",
    "build_config",
    "close_error",
    "open_transport",
    "redact",
]

logger = logging.getLogger("trio_realtime")

#: The default endpoint of the beta dialect: the project seed's documented beta endpoint.
#: OpenAI's own host answers every beta connection with ``beta_api_shape_disabled`` since
#: 2026-05-12 (server-behaviour.md, status).
BETA_URL: Final = "wss://api-platform.ope.ai/v1/realtime"
#: The default endpoint of the GA dialect: OpenAI's public Realtime API.
GA_URL: Final = "wss://api.openai.com/v1/realtime"
#: The default endpoint of each dialect.
DEFAULT_URLS: Final[dict[str, str]] = {"beta": BETA_URL, "ga": GA_URL}
#: The default endpoint of the default dialect (beta).
DEFAULT_URL: Final = BETA_URL
#: Environment variables read, in order, when ``api_key`` is not given.
API_KEY_ENV_VARS: Final = ("API_KEY", "OPENAI_API_KEY")
#: Bytes asked of the socket per read. 4 KiB (trio-websocket's default) costs about twice the
#: CPU per 6.6 KB audio delta (52 us against 25 us per message, client side, measured over
#: loopback); 256 KiB and 1 MiB were no better than 64 KiB, which is also trio's own default.
RECEIVE_BUFFER_SIZE: Final = 64 * 1024
#: Largest message accepted from the server. 1 MiB (trio-websocket's default) would close
#: the connection (1009) on a ``conversation.item.retrieved`` carrying a long user turn: 60 s of pcm16 is
#: 3.8 MB of base64. 64 MiB holds about 11 minutes.
MAX_MESSAGE_SIZE: Final = 64 * 1024 * 1024

#: How credentials travel: ``"header"`` (``Authorization: Bearer``), ``"subprotocol"`` (the
#: browser form, ``openai-insecure-api-key.<KEY>``), or ``None`` (none at all).
Auth: TypeAlias = Literal["header", "subprotocol"] | None

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # RFC 9110 token
_BAD_HEADER_VALUE = re.compile(r"[\x00\r\n]")


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    return text.replace(secret, "***") if secret and secret in text else text


@attrs.frozen(kw_only=True)
class ConnectionConfig:
    """Everything needed to open one connection, checked; the key never shows in a repr.

    Attributes:
        url: The URL requested, for messages and logs (it never contains the key).
        model: The ``model`` query parameter, from whichever place gave it, or ``None``.
        intent: The ``intent`` query parameter, likewise.
        host: Host name or address to connect to.
        port: TCP port.
        host_header: Value of the ``Host`` header.
        resource: Path and query string of the upgrade request.
        ssl_context: The TLS context for ``wss://``, ``None`` for ``ws://``.
        headers: Extra request headers, credentials included.
        subprotocols: Offered subprotocols, credentials included in subprotocol mode.
        api_key: The key, kept only to scrub it from server text; ``""`` when none is sent.
        receive_buffer_size: Bytes per socket read.
        max_message_size: Largest message accepted.
        open_stream: Factory replacing TCP/TLS, or ``None``.
        dialect: The wire shape spoken (it also decides the beta marker).
    """

    url: str
    model: str | None
    intent: str | None
    host: str
    port: int
    host_header: str
    resource: str
    ssl_context: ssl.SSLContext | None = attrs.field(repr=False)
    headers: tuple[tuple[bytes, bytes], ...] = attrs.field(repr=False)
    subprotocols: tuple[str, ...] = attrs.field(repr=False)
    api_key: str = attrs.field(repr=False)
    receive_buffer_size: int | None
    max_message_size: int
    open_stream: Callable[[], Awaitable[trio.abc.Stream]] | None = attrs.field(repr=False)
    dialect: Dialect = BETA


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Building one loads the CA store (milliseconds); one context serves every connection.
    return ssl.create_default_context()


def _resolve_key(api_key: str | None, auth: Auth, environ: Mapping[str, str]) -> str:
    if auth is None:
        return ""
    if api_key is None:
        api_key = next((environ[name] for name in API_KEY_ENV_VARS if environ.get(name)), None)
        if api_key is None:
            raise ValueError(
                "no API key: pass api_key=..., or set the API_KEY or OPENAI_API_KEY "
                "environment variable (or auth=None for a server that needs none)"
            )
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("api_key must be a non-empty string")
    if auth == "subprotocol":
        if not _TOKEN.match(api_key):
            raise ValueError("the API key has characters a WebSocket subprotocol cannot carry")
    elif _BAD_HEADER_VALUE.search(api_key) or not api_key.isascii():
        raise ValueError("the API key has characters an HTTP header cannot carry")
    return api_key


def _build_resource(
    parts: urllib.parse.SplitResult,
    model: str | None,
    intent: str | None,
    query: Mapping[str, str] | None,
) -> tuple[str, str | None, str | None]:
    """The request target, and the session's ``model`` and ``intent`` wherever they came from.

    ``model`` and ``intent`` may come from their arguments, the URL's own query or
    ``query=``, each from one place only; both may be present (a transcription session on a
    server that also wants a model, as speaches does). The URL's parameters come first, then
    ``model``, ``intent`` and ``query=``, in that order.
    """
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    extra = dict(query or {})
    for key, value in extra.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("query= must map str to str")
    found: dict[str, str | None] = {}
    for name, argument in (("model", model), ("intent", intent)):
        in_url = [value for key, value in pairs if key == name]
        places = [
            place
            for place, present in (
                ("the URL", bool(in_url)),
                ("query=", name in extra),
                (f"the {name}= argument", argument is not None),
            )
            if present
        ]
        if len(places) + max(len(in_url) - 1, 0) > 1:
            shown = " and ".join(places) if len(places) > 1 else places[0]
            raise ValueError(f"{name} is given more than once (in {shown}): give it once")
        chosen = argument
        if chosen is None:
            chosen = in_url[0] if in_url else extra.get(name)
        if chosen is not None and not chosen:
            raise ValueError(f"{name} must be a non-empty string")
        found[name] = chosen
    if found["model"] is None and found["intent"] is None:
        raise ValueError(
            "give model= (a speech-to-speech session, ?model=...) or intent='transcription' "
            "(a transcription session, which takes no model on OpenAI's server), or both for "
            "a server that wants a model beside the intent"
        )
    pairs += [(key, value) for key, value in (("model", model), ("intent", intent)) if value]
    pairs += extra.items()
    path = parts.path or "/"
    resource = path + "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    return resource, found["model"], found["intent"]


def _build_headers(
    auth: Auth, api_key: str, headers: Mapping[str, str] | None, *, beta: bool
) -> tuple[tuple[bytes, bytes], ...]:
    from .._core._version import __version__

    ours: dict[str, str] = {"User-Agent": f"trio-realtime/{__version__}"}
    if auth != "subprotocol" and beta:
        # The beta marker: it selects the beta shapes; GA has none. In the browser form the
        # subprotocol openai-beta.realtime-v1 stands in for it.
        ours["OpenAI-Beta"] = "realtime=v1"
    if auth == "header":
        ours["Authorization"] = f"Bearer {api_key}"
    given = dict(headers or {})
    for name, value in given.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if not isinstance(value, str) or _BAD_HEADER_VALUE.search(value):
            raise ValueError(f"invalid value for header {name!r}")
    # A header the caller gives replaces ours of the same name (e.g. an Azure ``api-key``).
    replaced = {name.lower() for name in given}
    merged = [(k, v) for k, v in ours.items() if k.lower() not in replaced] + list(given.items())
    try:
        return tuple((k.encode("ascii"), v.encode("latin-1")) for k, v in merged)
    except UnicodeEncodeError:
        raise ValueError("header values must be latin-1 text") from None


def build_config(
    *,
    model: str | None,
    intent: str | None,
    url: str | None,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    api_key: str | None,
    auth: Auth,
    ssl_context: ssl.SSLContext | None,
    receive_buffer_size: int | None,
    max_message_size: int,
    open_stream: Callable[[], Awaitable[trio.abc.Stream]] | None,
    environ: Mapping[str, str] | None = None,
    dialect: DialectName = "beta",
) -> ConnectionConfig:
    """Check the arguments of :func:`trio_realtime.connect` and build the request.

    ``url`` ``None`` is the dialect's default endpoint (:data:`DEFAULT_URLS`).

    Raises:
        ValueError: Neither ``model`` nor ``intent`` (as arguments or in the URL or
            ``query``), or one of them given twice; a URL that is not ``ws://`` or
            ``wss://``; no API key; a header or key that HTTP cannot carry; bad sizes.
        TypeError: An argument of the wrong type.
    """
    spoken = dialect_named(dialect)
    if url is None:
        url = DEFAULT_URLS[spoken.name]
    for name, value in (("model", model), ("intent", intent)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be a non-empty string")
    if auth not in ("header", "subprotocol", None):
        raise ValueError(f"auth must be 'header', 'subprotocol' or None, not {auth!r}")
    if receive_buffer_size is not None and receive_buffer_size < 1:
        raise ValueError("receive_buffer_size must be positive (or None)")
    if max_message_size < 1:
        raise ValueError("max_message_size must be positive")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"url must start with ws:// or wss://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"url has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry credentials; use api_key=")
    if parts.fragment:
        raise ValueError("url must not have a #fragment")
    secure = parts.scheme == "wss"
    if ssl_context is not None and not secure:
        raise ValueError("ssl_context is only used with wss:// URLs")
    key = _resolve_key(api_key, auth, os.environ if environ is None else environ)
    default_port = 443 if secure else 80
    port = parts.port or default_port
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    resource, model, intent = _build_resource(parts, model, intent, query)
    subprotocols: tuple[str, ...] = ()
    if auth == "subprotocol":
        subprotocols = ("realtime", f"openai-insecure-api-key.{key}")
        if spoken is BETA:
            subprotocols += ("openai-beta.realtime-v1",)
    return ConnectionConfig(
        url=f"{parts.scheme}://{host_header}{resource}",
        model=model,
        intent=intent,
        host=host,
        port=port,
        host_header=host_header,
        resource=resource,
        ssl_context=(ssl_context or _default_ssl_context()) if secure else None,
        headers=_build_headers(auth, key, headers, beta=spoken is BETA),
        subprotocols=subprotocols,
        api_key=key,
        receive_buffer_size=receive_buffer_size,
        max_message_size=max_message_size,
        open_stream=open_stream,
        dialect=spoken,
    )


@final
@attrs.define(eq=False)
class Transport:
    """An open WebSocket and the stream under it.

    Attributes:
        ws: The WebSocket, after a successful handshake.
        stream: The stream it runs on; :func:`open_transport` closes it on exit.
        config: What was asked for.
    """

    ws: ClientWebSocket
    stream: trio.abc.Stream
    config: ConnectionConfig

    async def abort(self) -> None:
        """Close the stream at once, without a close frame; every pending operation ends."""
        await trio.aclose_forcefully(self.stream)


async def _open_stream(config: ConnectionConfig) -> trio.abc.Stream:
    if config.open_stream is not None:
        return await config.open_stream()
    if config.ssl_context is None:
        return await trio.open_tcp_stream(config.host, config.port)
    stream = await trio.open_ssl_over_tcp_stream(
        config.host, config.port, ssl_context=config.ssl_context, https_compatible=True
    )
    try:
        # Handshake now, so a refused certificate is reported as such, not as a broken stream.
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        await trio.aclose_forcefully(stream)
        raise HandshakeError(
            f"TLS handshake with {config.host_header} failed: {exc.__cause__ or exc}"
        ) from exc
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream


#: HTTP answers to the upgrade that mean "not these credentials": an
#: :class:`~._errors.AuthenticationError` (README promises one for a rejected key).
_AUTH_STATUSES: Final = frozenset({401, 403})


def _rejected(refused: HandshakeRefused, config: ConnectionConfig) -> ConnectionRejected:
    text = redact(refused.body[:300].decode("utf-8", "replace").strip(), config.api_key)
    status = refused.status_code
    if status in _AUTH_STATUSES:
        detail = "the server rejected the credentials"
        message = f"{config.url}: {detail} at the WebSocket handshake: HTTP {status}"
        return UpgradeAuthenticationError(
            status, refused.headers, refused.body, message=message + (f": {text}" if text else "")
        )
    message = f"{config.url}: the server rejected the WebSocket handshake: HTTP {status}"
    return ConnectionRejected(
        status, refused.headers, refused.body, message=message + (f": {text}" if text else "")
    )


@asynccontextmanager
async def open_transport(config: ConnectionConfig, deadline: float) -> AsyncIterator[Transport]:
    """Connect, run the WebSocket handshake by ``deadline``, and yield the :class:`Transport`.

    On exit the stream is closed whatever happened (no close frame is sent here: that is the
    session's graceful close).

    Raises:
        ConnectTimeout: ``deadline`` passed before the handshake completed.
        ConnectionRejected: The server answered the upgrade with an HTTP error; for 401 and
            403 it is also an :class:`~._errors.AuthenticationError`.
        HandshakeError: TLS failed, or the connection ended during the handshake.
        OSError: The host could not be reached.
    """
    try:
        with trio.fail_at(deadline):
            stream = await _open_stream(config)
    except trio.TooSlowError:
        raise ConnectTimeout(
            f"{config.url}: could not connect before the connect timeout"
        ) from None
    try:
        try:
            with trio.fail_at(deadline):
                ws = await client_handshake(
                    stream,
                    host=config.host_header,
                    target=config.resource,
                    subprotocols=config.subprotocols,
                    headers=config.headers,
                    receive_buffer_size=config.receive_buffer_size,
                    max_message_size=config.max_message_size,
                )
        except trio.TooSlowError:
            raise ConnectTimeout(
                f"{config.url}: no WebSocket handshake before the connect timeout"
            ) from None
        except HandshakeRefused as exc:
            raise _rejected(exc, config) from None
        except HandshakeFailed as exc:
            raise HandshakeError(f"{config.url}: {redact(str(exc), config.api_key)}") from None
        logger.debug("connected to %s", config.url)
        yield Transport(ws, stream, config)
    finally:
        await trio.aclose_forcefully(stream)


def close_error(
    code: int, reason: str | None, error: ErrorDetails | None, api_key: str
) -> ConnectionClosed:
    """The exception for a connection the server closed with ``code`` (not 1000).

    3000 (the IANA code for "unauthorized", which OpenAI-style servers send for a bad or
    missing key) is an :class:`AuthenticationError`. The key is scrubbed from the reason and
    from the error message, should a server echo it.
    """
    if reason is not None:
        reason = redact(reason, api_key)
    if error is not None and api_key and api_key in error.message:
        error = attrs.evolve(error, message=redact(error.message, api_key))
    if code == 3000:
        return AuthenticationError(code, reason, error)
    refused = _REFUSED_DIALECTS.get(error.code if error is not None else None)
    if refused is not None:
        return DialectRefused(code, reason, error, dialect=refused)
    return ConnectionClosed(code, reason, error)


#: The error codes of a server that does not speak the dialect asked for, and that dialect:
#: OpenAI's GA-only service refuses the beta marker; the reference server, limited to beta
#: (``serve --dialects beta``), refuses a connection without it.
_REFUSED_DIALECTS: Final[dict[object, DialectName]] = {
    "beta_api_shape_disabled": "beta",
    "missing_beta_header": "ga",
}
