"""The limits under every client, measured alone: system calls, waiting for a socket, switches.

CPU microseconds per operation (``time.thread_time``), the best of five rounds: what a read,
a write, a wait for the socket and a task switch cost on this machine, so that
``bench_breakdown.py`` can subtract them from the end-to-end figures.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Final

import trio

__all__ = ["asyncio_wait", "per_op", "syscalls", "trio_switches", "trio_wait"]

_BUFFER: Final = 4 * 1024 * 1024


def per_op(batch: Callable[[], int], seconds: float, repeats: int = 5) -> float:
    """CPU microseconds per operation: ``batch()`` runs some and returns how many; the best of
    ``repeats`` rounds of about ``seconds`` each (the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        ops, cpu = 0, 0.0
        while cpu < seconds:
            start = time.thread_time()
            ops += batch()
            cpu += time.thread_time() - start
        best = min(best, cpu / ops)
    return best * 1e6


async def per_op_async(
    batch: Callable[[], Awaitable[int]], seconds: float, repeats: int = 5
) -> float:
    """:func:`per_op` for an awaitable batch, on whichever event loop runs it."""
    best = float("inf")
    for _ in range(repeats):
        ops, cpu = 0, 0.0
        while cpu < seconds:
            start = time.thread_time()
            ops += await batch()
            cpu += time.thread_time() - start
        best = min(best, cpu / ops)
    return best * 1e6


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
    return a, b


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(_BUFFER):
            pass
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)


def syscalls(frame: bytes, seconds: float) -> dict[str, float]:
    """One ``send`` and one ``recv_into`` of ``frame`` over a socketpair, each timed alone
    (the other side's half is done outside the timed span)."""
    a, b = _pair()
    buffer = bytearray(65536)
    n = 50

    def send() -> float:
        start = time.thread_time()
        for _ in range(n):
            a.send(frame)
        spent = time.thread_time() - start
        _drain(b)
        return spent

    def recv() -> float:
        for _ in range(n):
            a.send(frame)
        start = time.thread_time()
        for _ in range(n):
            b.recv_into(buffer, len(frame))
        return time.thread_time() - start

    out = {}
    try:
        for name, timed in (("send", send), ("recv", recv)):
            best = float("inf")
            for _ in range(5):
                ops, cpu = 0, 0.0
                while cpu < seconds:
                    cpu += timed()
                    ops += n
                best = min(best, cpu / ops)
            out[name] = best * 1e6
    finally:
        a.close()
        b.close()
    return out


def trio_wait(frame: bytes, seconds: float, send_us: float, recv_us: float) -> float:
    """trio: the peer writes one frame; the reader waits for the socket and reads it. Per
    frame, minus the write and the read measured alone: the wait and the wake-up."""
    a, b = _pair()
    b.setblocking(False)
    buffer = bytearray(65536)
    result: list[float] = []

    async def main() -> None:
        async def batch() -> int:
            for _ in range(100):
                a.send(frame)
                await trio.lowlevel.wait_readable(b)
                b.recv_into(buffer, len(frame))
            return 100

        result.append(await per_op_async(batch, seconds))

    try:
        trio.run(main)
    finally:
        a.close()
        b.close()
    return max(0.0, result[0] - send_us - recv_us)


def asyncio_wait(frame: bytes, seconds: float, send_us: float) -> float:
    """asyncio: the peer writes one frame; the selector reports it, the transport reads it,
    ``data_received`` resolves the future a task awaits. Per frame, minus the write."""
    a, b = _pair()
    result: list[float] = []

    class Reader(asyncio.Protocol):
        waiter: asyncio.Future[None] | None = None

        def data_received(self, data: bytes) -> None:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, reader = await loop.create_connection(Reader, sock=b)

        async def batch() -> int:
            for _ in range(100):
                reader.waiter = loop.create_future()
                a.send(frame)
                await reader.waiter
            return 100

        result.append(await per_op_async(batch, seconds))
        transport.close()

    try:
        asyncio.run(main())
    finally:
        a.close()
    return max(0.0, result[0] - send_us)


def trio_switches(seconds: float) -> dict[str, float]:
    """One trio checkpoint (a task switch through the scheduler), and one item through a
    memory channel to a waiting task (beyond the producer's own checkpoint)."""
    result: dict[str, float] = {}

    async def main() -> None:
        async def checkpoints() -> int:
            for _ in range(200):
                await trio.lowlevel.checkpoint()
            return 200

        result["checkpoint"] = await per_op_async(checkpoints, seconds)
        send, receive = trio.open_memory_channel[object](64)

        async def consume() -> None:
            async for _ in receive:
                pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await trio.lowlevel.checkpoint()

            async def handoffs() -> int:
                for i in range(200):
                    send.send_nowait(i)
                    await trio.lowlevel.checkpoint()  # the consumer takes it
                return 200

            per_operation = await per_op_async(handoffs, seconds)
            result["handoff"] = max(0.0, per_operation - result["checkpoint"])
            await send.aclose()

    trio.run(main)
    return result
