"""Raw descriptor I/O under the client WebSocket (plain TCP on POSIX): reads, writes that do
not fit in the kernel's buffer, ends, and a close that wakes a blocked reader."""

from __future__ import annotations

import sys

import pytest
import trio

from trio_realtime._wire._socket_io import RawSocketIO, byte_io_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors only")


def stream_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    left, right = trio.socket.socketpair()
    return trio.SocketStream(left), trio.SocketStream(right)


async def test_plain_sockets_get_raw_io_and_other_streams_keep_their_own() -> None:
    a, b = stream_pair()
    async with a, b:
        assert isinstance(byte_io_for(a), RawSocketIO)
    memory = trio.testing.memory_stream_pair()[0]
    assert byte_io_for(memory) is memory


async def test_bytes_arrive_in_order_even_past_the_kernel_buffer() -> None:
    a, b = stream_pair()
    payload = bytes(range(256)) * 40_000  # 10 MB: many waits for writability
    received = bytearray()
    async with a, b:
        writer, reader = RawSocketIO(a.socket), RawSocketIO(b.socket)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.send_all, payload)
                while len(received) < len(payload):
                    received += await reader.receive_some(65536)
    assert bytes(received) == payload


async def test_end_of_stream_reads_empty() -> None:
    a, b = stream_pair()
    async with b:
        await a.aclose()
        with trio.fail_after(5):
            assert await RawSocketIO(b.socket).receive_some() == b""


async def test_closing_the_stream_wakes_a_blocked_reader() -> None:
    a, b = stream_pair()
    async with a:
        io = RawSocketIO(b.socket)
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:

                async def read() -> None:
                    with pytest.raises(trio.ClosedResourceError):
                        await io.receive_some()

                nursery.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                await b.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await io.send_all(b"x")


async def test_writing_to_a_vanished_peer_is_broken_resource() -> None:
    a, b = stream_pair()
    async with a:
        await b.aclose()
        io = RawSocketIO(a.socket)

        async def write_until_refused() -> None:
            for _ in range(100):
                await io.send_all(b"x" * 65536)

        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
            await write_until_refused()
