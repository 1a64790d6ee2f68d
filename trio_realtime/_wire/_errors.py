"""The connection's exceptions: connecting failed, or the connection ended badly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from .._core._errors import RealtimeError

if TYPE_CHECKING:
    from .._core._events import ErrorDetails


class HandshakeError(RealtimeError):
    """Connecting failed before a session began.

    Raised by :func:`trio_realtime.connect` when the TLS or WebSocket handshake fails: the
    server closed the connection, answered with something that is not a WebSocket upgrade,
    or the certificate was refused. Failures to reach the host at all (refused, unreachable,
    unknown name) are the :class:`OSError` that :func:`trio.open_tcp_stream` raises.
    """


class ConnectionRejected(HandshakeError):
    """The server answered the WebSocket upgrade with an HTTP error instead of ``101``.

    Attributes:
        status_code: The HTTP status, for example ``403``.
        headers: The response headers as ``(name, value)`` byte pairs, names lower-cased.
        body: The response body (``b""`` when there was none).
    """

    def __init__(
        self,
        status_code: int,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        body: bytes = b"",
        *,
        message: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.body = body
        super().__init__(
            message or f"the server rejected the WebSocket handshake: HTTP {status_code}"
        )


class ConnectTimeout(HandshakeError, trio.TooSlowError):
    """Connecting (TCP, TLS, the WebSocket handshake and ``session.created``) took too long.

    Also a :class:`trio.TooSlowError`, so code written for :func:`trio.fail_after` catches it.
    """


class ConnectionClosed(RealtimeError):
    """The session's WebSocket closed in a way the application must hear about.

    Raised by the session's operations once the connection has ended abnormally: a close
    code other than 1000, a peer that vanished without a close frame (code 1006), or a
    keepalive ping that went unanswered. A normal close (1000) ends iteration instead, and
    only operations that can no longer succeed (``send``, ``wait_for``) raise this.

    Attributes:
        code: The WebSocket close code (1006 when no close frame arrived).
        reason: The close reason the peer gave, or ``None``. OpenAI-style servers send
            ``"<error.type>.<error.code>"``, for example ``"invalid_request_error.invalid_model"``.
        error: The ``error`` object of the server's ``error`` event sent right before the
            close, when there was one; it usually explains the close.
    """

    def __init__(
        self,
        code: int,
        reason: str | None = None,
        error: ErrorDetails | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.error = error
        if message is None:
            message = f"connection closed: code {code}" + (f" ({reason})" if reason else "")
            if error is not None:
                message += f": {error.message}"
        super().__init__(message)


class AuthenticationError(ConnectionClosed):
    """The server refused the credentials.

    OpenAI-style servers accept the WebSocket upgrade, then send an ``error`` event
    (``invalid_api_key``, or a missing-credentials message) and close with 3000. Others
    (gateways, proxies, an account without Realtime access) answer the upgrade itself with
    HTTP 401 or 403: the exception is then also a :class:`ConnectionRejected`, with its
    ``status_code``, ``headers`` and ``body``, and its ``code`` is 1006, the code a browser
    reports for a WebSocket that never opened. :func:`trio_realtime.connect` raises either
    before yielding a session. The API key never appears in the message.
    """


class UpgradeAuthenticationError(AuthenticationError, ConnectionRejected):
    """An :class:`AuthenticationError` that is also a :class:`ConnectionRejected`: the server
    answered the WebSocket upgrade with HTTP 401 or 403 (see :class:`AuthenticationError`)."""

    def __init__(
        self,
        status_code: int,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        body: bytes = b"",
        *,
        message: str,
    ) -> None:
        # Both bases set attributes and call ``super().__init__`` with their own signatures;
        # set everything here and initialise the exception once.
        self.status_code = status_code
        self.headers = headers
        self.body = body
        self.code = 1006
        self.reason = None
        self.error = None
        RealtimeError.__init__(self, message)


class DialectRefused(ConnectionClosed):
    """The server does not speak the dialect the session asked for, and closed.

    OpenAI's public endpoint speaks only GA since 2026-05-12: a beta connection gets the
    ``error`` ``beta_api_shape_disabled`` and close 4000. The reference server limited to beta
    (``serve --dialects beta``) answers a GA connection with ``missing_beta_header``. The
    message names the way out: ``connect(..., dialect="ga")`` (or ``"beta"``).

    Attributes:
        dialect: The dialect the server refused (``"beta"`` or ``"ga"``).
        suggestion: The one to connect with instead.
    """

    def __init__(
        self,
        code: int,
        reason: str | None = None,
        error: ErrorDetails | None = None,
        *,
        dialect: str,
    ) -> None:
        self.dialect = dialect
        self.suggestion = "ga" if dialect == "beta" else "beta"
        shape = "beta protocol (OpenAI-Beta: realtime=v1)" if dialect == "beta" else "GA protocol"
        detail = f": {error.message}" if error is not None else ""
        super().__init__(
            code,
            reason,
            error,
            message=(
                f"the server does not speak the {shape} (close {code}"
                f"{f', {reason}' if reason else ''}){detail} -- connect with "
                f'dialect="{self.suggestion}"'
            ),
        )
