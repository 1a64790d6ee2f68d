"""The server's side of an accepted WebSocket: RFC 6455 frames over the connection's stream.

Why not trio-websocket, which the server ran on first: on a framing error (a reserved bit, an
unknown opcode, an unmasked client frame, an oversize control frame, bad UTF-8) it ended the
TCP connection without the close frame RFC 6455 7.1.7 asks for (1002, or 1007 for bad
UTF-8); a ``UnicodeError`` from a non-ASCII handshake header escaped its reader; and each
message cost two task hops (its reader, its queue) on top of its framing. The client moved
off it for the last reason (``trio_realtime/_wire/_websocket.py``); the server now shares the
client's frame reader (in its masked mode: a server MUST fail an unmasked client frame,
5.1) and the HTTP side is :mod:`._upgrade`.

Nothing runs by itself here: the connection's receiver calls :meth:`receive_messages`, which
reads the socket once, answers pings and close frames, and returns the messages the read
completed. A protocol violation is raised as the :class:`~trio_realtime._wire._frames.FrameError`
it is, and answered by :meth:`ServerWebSocket.fail` when the caller chooses: the connection
first answers the messages that came before it. Writes come from several tasks (the sender,
the receiver's answers, the keepalive, a close) and take turns through a FIFO lock. Whether
a write may block forever is the stream's business (:class:`~._stream.GuardedStream`).
"""

from __future__ import annotations

from typing import Final, final

import trio

from .._wire._frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    ControlFrame,
    FrameError,
    FrameReader,
    close_payload,
    encode_server_frame,
    parse_close,
)
from .._wire._websocket import CloseInfo, WebSocketClosed

__all__ = ["ABNORMAL_CLOSURE", "ServerWebSocket"]

ABNORMAL_CLOSURE: Final = 1006
"""Recorded when the connection ended without a close frame (RFC 6455 7.1.5)."""


