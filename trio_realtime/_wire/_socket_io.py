"""Reading and writing a plain TCP socket with one scheduling pass per read.

A trio :class:`~trio.SocketStream` read is a cancellation check, a ``recv``, a yield to the
scheduler, and, when nothing was waiting, a failed ``recv`` and a wait for readiness: two
or three passes through the run loop per message at the rates the benchmark workload runs
(each of thousands of sessions receives a frame every 67 ms, one per read). Waiting for
readiness first and then reading is one pass, and a write that the kernel takes at once
needs none. This is what the session's WebSocket does for ``ws://`` on POSIX, using only
trio's public low-level API (:func:`trio.lowlevel.wait_readable` /
:func:`~trio.lowlevel.wait_writable` on the stream's own socket, whose ``aclose`` wakes
them); TLS streams and Windows keep the stream's own methods.
"""

from __future__ import annotations

import os
import sys
from typing import Protocol, final

import trio

__all__ = ["ByteIO", "RawSocketIO", "byte_io_for"]


class ByteIO(Protocol):
    """What the WebSocket needs of its byte stream (a subset of :class:`trio.abc.Stream`)."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Read at least one byte (``b""`` at end of stream)."""
        ...

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data``."""
        ...


@final
class RawSocketIO:
    """Reads and writes a connected, non-blocking socket's descriptor directly.

    ``receive_some`` waits for readiness, then reads: a checkpoint, one pass. ``send_all``
    writes what the kernel takes and waits for writability only for the rest, so a write
    that fits returns without a checkpoint (its caller's loop provides them). Errors are
    trio's: ``BrokenResourceError`` for a reset or broken pipe, ``ClosedResourceError``
    after the socket was closed.

    Args:
        socket: The trio socket under a :class:`trio.SocketStream`.
    """

    __slots__ = ("_socket",)

    def __init__(self, socket: trio.socket.SocketType) -> None:
        self._socket = socket

    @property
    def socket(self) -> trio.socket.SocketType:
        """The socket (closed when its ``fileno()`` is negative)."""
        return self._socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Wait until readable, then read up to ``max_bytes`` (64 KiB when ``None``)."""
        while True:
            await self.wait_readable()
            data = self.read_nowait(max_bytes)
            if data is not None:
                return data  # else a spurious wake-up

    async def wait_readable(self) -> None:
        """Wait until the socket has bytes (or its end) to read; a cancel here loses nothing.

        Raises:
            trio.ClosedResourceError: The socket was closed (before or while waiting).
        """
        socket = self._socket
        if socket.fileno() < 0:  # closed before we waited
            raise trio.ClosedResourceError("the socket was closed")
        await trio.lowlevel.wait_readable(socket)

    def read_nowait(self, max_bytes: int | None = None) -> bytes | None:
        """Read up to ``max_bytes`` (64 KiB when ``None``) if the socket has any; never waits.

        Returns:
            The bytes; ``b""`` at the end of the stream; ``None`` when there is nothing yet.

        Raises:
            trio.BrokenResourceError: The connection is reset.
            trio.ClosedResourceError: The socket was closed.
        """
        fd = self._socket.fileno()
        if fd < 0:
            raise trio.ClosedResourceError("the socket was closed")
        try:
            return os.read(fd, max_bytes or 65536)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise trio.BrokenResourceError(f"reading the socket failed: {exc}") from exc

    def write_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """Write what the kernel takes of ``data`` now (maybe 0 bytes); never waits.

        Raises:
            trio.BrokenResourceError: The connection is reset or the peer is gone.
            trio.ClosedResourceError: The socket was closed.
        """
        fd = self._socket.fileno()
        if fd < 0:
            raise trio.ClosedResourceError("the socket was closed")
        try:
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise trio.BrokenResourceError(f"writing the socket failed: {exc}") from exc

    async def wait_writable(self) -> None:
        """Wait until the kernel takes more bytes.

        Raises:
            trio.ClosedResourceError: The socket was closed.
        """
        if self._socket.fileno() < 0:
            raise trio.ClosedResourceError("the socket was closed")
        await trio.lowlevel.wait_writable(self._socket)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data``, waiting for writability only when the kernel is full."""
        view = memoryview(data)
        sent = 0
        with view:
            while True:
                sent += self.write_nowait(view[sent:])
                if sent >= len(view):
                    return
                await trio.lowlevel.wait_writable(self._socket)


def byte_io_for(stream: trio.abc.Stream) -> ByteIO:
    """The fastest correct way to move bytes on ``stream``: raw for plain TCP on POSIX."""
    if isinstance(stream, trio.SocketStream) and sys.platform != "win32":
        return RawSocketIO(stream.socket)
    return stream
