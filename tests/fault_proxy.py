"""A fault-injecting TCP proxy for the client's tests: what a network does to a session.

``open_fault_proxy(upstream_port)`` listens on a loopback port and forwards each connection to
the upstream server, both ways, until told to misbehave:

* :meth:`FaultProxy.blackhole` - from now on nothing moves either way and nothing is closed:
  the proxy stops reading (so the client's writes fill the socket buffers and stop) and
  stops writing. A dead route or a vanished peer looks like this.
* :meth:`FaultProxy.reset_mid_frame` - the next server-to-client WebSocket frame is cut in
  half, then the client's connection is reset (an RST: ``SO_LINGER`` 0).
* :meth:`FaultProxy.half_frame` - the next server-to-client frame is cut in half, then the
  proxy blackholes.
* :meth:`FaultProxy.cut` - every connection is reset at once (an RST to the client, the
  upstream closed): a route that vanished, a crashed server, seen from the client.

Each fault hits the connections open when it is asked for; a connection made later (a client
reconnecting) goes through untouched.

Server-to-client frames are found by reading the WebSocket headers after the HTTP ``101``,
so a cut always lands inside a frame. The client's keepalive pongs are such frames, so an
idle session has a frame to cut within ``keepalive / 2`` seconds.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, Literal

import trio

Fault = Literal["blackhole", "reset_mid_frame", "half_frame"]


class _FrameCutter:
    """Follows the server-to-client byte stream: HTTP head, then WebSocket frames."""

    def __init__(self) -> None:
        self._head = b""
        self._in_head = True
        self._header = b""  # the start of a frame header being read
        self._payload_left = 0  # payload bytes left in the current frame

    def cut_point(self, data: bytes) -> int | None:
        """Where, in ``data``, to cut so that half a frame goes through (None: no frame
        starts in ``data`` far enough to cut in it). Advances the state over ``data``."""
        pos = 0
        cut = None
        while pos < len(data):
            if self._in_head:
                self._head += data[pos : pos + 1]
                pos += 1
                if self._head.endswith(b"\r\n\r\n"):
                    self._in_head = False
                continue
            if self._payload_left:
                take = min(self._payload_left, len(data) - pos)
                pos += take
                self._payload_left -= take
                continue
            self._header += data[pos : pos + 1]
            pos += 1
            length = self._header_length()
            if length is not None:
                size, payload = length
                if len(self._header) == size:
                    self._header = b""
                    self._payload_left = payload
                    if cut is None and payload >= 2:
                        cut = pos + payload // 2
                        if cut > len(data):
                            cut = None  # the frame's middle is in a later read
        return cut

    def _header_length(self) -> tuple[int, int] | None:
        header = self._header
        if len(header) < 2:
            return None
        length = header[1] & 0x7F
        if length == 126:
            if len(header) < 4:
                return None
            return 4, struct.unpack("!H", header[2:4])[0]
        if length == 127:
            if len(header) < 10:
                return None
            return 10, struct.unpack("!Q", header[2:10])[0]
        return 2, length


class _Link:
    """One proxied connection and the fault that hits it."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.fault: Fault | None = None
        self.stalled = False
        self.scope = trio.CancelScope()
        self.client: trio.SocketStream | None = None

    def stall(self) -> None:
        if not self.stalled:
            self.stalled = True
            if self.proxy.fault_at is None:
                self.proxy.fault_at = trio.current_time()

    def reset(self) -> None:
        """An RST to the client now; the upstream is closed as the link ends."""
        self.stall()
        client = self.client
        if client is not None:
            client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.socket.close()
        self.scope.cancel()


class FaultProxy:
    """The proxy's controls; made by :func:`open_fault_proxy`.

    Attributes:
        port: The port clients connect to.
        upstream_port: Where new connections go (change it to follow a moved server).
        fault_at: ``trio.current_time()`` when the first fault took effect (``None`` before).
        connections: Connections accepted so far.
    """

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self.fault_at: float | None = None
        self.connections = 0
        self._links: set[_Link] = set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def blackhole(self) -> None:
        """Stop moving bytes, both ways, now, on every open connection."""
        for link in self._links:
            link.fault = "blackhole"
            link.stall()

    def reset_mid_frame(self) -> None:
        """Cut the next server frame in half, then reset the client's connection."""
        for link in self._links:
            link.fault = "reset_mid_frame"

    def half_frame(self) -> None:
        """Cut the next server frame in half, then stop moving bytes."""
        for link in self._links:
            link.fault = "half_frame"

    def cut(self) -> int:
        """Reset every open connection now (an RST to the client); return how many."""
        links = list(self._links)
        for link in links:
            link.reset()
        return len(links)

    async def _pipe_up(
        self, link: _Link, client: trio.SocketStream, server: trio.SocketStream
    ) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while not link.stalled:
                data = await client.receive_some(65536)
                if not data or link.stalled:
                    break
                await server.send_all(data)
        await trio.sleep_forever()  # stalled, or the client is gone: hold on to the upstream

    async def _pipe_down(
        self, link: _Link, server: trio.SocketStream, client: trio.SocketStream
    ) -> None:
        cutter = _FrameCutter()
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while not link.stalled:
                data = await server.receive_some(65536)
                if not data or link.stalled:
                    break
                cut = cutter.cut_point(data)  # followed always; acted on once armed
                if cut is None or link.fault not in _CUTS:
                    await client.send_all(data)
                    continue
                await client.send_all(data[:cut])
                if link.fault == "reset_mid_frame":
                    link.reset()
                    return
                link.stall()
        await trio.sleep_forever()

    async def _serve(self, client: trio.SocketStream) -> None:
        self.connections += 1
        link = _Link(self)
        link.client = client
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
        except OSError:
            await client.aclose()  # nothing listens upstream (a server restarting)
            return
        self._links.add(link)
        try:
            with link.scope:
                async with client, server, trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe_up, link, client, server)
                    nursery.start_soon(self._pipe_down, link, server, client)
        finally:
            self._links.discard(link)
            with contextlib.suppress(OSError):
                await trio.aclose_forcefully(server)
            with contextlib.suppress(OSError):
                await trio.aclose_forcefully(client)


_CUTS: Final = ("reset_mid_frame", "half_frame")


@asynccontextmanager
async def open_fault_proxy(upstream_port: int) -> AsyncIterator[FaultProxy]:
    """Run a :class:`FaultProxy` in front of ``127.0.0.1:upstream_port`` for the block."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    proxy = FaultProxy(port, upstream_port)

    async def handler(stream: trio.SocketStream) -> None:
        await proxy._serve(stream)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handler, listeners)
        try:
            yield proxy
        finally:
            nursery.cancel_scope.cancel()
