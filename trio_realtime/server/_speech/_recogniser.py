"""Recogniser processes, pooled: how the server runs pocketsphinx without blocking its loop.

A :class:`Recogniser` is one worker process (:mod:`._recognise_main`) decoding one utterance
at a time, fed over a pipe. A :class:`RecogniserPool` holds at most ``size`` of them, started
on demand (or ahead, with :meth:`RecogniserPool.preload`); a session takes one for the length
of an utterance with :meth:`RecogniserPool.acquire`, waiting in line (first come, first
served) while all are taken, and gives it back with :meth:`RecogniserPool.release`.

The pool bounds everything the speech engine spends on recognition: ``size`` processes, so at
most ``size`` utterances are decoded at once (one CPU each at most), and about 100 MB of
memory each (pocketsphinx's en-US model). Pipes are bounded too: a process that falls behind
stops reading, and the session feeding it waits, not the others.

A process whose pipe was interrupted (the session was cancelled mid-frame) or that failed is
killed and replaced on demand. :meth:`RecogniserPool.aclose` ends them all.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import deque
from typing import Final, final

import attrs
import orjson
import trio

from ._frames import (
    ABANDON,
    AUDIO,
    BEGIN,
    END,
    FAILED,
    HEADER,
    MAX_PAYLOAD,
    READY,
    TRANSCRIPT,
    frame,
)

__all__ = ["Heard", "Recogniser", "RecogniserError", "RecogniserPool"]

_log = logging.getLogger("trio_realtime.server.speech")

#: Loading the model takes about 0.3 s on a quiet machine; a busy one may take far longer.
_START_TIMEOUT: Final = 60.0
#: How long a process may take to exit once its input is closed.
_EXIT_TIMEOUT: Final = 5.0
_MAIN: Final = "trio_realtime.server._speech._recognise_main"


class RecogniserError(Exception):
    """A recogniser process failed to start, or failed an utterance."""


@attrs.frozen(kw_only=True)
class Heard:
    """What a recogniser heard in one utterance.

    Attributes:
        text: The words, lower case, without punctuation (``""`` for none).
        cpu_seconds: CPU time the recogniser spent on the utterance.
        audio_ms: Duration of the audio it was fed.
        cmn: The cepstral means adapted to the utterance (start the speaker's next one
            there); ``None`` if unknown.
    """

    text: str
    cpu_seconds: float = 0.0
    audio_ms: float = 0.0
    cmn: str | None = None


@final
class Recogniser:
    """One recogniser process; use it through a :class:`RecogniserPool`."""

    def __init__(self, process: trio.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._process = process
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._buffer = bytearray()
        self.broken = False  # the pipe is in an unknown state: never use it again
        self.in_utterance = False  # an utterance was begun and neither ended nor abandoned

    async def _send(self, data: bytes) -> None:
        if self.broken:
            raise RecogniserError("the recogniser process is broken")
        try:
            await self._stdin.send_all(data)
        except BaseException:
            self.broken = True  # maybe half a frame went out
            raise

    async def _receive(self) -> tuple[bytes, bytes]:
        try:
            while True:
                if len(self._buffer) >= HEADER.size:
                    op, size = HEADER.unpack_from(self._buffer)
                    if size > MAX_PAYLOAD:
                        raise RecogniserError(f"a frame of {size} bytes from the recogniser")
                    end = HEADER.size + size
                    if len(self._buffer) >= end:
                        payload = bytes(self._buffer[HEADER.size : end])
                        del self._buffer[:end]
                        return op, payload
                data = await self._stdout.receive_some(65536)
                if not data:
                    raise RecogniserError("the recogniser process ended")
                self._buffer += data
        except BaseException:
            self.broken = True
            raise

    async def ready(self) -> None:
        """Wait for the process to load its model.

        Raises:
            RecogniserError: It failed to start.
        """
        op, payload = await self._receive()
        if op != READY:
            raise RecogniserError(payload.decode(errors="replace") or "did not start")

    async def begin(self, fmt: str, cmn: str | None = None) -> None:
        """Start an utterance of audio in ``fmt``, normalised from cepstral means ``cmn``
        (``None``: the process's current ones)."""
        await self._send(frame(BEGIN, orjson.dumps({"format": fmt, "cmn": cmn})))
        self.in_utterance = True

    async def feed(self, audio: bytes) -> None:
        """More audio of the utterance (waits while the process is behind)."""
        if audio:
            await self._send(frame(AUDIO, audio))

    async def end(self) -> Heard:
        """End the utterance and return what was heard.

        Raises:
            RecogniserError: The process failed the utterance or died.
        """
        await self._send(frame(END))
        self.in_utterance = False
        op, payload = await self._receive()
        if op == FAILED:
            raise RecogniserError(payload.decode(errors="replace"))
        if op != TRANSCRIPT:
            self.broken = True
            raise RecogniserError(f"unexpected answer {op!r} from the recogniser")
        data = orjson.loads(payload)
        return Heard(
            text=str(data.get("text", "")),
            cpu_seconds=float(data.get("cpu_seconds", 0.0)),
            audio_ms=float(data.get("audio_ms", 0.0)),
            cmn=data.get("cmn") if isinstance(data.get("cmn"), str) else None,
        )

    async def abandon(self) -> None:
        """Drop the utterance in progress."""
        await self._send(frame(ABANDON))
        self.in_utterance = False

    def kill(self) -> None:
        """End the process now."""
        self.broken = True
        if self._process.returncode is None:
            self._process.kill()

    async def aclose(self) -> None:
        """Close its input (it exits), wait for it, kill it if it does not go."""
        with trio.move_on_after(_EXIT_TIMEOUT) as waited:
            try:
                await self._stdin.aclose()
            except trio.BrokenResourceError:
                pass
            await self._process.wait()
        if waited.cancelled_caught:
            self.kill()
        with trio.CancelScope(shield=True):
            await self._process.wait()
            await self._stdout.aclose()


@final
class RecogniserPool:
    """At most ``size`` recogniser processes, lent out one utterance at a time.

    Args:
        size: The most processes (and so utterances decoded at once).
        command: The process to run (default: this Python, :mod:`._recognise_main`).
    """

    def __init__(self, size: int, command: list[str] | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size!r}")
        self.size = size
        self._command = command or [sys.executable, "-m", _MAIN]
        self._free: deque[Recogniser] = deque()
        self._all: list[Recogniser] = []
        self._slots = trio.Semaphore(size)  # FIFO: sessions wait their turn
        self._closed = False
        self.waiting = 0  # sessions waiting for a process

    @property
    def busy(self) -> int:
        """Processes lent out now."""
        return self.size - self._slots.value

    async def _start(self) -> Recogniser:
        process = await trio.lowlevel.open_process(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        recogniser = Recogniser(process)
        self._all.append(recogniser)
        try:
            with trio.fail_after(_START_TIMEOUT):
                await recogniser.ready()
        except BaseException:
            recogniser.kill()
            self._all.remove(recogniser)
            with trio.CancelScope(shield=True):
                await process.wait()
            raise
        _log.info("recogniser process %d ready", process.pid)
        return recogniser

    async def preload(self, count: int) -> None:
        """Start up to ``count`` processes now (at most ``size``), so the first utterances
        do not wait for a model to load.

        Raises:
            RecogniserError: A process failed to start (pocketsphinx missing or broken).
        """
        count = min(count, self.size - len(self._all))
        started: list[Recogniser] = []

        async def one() -> None:
            started.append(await self._start())

        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(one)
        self._free.extend(started)

    async def acquire(self) -> Recogniser:
        """A process for one utterance; waits (first come, first served) while all are lent.

        Raises:
            RecogniserError: A new process failed to start.
        """
        if self._closed:
            raise RecogniserError("the recogniser pool is closed")
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            while self._free:
                recogniser = self._free.popleft()
                if recogniser.broken:
                    await self._retire(recogniser)
                    continue
                if recogniser.in_utterance:  # given back mid-utterance by a session that ended
                    await recogniser.abandon()
                return recogniser
            return await self._start()
        except BaseException:
            self._slots.release()
            raise

    def release(self, recogniser: Recogniser) -> None:
        """Give a process back (never blocks: a broken one is killed and replaced later)."""
        if recogniser.broken:
            recogniser.kill()
        if self._closed and not recogniser.broken:
            recogniser.kill()
        self._free.append(recogniser)
        self._slots.release()

    async def _retire(self, recogniser: Recogniser) -> None:
        recogniser.kill()
        if recogniser in self._all:
            self._all.remove(recogniser)
        await recogniser.aclose()

    async def aclose(self) -> None:
        """End every process (those lent out are killed)."""
        self._closed = True
        everyone, self._all = list(self._all), []
        self._free.clear()
        with trio.CancelScope(shield=True):
            async with trio.open_nursery() as nursery:
                for recogniser in everyone:
                    nursery.start_soon(recogniser.aclose)