@final
class ServerWebSocket:
    """An accepted WebSocket over a stream it does not own (the caller closes the stream).

    Args:
        stream: The connection's stream, after the ``101`` was written.
        max_message_size: Largest message accepted, in bytes; a larger one is answered with
            close 1009.
        receive_buffer_size: Bytes asked of the stream per read.
        early: Bytes the client sent right after its upgrade request.

    Attributes:
        closed: How the connection ended, or ``None`` while it is open: the close frame's
            code either way (ours when the server closed first), 1002 / 1007 / 1009 when the
            client broke the protocol (and was sent that code), 1006 when the stream ended
            without a close frame.
        failed: Whether the server closed because the client broke the protocol; the
            client may still be sending, so its input is best drained before closing.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        max_message_size: int,
        receive_buffer_size: int,
        early: bytes = b"",
    ) -> None:
        self._stream = stream
        self._reader = FrameReader(max_message_size, masked=True)
        self._receive_buffer_size = receive_buffer_size
        self._ready: list[str | bytes | ControlFrame] = []
        self._ready_error: FrameError | None = None
        if early:
            self._consume(early)
        self._write_lock = trio.StrictFIFOLock()
        self._close_sent = False
        self._close_seen = trio.Event()
        self._pings: dict[bytes, trio.Event] = {}
        self.closed: CloseInfo | None = None
        self.failed = False

    def __repr__(self) -> str:
        state = "open" if self.closed is None else f"closed {self.closed.code}"
        return f"<ServerWebSocket {state}>"

    # -- writing -------------------------------------------------------------------------------

    async def _write(self, frame: bytes, *, control: bool = False) -> None:
        """Write one frame. A control frame (a pong, a close) is dropped quietly if the
        connection has ended; anything else raises."""
        async with self._write_lock:
            if self.closed is not None and not control:
                raise self._closed_error()
            try:
                await self._stream.send_all(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._ended(ABNORMAL_CLOSURE, None)
                if not control:
                    raise self._closed_error() from None

    async def send_message(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message, as one frame.

        Raises:
            WebSocketClosed: The connection has closed (or the server is closing it).
        """
        if self._close_sent or self.closed is not None:
            raise self._closed_error()
        if isinstance(message, str):
            await self._write(encode_server_frame(TEXT, message.encode()))
        else:
            await self._write(encode_server_frame(BINARY, message))

    async def ping(self, payload: bytes) -> None:
        """Send a ping and wait for its pong (or a later ping's: a peer may skip some).

        Raises:
            WebSocketClosed: The connection closed first.
        """
        if self._close_sent or self.closed is not None:
            raise self._closed_error()
        answered = self._pings[payload] = trio.Event()
        try:
            await self._write(encode_server_frame(PING, payload))
            await answered.wait()
        finally:
            self._pings.pop(payload, None)
        if self.closed is not None:
            raise self._closed_error()

    async def fail(self, violation: FrameError) -> None:
        """Answer a protocol violation the client committed (from :meth:`receive_messages`):
        send its close code at once and read no more; the caller closes the stream (after
        draining what the client still sends, see :attr:`failed`)."""
        self.failed = True
        self._ended(violation.code, violation.reason)
        if not self._close_sent:
            self._close_sent = True
            frame = encode_server_frame(CLOSE, close_payload(violation.code, violation.reason))
            await self._write(frame, control=True)

    async def aclose(self, code: int, reason: str | None) -> None:
        """Send a close frame and wait for the client's answer (read by whoever calls
        :meth:`receive_messages`); bound the wait with a timeout. No-op once closed.

        If reading stopped at a protocol violation not answered yet, nothing will read the
        answer: the close frame is sent and the connection counts as failed at once.
        """
        if self.closed is not None:
            return
        if not self._close_sent:
            self._close_sent = True
            await self._write(encode_server_frame(CLOSE, close_payload(code, reason)))
            if self.closed is None:
                self.closed = CloseInfo(code, reason)  # the account of the ending: ours
        if self._ready_error is not None:
            self.failed = True
            self._ended(code, reason)
        await self._close_seen.wait()

    # -- reading -------------------------------------------------------------------------------

    def _consume(self, data: bytes) -> None:
        try:
            self._ready = self._reader.feed(data)
        except FrameError as exc:
            self._ready, self._ready_error = exc.completed, exc

    async def receive_messages(self) -> list[str | bytes]:
        """Read the stream once; return the messages that read completed (maybe none).

        Pings are answered, pongs wake :meth:`ping`, a close frame is answered. Messages a
        read completed before a bad frame are returned first; the next call raises.

        Raises:
            WebSocketClosed: The connection has ended: by a close frame either way, or the
                stream ending without a close frame (1006).
            FrameError: The client broke the protocol (its ``code`` is 1002, 1007 or 1009);
                answer with :meth:`fail`. Nothing more can be read.
        """
        if self._close_seen.is_set():
            raise self._closed_error()
        if self._ready:
            await trio.lowlevel.checkpoint()
        else:
            if self._ready_error is not None:
                await trio.lowlevel.checkpoint()
                raise self._ready_error
            try:
                data = await self._stream.receive_some(self._receive_buffer_size)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._ended(ABNORMAL_CLOSURE, None)
                raise self._closed_error()
            self._consume(data if type(data) is bytes else bytes(data))
        frames, self._ready = self._ready, []
        messages: list[str | bytes] = []
        for frame in frames:
            if type(frame) is not ControlFrame:
                messages.append(frame)
            elif not await self._control(frame):
                break
        if not messages:
            if self._close_seen.is_set():
                raise self._closed_error()
            if self._ready_error is not None:
                raise self._ready_error
        return messages

    async def _control(self, frame: ControlFrame) -> bool:
        """Act on a control frame; False once the connection is over."""
        if frame.opcode == PING:
            if not self._close_sent:
                await self._write(encode_server_frame(PONG, frame.payload), control=True)
            return True
        if frame.opcode == PONG:
            if frame.payload in self._pings:
                for payload, event in list(self._pings.items()):
                    event.set()
                    if payload == frame.payload:
                        break
            return True
        try:
            code, reason = parse_close(frame.payload)
        except FrameError as exc:
            if self._close_sent:  # a bad answer to our close: the connection is over anyway
                self._ended(exc.code, exc.reason)
            else:
                self._ready_error = exc
            return False
        if not self._close_sent:  # the client closes first: echo it (RFC 6455 5.5.1)
            self._close_sent = True
            self._ended(code, reason)
            echo = encode_server_frame(CLOSE, close_payload(code, reason))
            await self._write(echo, control=True)
        self._ended(code, reason)
        return False

    def _closed_error(self) -> WebSocketClosed:
        return WebSocketClosed(self.closed or CloseInfo(ABNORMAL_CLOSURE, "closing"))

    def _ended(self, code: int, reason: str | None) -> None:
        """Record the first account of the ending and wake everyone waiting on it."""
        if self.closed is None:
            self.closed = CloseInfo(code, reason)
        self._close_seen.set()
        for event in self._pings.values():
            event.set()
