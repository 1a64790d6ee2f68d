"""The coordinator's child processes: the server, the client workers, and their output lines."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from .worker import WorkerSpec

__all__ = [
    "Lines",
    "ServerProcess",
    "Worker",
    "expect",
    "spawn_worker",
    "start_server",
    "stop_process",
]


class Lines:
    """Lines from a process's stdout."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def next(self) -> str:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some(1 << 20)
            if not chunk:
                raise EOFError("the process closed its output")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()


@attrs.define
class ServerProcess:
    process: trio.Process
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime?model=gpt-4o-realtime-preview"


async def start_server(extra: Sequence[str]) -> ServerProcess:
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0", *extra]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    with trio.fail_after(30):
        line = await Lines(process.stdout).next()
    if not line.startswith("listening on ws://"):
        raise RuntimeError(f"unexpected server output: {line!r}")
    port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
    return ServerProcess(process, port)


async def stop_process(process: trio.Process, grace: float = 15.0) -> int:
    if process.returncode is None:
        process.terminate()
        with trio.move_on_after(grace):
            await process.wait()
        if process.returncode is None:
            process.kill()
    return await process.wait()


@attrs.define
class Worker:
    process: trio.Process
    lines: Lines


async def spawn_worker(script: str, spec: WorkerSpec) -> Worker:
    """Start ``script --worker SPEC``: a client process streaming ``spec``."""
    payload = json.dumps(attrs.asdict(spec))
    process = await trio.lowlevel.open_process(
        [sys.executable, script, "--worker", payload],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    return Worker(process, Lines(process.stdout))


async def expect(worker: Worker, tag: str, within: float) -> Any:
    with trio.fail_after(within):
        line = await worker.lines.next()
    got, _, payload = line.partition(" ")
    if got != tag:
        raise RuntimeError(f"client process said {line[:200]!r}, expected {tag!r}")
    return json.loads(payload)
