"""The client's WebSocket: our own framing, driven by the session's tasks.

Why not trio-websocket here (nor on the server, since): its connection runs a reader task of
its own that hands every message through a queue to whoever calls ``get_message``. Under the
session's receiver that is a second task hop per message, and those hops, with wsproto's
framing under them, were most of the receive path's cost (``benchmarks/README.rst``). Here
nothing runs by itself: the session's receiver calls :meth:`ClientWebSocket.receive_messages`,
which reads the socket once and returns every message the read completed, so a 64 KiB read
full of audio deltas costs one checkpoint and one hand-off to the application per event.

The HTTP upgrade that opens it is :mod:`._handshake`; the frames are :mod:`._frames`. Writes come from several tasks (the sender, the receiver answering pings
and closes, the keepalive); a flag and a parking lot keep them one at a time without a
checkpoint of their own when nobody else is writing. A write cancelled half-way may leave
part of a frame on the wire, so it ends the connection (``client-pitfalls.md``).
"""

from __future__ import annotations

import itertools
import math
from typing import Final, final

import attrs
import trio

from ._flag import Flag
from ._frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    ControlFrame,
    FrameError,
    FrameReader,
    close_payload,
    encode_frame,
    parse_close,
)
from ._socket_io import RawSocketIO, byte_io_for

__all__ = [
    "ClientWebSocket",
    "CloseInfo",
    "WebSocketClosed",
]

#: Close code when the connection ended without a close frame (RFC 6455 7.1.5).
ABNORMAL_CLOSURE: Final = 1006
#: Bytes per ``send_all`` on streams other than a raw socket (TLS, memory streams), so that
#: a write in progress shows progress to the keepalive at least this often.
_PIECE: Final = 64 * 1024


@attrs.frozen
class CloseInfo:
    """How the WebSocket ended.

    Attributes:
        code: The peer's close code (its answer when we closed first; 1006 when the
            connection ended without a close frame; ours when we closed for a protocol error).
        reason: The close reason, or ``None``.
    """

    code: int
    reason: str | None


class WebSocketClosed(Exception):
    """An operation on a WebSocket that has closed; ``closed`` says how it ended.

    Args:
        closed: How the connection ended.
    """

    def __init__(self, closed: CloseInfo) -> None:
        super().__init__(f"the WebSocket is closed: {closed.code} {closed.reason or ''}".strip())
        self.closed = closed


