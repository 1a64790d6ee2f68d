"""Child processes of the harness: the embedded server and the workers, as trio objects.

Each child is started with pipes; its stdout is read line by line by a task of the caller's
nursery. The server runs in its own process so the clients' CPU is measured apart from the
server's (and the other way round, from ``/proc/<pid>/stat``). :class:`ProcessLauncher` is
the ``--processes`` way of running workers (see :mod:`._launcher`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, final

import trio

from ._environment import clock_id
from ._launcher import Worker
from ._worker import KEY_ENV, WorkerSpec

__all__ = [
    "BenchError",
    "LineReader",
    "ProcessLauncher",
    "ServerProcess",
    "WorkerProcess",
    "machine_busy_seconds",
    "process_cpu_seconds",
]

_CLK_TCK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_STDERR_TAIL: Final = 4000
_START_SECONDS: Final = 30.0


class BenchError(Exception):
    """The harness could not run: a child died, a server did not start, nothing connected."""


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (``None`` without ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine spent busy since boot (``None`` without /proc).

    Busy is everything but idle and iowait, from the ``cpu`` line of ``/proc/stat``.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _CLK_TCK


@final
class LineReader:
    """Lines from a byte stream, without the newline; ``None`` at end of stream."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def readline(self) -> bytes | None:
        """The next line, or ``None`` once the stream has ended (a partial last line too)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            data = await self._stream.receive_some(65536)
            if not data:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line
                return None
            self._buffer += data


async def _collect_stderr(stream: trio.abc.ReceiveStream, tail: bytearray) -> None:
    async for data in stream:
        tail += data
        del tail[:-_STDERR_TAIL]


async def _close_pipes(process: trio.Process) -> None:
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            await pipe.aclose()


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _worker_command(*args: str) -> list[str]:
    # A profiling wrapper for workers (valgrind, say), from the environment: a development aid.
    prefix = os.environ.get("TRIO_REALTIME_BENCH_WORKER_PREFIX", "").split()
    return [*prefix, *_python(*args)]


@final
class ServerProcess:
    """The embedded server: the load server (``load``, or ``sink`` never streaming) or
    ``trio-realtime serve`` (``reference``).

    Use :meth:`start`; it stops when the nursery's scope ends or :meth:`stop` is called.
    """

    def __init__(self, process: trio.Process, kind: str, url: str, lines: LineReader) -> None:
        self.process = process
        self.kind = kind
        self.url = url
        self._lines = lines
        self._stats: trio.MemorySendChannel[dict[str, Any]] | None = None

    @classmethod
    async def start(
        cls,
        kind: str,
        response_seconds: float = 5.0,
        engine: str = "simulated",
        host: str = "127.0.0.1",
        extra: tuple[str, ...] = (),
    ) -> ServerProcess:
        """Start the ``load`` or ``sink`` server, or the ``reference`` server (realistic
        pacing, with ``engine`` and ``extra`` arguments of ``trio-realtime serve``), listening
        on ``host``.

        Raises:
            BenchError: It did not print its URL within 30 s.
        """
        if kind in ("load", "sink"):
            argv = _python(
                "-m",
                "trio_realtime._bench._load_server",
                "--host",
                host,
                "--response-seconds",
                str(response_seconds),
                *(["--sink"] if kind == "sink" else []),
            )
        else:
            argv = _python(
                "-c",
                "import sys; from trio_realtime._cli._main import main; sys.exit(main())",
                "serve",
                "--host",
                host,
                "--port",
                "0",
                "--realistic",
                "--engine",
                engine,
                *extra,
            )
        process = await trio.lowlevel.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # see WorkerProcess.start
        )
        assert process.stdout is not None
        lines = LineReader(process.stdout)
        line = None
        try:
            with trio.move_on_after(_START_SECONDS):
                line = await lines.readline()
        finally:
            if not line or not line.startswith(b"listening on "):  # late, failed or cancelled
                process.kill()
                with trio.CancelScope(shield=True):
                    await process.wait()
                    await _close_pipes(process)
        if not line or not line.startswith(b"listening on "):
            raise BenchError(f"the embedded {kind} server did not start: {line!r}")
        return cls(process, kind, line.split()[-1].decode(), lines)

    def cpu_seconds(self) -> float | None:
        """The server's CPU seconds so far."""
        return process_cpu_seconds(self.process.pid)

    async def _command(self, command: bytes) -> None:
        if self.kind != "reference" and self.process.stdin is not None:
            await self.process.stdin.send_all(command + b"\n")

    async def mark(self) -> None:
        """Start the load server's measurement window (no-op for the reference server)."""
        await self._command(b"mark")

    async def report(self) -> dict[str, Any] | None:
        """The load server's counters since :meth:`mark` (``None`` for the reference server)."""
        if self.kind == "reference":
            return None
        await self._command(b"report")
        with trio.move_on_after(10):
            while (line := await self._lines.readline()) is not None:
                if line.startswith(b"stats "):
                    data: dict[str, Any] = json.loads(line[6:])
                    return data
        return None

    async def stop(self) -> None:
        """Stop the server and wait for it (killing it after 10 s)."""
        if self.process.returncode is None:
            if self.kind != "reference" and self.process.stdin is not None:
                await self.process.stdin.aclose()  # its signal to stop
            else:
                self.process.send_signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await _close_pipes(self.process)


