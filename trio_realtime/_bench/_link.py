"""How a worker talks to its coordinator: reports out, one start signal in.

A worker's drivers (:class:`~._trio_driver.TrioDriver`, :class:`~._asyncio_driver.AsyncioDriver`)
need three things from whoever started them, and nothing else:

* ``emit(tag, payload)``: hand a ``ready``, ``progress`` or ``result`` report over (never
  blocks);
* ``go_trio()`` / ``go_asyncio()``: wait, on the driver's event loop, for the start signal and
  return ``T0``, the instant streaming starts, on **this process's** ``time.monotonic()``;
* ``cpu_clock``: the clock the window's CPU is read from: :func:`~._meter.cpu_seconds` (the
  whole process) or a thread's CPU clock (reported as ``thread``).

:data:`PIPE_LINK` is the worker process of ``--processes``: JSON lines on stdout, ``go T0`` on
stdin (``T0`` the coordinator's monotonic instant, the same clock on one machine), CPU of the
whole process. The Dask link (:mod:`._dask_worker`) is the other implementation.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any, Final, Protocol

import trio

from ._meter import cpu_seconds
from ._worker import emit, parse_go

__all__ = ["PIPE_LINK", "PipeLink", "WorkerLink"]


class WorkerLink(Protocol):
    """The coordinator, as a worker's drivers see it."""

    @property
    def cpu_clock(self) -> Callable[[], float]:
        """CPU seconds of what runs the sessions (the process, or the loop's thread)."""
        ...

    def emit(self, tag: str, payload: dict[str, Any]) -> None:
        """Report ``payload`` under ``tag`` (``ready``, ``progress``, ``result``)."""
        ...

    async def go_trio(self) -> float:
        """Wait for the start signal on a trio loop; ``T0`` on this process's monotonic clock."""
        ...

    async def go_asyncio(self) -> float:
        """Wait for the start signal on an asyncio loop; ``T0`` as :meth:`go_trio`."""
        ...


class PipeLink:
    """The worker process's link: JSON lines on stdout, ``go T0`` read from stdin."""

    @property
    def cpu_clock(self) -> Callable[[], float]:
        """The whole process's CPU: the worker process runs nothing but its sessions."""
        return cpu_seconds

    def emit(self, tag: str, payload: dict[str, Any]) -> None:
        """Print one protocol line."""
        emit(tag, payload)

    async def go_trio(self) -> float:
        """Wait for ``go T0`` on stdin, without a thread."""
        buffer = b""
        async with trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())) as stdin:
            while b"\n" not in buffer:
                data = await stdin.receive_some(256)
                if not data:
                    break
                buffer += data
        return parse_go(buffer.split(b"\n", 1)[0])

    async def go_asyncio(self) -> float:
        """Wait for ``go T0`` on stdin, without a thread."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            return parse_go(await reader.readline())
        finally:
            transport.close()


#: The link of a worker process started by ``--processes`` (and of ``python -m
#: trio_realtime._bench._worker``).
PIPE_LINK: Final = PipeLink()