@final
class ClientWebSocket:
    """An open client WebSocket over a stream it does not own (the caller closes the stream).

    Attributes:
        closed: How the connection ended, or ``None`` while it is open.
        subprotocol: The subprotocol the server chose, if any.
        bytes_sent: Bytes written, handshake and framing included.
        bytes_received: Bytes read, handshake and framing included.
        pings_written: The number of the last ping fully written.
        pongs_received: The number of the last ping a pong answered.
        progress_at: When the socket last took bytes after a write had to wait for it
            (``trio.current_time()``; ``-inf`` before that ever happened).
    """

    def __init__(
        self, stream: trio.abc.Stream, receive_buffer_size: int | None, max_message_size: int
    ) -> None:
        self._io = byte_io_for(stream)
        self._raw = self._io if isinstance(self._io, RawSocketIO) else None
        self._unsent: bytes = b""  # the tail of a frame begun by a write that did not finish
        self._unsent_ping = 0  # the number of a ping whose frame is (partly) in _unsent
        self._reader = FrameReader(max_message_size)
        self._receive_buffer_size = receive_buffer_size
        self._ready: list[str | bytes | ControlFrame] = []  # frames that came with the 101
        self._ready_error: FrameError | None = None  # ... or how they broke the protocol
        self._close_sent = False
        self._writing = False
        # Made when a second writer first has to wait (most sessions never have one).
        self._write_lot: trio.lowlevel.ParkingLot | None = None
        self._ping_ids = itertools.count(1)
        self._ping_frame: bytes | None = None  # a ping the next write (or flush) sends first
        self._ping_frame_number = 0
        self._last_ping = 0  # the number of the last ping asked for
        self._pong_waiters: dict[int, trio.Event] = {}  # ping() calls waiting for a pong
        self._close_seen = Flag()
        self.closed: CloseInfo | None = None
        self.subprotocol: str | None = None
        self.bytes_sent = 0
        self.bytes_received = 0
        self.pings_written = 0
        self.pongs_received = 0
        self.progress_at = -math.inf

    def __repr__(self) -> str:
        state = "open" if self.closed is None else f"closed {self.closed.code}"
        return f"<ClientWebSocket {state}>"

    def take_trailing(self, trailing: bytes) -> None:
        """Bytes that arrived with the 101: parsed now, returned by the first read."""
        if trailing:
            try:
                self._ready = self._reader.feed(trailing)
            except FrameError as exc:
                self._ready, self._ready_error = exc.completed, exc

    # -- writing -------------------------------------------------------------------------------
    #
    # Writers (the session's sender or caller, the receiver answering pings and closes, flush)
    # take turns on a flag and a parking lot. Keepalive pings never wait for that turn:
    # :meth:`request_ping` writes at once when the socket is free, else leaves the frame for
    # whoever holds the turn to write right after its own frame. So a ping never waits behind
    # a write. :attr:`progress_at` is the keepalive's other sign of life: the last time the
    # socket took bytes after making a write wait (the peer acknowledged data).

    async def _write(self, data: bytes, *, control: bool = False) -> None:
        while self._writing:
            if self._write_lot is None:
                self._write_lot = trio.lowlevel.ParkingLot()
            await self._write_lot.park()
        if self.closed is not None and not control:
            raise self._closed_error()
        self._writing = True
        done = False
        try:
            while True:
                ping = 0
                if self._unsent or self._ping_frame is not None:
                    pending, ping = self._take_pending()
                    data = pending + data
                await self._send_all(data)
                if ping > self.pings_written:
                    self.pings_written = ping
                if self._ping_frame is None:  # else a ping was asked for during the write
                    break
                data = b""
            done = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._ended(ABNORMAL_CLOSURE, None)
            if control:
                return
            raise self._closed_error() from None
        finally:
            self._writing = False
            if self._write_lot is not None:
                self._write_lot.unpark()
            if not done and self.closed is None:
                # Cancelled mid-write: part of a frame may be on the wire, so no frame after
                # it could be trusted.
                self._ended(ABNORMAL_CLOSURE, "a write was cancelled")

    def _take_pending(self) -> tuple[bytes, int]:
        """What must go before the next frame: the tail of an unfinished frame, then a
        requested ping; and the number of the last ping they finish (0 if none)."""
        pending, ping = self._unsent, self._unsent_ping
        self._unsent, self._unsent_ping = b"", 0
        frame = self._ping_frame
        if frame is not None:
            self._ping_frame = None
            pending += frame
            ping = self._ping_frame_number
        return pending, ping

    async def _send_all(self, data: bytes) -> None:
        """Write ``data``; note :attr:`progress_at` when the socket takes bytes after a wait."""
        raw = self._raw
        if raw is not None:
            view = memoryview(data)
            with view:
                sent = raw.write_nowait(view)
                self.bytes_sent += sent
                while sent < len(view):
                    await raw.wait_writable()
                    written = raw.write_nowait(view[sent:])
                    if written:
                        sent += written
                        self.bytes_sent += written
                        self.progress_at = trio.current_time()
            return
        # A stream's send_all is opaque: write in pieces, so a slow but moving connection
        # shows progress at least every _PIECE bytes (a piece that took time had to wait).
        for start in range(0, len(data), _PIECE):
            piece = data[start : start + _PIECE] if len(data) > _PIECE else data
            before = trio.current_time()
            await self._io.send_all(piece)
            after = trio.current_time()
            if after > before:
                self.progress_at = after
            self.bytes_sent += len(piece)

    async def send_message(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message, as one frame.

        Raises:
            WebSocketClosed: The connection has closed (or is closing).
        """
        if self._close_sent or self.closed is not None:
            raise self._closed_error()
        if isinstance(message, str):
            await self._write(encode_frame(TEXT, message.encode()))
        else:
            await self._write(encode_frame(BINARY, message))

    @property
    def writes_directly(self) -> bool:
        """Whether :meth:`try_send_now` can ever succeed (plain TCP on POSIX)."""
        return self._raw is not None

    @property
    def has_unsent(self) -> bool:
        """Whether bytes wait for :meth:`flush` (or any later write, which sends them first):
        the end of a frame begun by :meth:`try_send_now`, or a requested ping."""
        return bool(self._unsent) or (self._ping_frame is not None and not self._writing)

    def try_send_now(self, message: str) -> bool:
        """Write one text message at once, without waiting, if nothing else is being written.

        Used by the session to send from the caller's task when its sender is idle, which
        saves a task switch per event. No checkpoint: the caller provides them.

        Returns:
            True if the kernel took the frame or its start (the rest then waits for
            :meth:`flush`); False if nothing was written: the socket is full, another write
            is in progress, the transport is not a plain socket, or the connection is over.
        """
        raw = self._raw
        if (
            raw is None
            or self._writing
            or self._unsent
            or self._ping_frame is not None
            or self._close_sent
            or self.closed
        ):
            return False
        frame = encode_frame(TEXT, message.encode())
        return self._write_now(raw, frame, 0)

    def _write_now(self, raw: RawSocketIO, frame: bytes, ping: int) -> bool:
        """Write what the kernel takes of ``frame`` now; keep the rest in ``_unsent``."""
        try:
            written = raw.write_nowait(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._ended(ABNORMAL_CLOSURE, None)
            return False
        if not written:
            return False
        self.bytes_sent += written
        if written < len(frame):
            self._unsent, self._unsent_ping = frame[written:], ping
        elif ping > self.pings_written:
            self.pings_written = ping
        return True

    async def flush(self) -> None:
        """Write what :meth:`try_send_now` left unsent and any requested ping, if anything.

        Raises:
            WebSocketClosed: The connection has closed.
        """
        if self._unsent or self._ping_frame is not None:
            await self._write(b"")

    def request_ping(self) -> int:
        """Ask for a ping, without ever waiting; return its number.

        The ping is written at once when no write is in progress and the socket takes it;
        otherwise the write in progress sends it right after its own frame, or the next
        :meth:`flush` does (:attr:`has_unsent` says whether one is needed). Its pong (or a
        later one) raises :attr:`pongs_received` to at least this number, and
        :attr:`pings_written` reaches it once the frame is on the wire.

        Raises:
            WebSocketClosed: The connection has closed (or is closing).
        """
        if self._close_sent or self.closed is not None:
            raise self._closed_error()
        number = self._last_ping = next(self._ping_ids)
        frame = encode_frame(PING, number.to_bytes(8, "big"))
        raw = self._raw
        if (
            raw is not None
            and not self._writing
            and not self._unsent
            and self._ping_frame is None
            and self._write_now(raw, frame, number)
        ):
            return number
        # A pong for this ping answers every earlier one: an older ping not yet written
        # can be replaced.
        self._ping_frame, self._ping_frame_number = frame, number
        return number

    async def ping(self) -> None:
        """Send a ping and wait for its pong (or a later one).

        Raises:
            WebSocketClosed: The connection closed first.
        """
        number = self.request_ping()
        answered = self._pong_waiters.get(number)
        if answered is None:
            answered = self._pong_waiters[number] = trio.Event()
        try:
            if self.has_unsent:
                await self.flush()
            await answered.wait()
        finally:
            self._pong_waiters.pop(number, None)
        if self.pongs_received < number:
            raise self._closed_error()

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Start the close handshake and wait for the peer's close frame.

        The peer's answer is read by whoever calls :meth:`receive_messages`, so a task must be
        doing that; bound the wait with a timeout. The stream itself is the caller's to close.
        """
        if not self._close_sent and self.closed is None:
            self._close_sent = True
            try:
                await self._write(encode_frame(CLOSE, close_payload(code, reason)))
            except WebSocketClosed:
                return
        await self._close_seen.wait()

    # -- reading -------------------------------------------------------------------------------

    async def receive_messages(self) -> list[str | bytes]:
        """Read the socket once; return the messages that read completed (maybe none).

        Pings are answered, pongs wake :meth:`ping`, a close frame is answered and recorded
        in :attr:`closed`. Messages completed before the end are returned first; the next
        call raises.

        Raises:
            WebSocketClosed: The connection has closed: by a close frame either way, a message
                over the size limit (1009, sent to the peer), a protocol violation by the peer
                (1002 or 1007, sent to the peer), or the stream ending without a close frame
                (1006).
        """
        if self.closed is not None:
            raise self._closed_error()
        if self._ready_error is not None and not self._ready:
            exc, self._ready_error = self._ready_error, None
            await self._fail(exc)
            raise self._closed_error()
        if self._ready:
            frames, self._ready = self._ready, []
            await trio.lowlevel.checkpoint()
        else:
            try:
                data = await self._io.receive_some(self._receive_buffer_size)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self._ended(ABNORMAL_CLOSURE, None)
                raise self._closed_error()
            self.bytes_received += len(data)
            try:
                frames = self._reader.feed(data if type(data) is bytes else bytes(data))
            except FrameError as exc:
                if not exc.completed:
                    await self._fail(exc)
                    raise self._closed_error() from None
                # What the read completed before the bad frame is delivered; the next call
                # closes with the error.
                frames, self._ready_error = exc.completed, exc
        messages: list[str | bytes] = []
        for frame in frames:
            if type(frame) is not ControlFrame:
                messages.append(frame)
            elif not await self._control(frame):
                break
        if not messages and self.closed is not None:
            raise self._closed_error()
        return messages

    @property
    def reads_directly(self) -> bool:
        """Whether :meth:`wait_readable` and :meth:`read_now` work (plain TCP on POSIX)."""
        return self._raw is not None

    async def wait_readable(self) -> None:
        """Wait until :meth:`read_now` has something to read (plain TCP only). Cancelling it
        loses nothing: no byte has been read.

        Raises:
            WebSocketClosed: The connection has closed, or the socket was closed meanwhile.
        """
        raw = self._raw
        if self.closed is not None or raw is None:
            raise self._closed_error()
        socket = raw.socket
        try:
            if socket.fileno() < 0:
                raise trio.ClosedResourceError
            await trio.lowlevel.wait_readable(socket)
        except (trio.ClosedResourceError, OSError):
            self._ended(ABNORMAL_CLOSURE, None)
            raise self._closed_error() from None

    def read_now(self) -> list[str | bytes] | None:
        """Read the socket once without waiting, after :meth:`wait_readable` (plain TCP).

        The other half of :meth:`receive_messages`, for a reader that must not wait once it
        has taken bytes: pongs are taken in at once, but nothing is written.

        Returns:
            The messages the read completed (maybe none); ``None`` when what came needs an
            answer written (a ping, a close, a framing error) or earlier frames wait to be
            returned: then :meth:`receive_messages` answers it and returns the messages, in
            order.

        Raises:
            WebSocketClosed: The connection has closed or the stream ended (1006).
        """
        raw = self._raw
        if self.closed is not None or raw is None:
            raise self._closed_error()
        if self._ready or self._ready_error is not None:
            return None
        try:
            data = raw.read_nowait(self._receive_buffer_size)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if data is None:
            return []  # a spurious wake-up
        if not data:
            self._ended(ABNORMAL_CLOSURE, None)
            raise self._closed_error()
        self.bytes_received += len(data)
        try:
            frames = self._reader.feed(data)
        except FrameError as exc:
            self._ready, self._ready_error = exc.completed, exc
            return None
        pongs = False
        for frame in frames:
            if type(frame) is ControlFrame:
                if frame.opcode != PONG:
                    self._ready = frames  # receive_messages answers and returns them
                    return None
                self._pong(frame)
                pongs = True
        if pongs:
            return [frame for frame in frames if type(frame) is not ControlFrame]
        return frames  # type: ignore[return-value]  # messages only

    async def _control(self, frame: ControlFrame) -> bool:
        """Act on a control frame; False once the connection is over."""
        if frame.opcode == PING:
            if not self._close_sent and self.closed is None:
                await self._write(encode_frame(PONG, frame.payload), control=True)
            return True
        if frame.opcode == PONG:
            self._pong(frame)
            return True
        try:
            code, reason = parse_close(frame.payload)
        except FrameError as exc:
            await self._fail(exc)
            return False
        if not self._close_sent:  # the peer closes first: echo its code (RFC 6455 5.5.1)
            self._close_sent = True
            self._ended(code, reason)
            await self._write(encode_frame(CLOSE, close_payload(code, None)), control=True)
        self._ended(code, reason)
        return False

    def _pong(self, frame: ControlFrame) -> None:
        """A pong answers its ping and every earlier one (a peer may skip some)."""
        number = int.from_bytes(frame.payload, "big") if len(frame.payload) == 8 else 0
        if self._last_ping >= number > self.pongs_received:  # answers a ping we sent
            self.pongs_received = number
            for key in [key for key in self._pong_waiters if key <= number]:
                self._pong_waiters.pop(key).set()

    async def _fail(self, exc: FrameError) -> None:
        """The peer broke the protocol: close with the error's code, stop reading."""
        self._ended(exc.code, exc.reason)
        if not self._close_sent:
            self._close_sent = True
            await self._write(
                encode_frame(CLOSE, close_payload(exc.code, exc.reason)), control=True
            )

    def _closed_error(self) -> WebSocketClosed:
        """The error for an operation on a connection that has ended (or is closing: after
        our close frame nothing more may be sent, though the peer's answer is not in yet)."""
        return WebSocketClosed(self.closed or CloseInfo(ABNORMAL_CLOSURE, "closing"))

    def _ended(self, code: int, reason: str | None) -> None:
        """Record the first ending and wake everyone waiting on the connection."""
        if self.closed is None:
            self.closed = CloseInfo(code, reason)
        self._close_seen.set()
        for event in self._pong_waiters.values():
            event.set()
        if self._write_lot is not None:
            self._write_lot.unpark_all()