@final
class WorkerProcess:
    """One worker: its process, its latest ``progress``, its ``ready`` and ``result`` lines."""

    def __init__(self, process: trio.Process, spec: WorkerSpec) -> None:
        self.process = process
        self.spec = spec
        self.ready: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.progress: dict[str, Any] | None = None
        self.placement: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": process.pid,
            "clock": clock_id(),
        }
        self.lost: str | None = None  # a process that dies fails the run (BenchError)
        self.ready_event = trio.Event()
        self.done = trio.Event()
        self._stderr = bytearray()

    @classmethod
    async def start(
        cls,
        nursery: trio.Nursery,
        spec: WorkerSpec,
        key: str,
        on_progress: Callable[[], None] | None = None,
    ) -> WorkerProcess:
        """Start a worker and the tasks reading its output in ``nursery``."""
        process = await trio.lowlevel.open_process(
            _worker_command("-m", "trio_realtime._bench._worker", spec.to_json()),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, KEY_ENV: key, "PYTHONUNBUFFERED": "1"},
            # Not in the terminal's process group: Ctrl-C reaches the coordinator alone,
            # which stops its children in order and reports once (exit status 130).
            start_new_session=True,
        )
        worker = cls(process, spec)
        assert process.stderr is not None
        nursery.start_soon(_collect_stderr, process.stderr, worker._stderr)
        nursery.start_soon(worker._read, on_progress)
        return worker

    async def _read(self, on_progress: Callable[[], None] | None) -> None:
        assert self.process.stdout is not None
        lines = LineReader(self.process.stdout)
        try:
            while (line := await lines.readline()) is not None:
                tag, _, body = line.partition(b" ")
                if tag == b"progress":
                    self.progress = json.loads(body)
                    if on_progress is not None:
                        on_progress()
                elif tag == b"ready":
                    self.ready = json.loads(body)
                    self.ready_event.set()
                elif tag == b"result":
                    self.result = json.loads(body)
        finally:
            await self.process.wait()
            self.ready_event.set()  # a worker that died never gets ready: wake the waiter
            self.done.set()

    def failure(self) -> str:
        """Why the worker ended without a result: exit status and the end of its stderr."""
        tail = self._stderr.decode(errors="replace").strip().splitlines()[-12:]
        status = self.process.returncode
        return f"worker {self.spec.worker} ({self.spec.client}) exited with {status}:\n" + (
            "\n".join(tail) if tail else "(no output)"
        )

    async def go(self, t0: float) -> None:
        """Tell the worker to start streaming at monotonic ``t0``."""
        assert self.process.stdin is not None
        await self.process.stdin.send_all(f"go {t0!r}\n".encode())

    async def stop(self) -> None:
        """Kill the worker if it still runs, and release its pipes."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await _close_pipes(self.process)


@final
class ProcessLauncher:
    """``--processes``: each worker a child process of this one, on this machine."""

    description = "processes"
    server_host = "127.0.0.1"

    async def start(
        self, nursery: trio.Nursery, specs: Sequence[WorkerSpec], key: str
    ) -> list[Worker]:
        """Start one worker process per spec (the key in its environment)."""
        return [await WorkerProcess.start(nursery, spec, key) for spec in specs]

    async def go(self, workers: Sequence[Worker], margin: float) -> float:
        """Send every worker the same ``go T0``: one machine, one monotonic clock."""
        t0 = time.monotonic() + margin
        for worker in workers:
            assert isinstance(worker, WorkerProcess)
            await worker.go(t0)
        return t0
