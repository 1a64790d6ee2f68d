"""The load server: the standard workload's server side, cheap enough to outrun its clients.

It accepts connections the way the reference server does (``/v1/realtime`` or HTTP 404; the
key checked after the upgrade, an ``error`` and close 3000 when refused; ``session.created``
from the reference server's own :class:`~trio_realtime.server.ConnectionState`). Then it
waits for the client's first message (a connected session costs only its idle memory until
the harness says go) and from then on does one fixed thing: every 100 ms, on an absolute
schedule (a late tick goes at once; lateness does not add up), it writes the frames of
:class:`~._load_frames.LoadStream`, stamped with ``time.monotonic()`` right before the one
socket write of the tick. Whatever the client sends is counted and skipped, never parsed.
It is separate from the reference server so that one stays faithful; this one exists to be
fast (see :mod:`._load_wire` for why it frames by hand). Like the reference server it speaks
both dialects: the beta marker picks beta, its absence GA.

Run it as ``python -m trio_realtime._bench._load_server --port 0``. It prints
``listening on ws://HOST:PORT/v1/realtime``, then answers commands on stdin, one per line:
``mark`` starts a measurement window, ``report`` prints ``stats {json}`` about the window
(sessions, frames sent, messages received, tick lateness). It stops when stdin closes.
With ``--sink`` it never streams: it only counts and skips what clients send (the append
half of ``benchmarks/bench_breakdown.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import struct
import sys
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Final

import attrs
import trio

from .._core._codec import encode
from .._core._dialects import BETA, GA
from .._core._events import ErrorDetails, ErrorEvent
from ..server._auth import ApiKeys
from ..server._engine import SimulatedEngine
from ..server._handshake import REALTIME_PATH, not_found_body, read_handshake, select_subprotocol
from ..server._state import ConnectionState, ServerOptions
from ._gc_meter import GcMeter
from ._load_frames import TICK_SECONDS, LoadStream, audio_payloads, finish
from ._load_wire import (
    CLOSE,
    PING,
    PONG,
    FrameSkipper,
    ProtocolViolation,
    Upgrade,
    accept_response,
    close_frame,
    control_frame,
    error_response,
    parse_upgrade,
    text_frame,
)
from ._stats import Histogram

__all__ = ["LoadServerStats", "main", "serve_load"]

_READ: Final = 64 * 1024
_GOLDEN: Final = 7919  # a prime: consecutive sessions land far apart in the response cycle
#: The load server takes any model name: it measures clients, whatever they ask for (the
#: reference server keeps the live service's list).
_ANY_MODEL: Final = ServerOptions(allowed_models=None)

#: How a connection ends badly without it being the server's fault.
_GONE: Final = (trio.BrokenResourceError, trio.ClosedResourceError, ProtocolViolation)
_HANDSHAKE_SECONDS: Final = 10.0


@attrs.define
class LoadServerStats:
    """Counters since the last ``mark`` (``open`` and ``total`` are for the server's life).

    Attributes:
        open: Sessions streaming now.
        total: Sessions accepted so far (streaming or still idle).
        refused: Connections refused (bad request, 404, bad key, bad model).
        frames_sent: Frames written since the mark.
        messages_received: Client data messages since the mark.
        tick_lateness_ms: How late each tick started, since the mark.
        gc: The collector's pauses since the mark (a pause delays every session's tick, and
            the frames then leave in a burst).
        marked_at: When the window started (``time.monotonic()``).
    """

    open: int = 0
    total: int = 0
    refused: int = 0
    frames_sent: int = 0
    messages_received: int = 0
    tick_lateness_ms: Histogram = attrs.Factory(Histogram)
    gc: GcMeter = attrs.Factory(GcMeter)
    marked_at: float = attrs.Factory(time.monotonic)

    def mark(self) -> None:
        """Start a new measurement window."""
        self.frames_sent = self.messages_received = 0
        self.tick_lateness_ms = Histogram()
        self.gc.stop()
        self.gc = GcMeter()
        self.gc.start()
        self.marked_at = time.monotonic()

    def to_json(self) -> dict[str, Any]:
        """The counters as JSON."""
        return {
            "open": self.open,
            "total": self.total,
            "refused": self.refused,
            "seconds": time.monotonic() - self.marked_at,
            "frames_sent": self.frames_sent,
            "messages_received": self.messages_received,
            "tick_lateness_ms": self.tick_lateness_ms.to_json(),
            "gc": self.gc.to_json(),
        }


class _Connection:
    """One client: a reader that skips its frames, a writer that owns every socket write."""

    def __init__(
        self, stream: trio.SocketStream, stats: LoadServerStats, sink: bool = False
    ) -> None:
        self.stream = stream
        self.sink = sink  # count and skip what the client sends; never stream
        self.stats = stats
        self.skipper = FrameSkipper()
        self.control: list[bytes] = []  # pongs and the close reply, written by the writer
        self.closing = False
        self.streaming = False  # set by the client's first data message
        self.wake: trio.CancelScope | None = None

    def _poke(self) -> None:
        if self.wake is not None:
            self.wake.cancel()

    async def read(self, pending: bytes) -> None:
        """Skip client frames until EOF; queue pongs; on a close frame, ask for the reply."""
        data = pending
        while True:
            if data:
                before = self.skipper.messages
                for opcode, payload in self.skipper.feed(data):
                    if opcode == PING:
                        self.control.append(control_frame(PONG, payload))
                    elif opcode == CLOSE and not self.closing:
                        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1000
                        self.control.append(close_frame(code))
                        self.closing = True
                    self._poke()
                received = self.skipper.messages - before
                if received:
                    self.stats.messages_received += received
                    if not self.streaming and not self.sink:
                        self.streaming = True
                        self._poke()
            data = await self.stream.receive_some(_READ)
            if not data:
                self.closing = True
                self._poke()
                return

    async def write(self, frames: LoadStream) -> None:
        """Answer pings at once; from the first message on, tick every 100 ms; stop on close."""
        stats, now, monotonic = self.stats, trio.current_time, time.monotonic
        send = self.stream.send_all
        start = math.inf
        k = 0
        try:
            while True:
                due = start + k * TICK_SECONDS
                with trio.CancelScope(deadline=due) as self.wake:
                    starting = self.streaming and start == math.inf
                    if not (self.control or self.closing or starting):
                        await trio.sleep_forever()
                self.wake = None
                if self.control:
                    out, self.control = b"".join(self.control), []
                    await send(out)
                if self.closing:
                    return
                if start == math.inf:
                    if not self.streaming:
                        continue
                    stats.open += 1
                    start = due = now()
                if now() < due:
                    continue  # woken early, to send a pong
                stats.tick_lateness_ms.record((now() - due) * 1000.0)
                prefixes = frames.tick(k)
                sent_at = monotonic()
                await send(b"".join([text_frame(finish(p, sent_at)) for p in prefixes]))
                stats.frames_sent += len(prefixes)
                k += 1
        finally:
            if start != math.inf:
                stats.open -= 1


async def _upgrade(stream: trio.SocketStream) -> tuple[Upgrade, bytes] | None:
    buffer = b""
    with trio.move_on_after(_HANDSHAKE_SECONDS):
        while True:
            data = await stream.receive_some(_READ)
            if not data:
                return None
            buffer += data
            try:
                request = parse_upgrade(buffer)
            except ProtocolViolation as exc:
                await stream.send_all(error_response(400, str(exc).encode(), b"text/plain"))
                return None
            if request is not None:
                return request, request.rest
    return None


async def _handle(
    stream: trio.SocketStream,
    *,
    keys: ApiKeys,
    audio: tuple[str, ...],
    response_ticks: int,
    stats: LoadServerStats,
    sink: bool = False,
) -> None:
    async with stream:
        try:
            await _serve_connection(stream, keys, audio, response_ticks, stats, sink)
        except* _GONE:
            pass  # the client went away or misbehaved: drop it, never the server


async def _serve_connection(
    stream: trio.SocketStream,
    keys: ApiKeys,
    audio: tuple[str, ...],
    response_ticks: int,
    stats: LoadServerStats,
    sink: bool = False,
) -> None:
    upgraded = await _upgrade(stream)
    if upgraded is None:
        stats.refused += 1
        return
    request, rest = upgraded
    handshake, credential = read_handshake(request.target, request.headers, request.subprotocols)
    if handshake.path != REALTIME_PATH:
        stats.refused += 1
        await stream.send_all(error_response(404, not_found_body(handshake.path)))
        return
    await stream.send_all(accept_response(request.key, select_subprotocol(request.subprotocols)))
    failure = keys.check(credential)
    if failure is not None:
        stats.refused += 1
        error = ErrorDetails(
            type="invalid_request_error",
            code=failure.code,
            message=failure.message,
            param=None,
            event_id=None,
        )
        reason = (
            f"invalid_request_error.{failure.code}" if failure.code else "invalid_request_error"
        )
        await stream.send_all(
            text_frame(encode(ErrorEvent(event_id="event_refused", error=error)))
            + close_frame(failure.close_code, reason)
        )
        return
    dialect = BETA if handshake.beta else GA  # as the reference server decides
    state = ConnectionState(
        intent=handshake.intent,
        model=handshake.model,
        now=trio.current_time(),
        engine=SimulatedEngine(),
        options=_ANY_MODEL,
        dialect=dialect,
    )
    opening = b"".join(text_frame(dialect.encode(event)) for event in state.open())
    if state.close is not None:
        stats.refused += 1
        await stream.send_all(opening + close_frame(*state.close))
        return
    await stream.send_all(opening)
    stats.total += 1
    connection = _Connection(stream, stats, sink)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.read, rest)
        # Spread the sessions' response boundaries over the cycle: real sessions do not all
        # finish a response in the same 100 ms, and nine lifecycle events per session at once
        # would measure a synchronized burst rather than the steady load.
        offset = (stats.total * _GOLDEN) % response_ticks
        await connection.write(LoadStream(audio, response_ticks, offset=offset, dialect=dialect))
        # The close reply is written. The server closes TCP first (RFC 6455, 7.1.1): a
        # half-close, so the client sees EOF at once (the websockets client waits for it,
        # ten seconds by default, before giving up) while the reader still drains whatever
        # the client sent last and ends at the client's own EOF.
        with contextlib.suppress(*_GONE):
            await stream.send_eof()
        nursery.cancel_scope.deadline = trio.current_time() + _HANDSHAKE_SECONDS


async def serve_load(
    host: str,
    port: int,
    *,
    api_keys: Sequence[str] | None = None,
    response_seconds: float = 5.0,
    stats: LoadServerStats | None = None,
    sink: bool = False,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the standard workload's stream until cancelled; report the URL when listening.

    Args:
        host: Interface to bind.
        port: Port to bind (0 picks a free one).
        api_keys: Keys accepted; ``None`` accepts any non-empty key.
        response_seconds: Length of each streamed response (at least 0.2 s).
        stats: Counters to update (a fresh object if ``None``).
        sink: Never stream: only count and skip what clients send (for measuring sends).
        task_status: Receives ``ws://HOST:PORT/v1/realtime`` once listening.
    """
    ticks = round(response_seconds / TICK_SECONDS)
    if ticks < 2:
        raise ValueError(f"response_seconds must be >= 0.2, got {response_seconds}")
    handler = partial(
        _handle,
        keys=ApiKeys(api_keys),
        audio=audio_payloads(),
        response_ticks=ticks,
        sink=sink,
        stats=LoadServerStats() if stats is None else stats,
    )
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    task_status.started(f"ws://{shown}:{bound}{REALTIME_PATH}")
    await trio.serve_listeners(handler, listeners)


async def _commands(stats: LoadServerStats) -> None:
    """Answer ``mark`` and ``report`` lines on stdin; return when stdin closes."""
    buffer = b""
    async with trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())) as stdin:
        while True:
            data = await stdin.receive_some(4096)
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command = line.strip().decode()
                if command == "mark":
                    # The sessions are connected and idle: what they hold lives as long as
                    # they do, so it leaves the collector's view (no collection runs here).
                    gc.freeze()
                    stats.mark()
                elif command == "report":
                    print("stats " + json.dumps(stats.to_json()), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load server until stdin closes or Ctrl-C; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m trio_realtime._bench._load_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", action="append", metavar="KEY")
    parser.add_argument("--response-seconds", type=float, default=5.0)
    parser.add_argument("--sink", action="store_true", help="never stream; count what arrives")
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=10_000,
        help="the collector's first threshold (10,000, as trio-realtime serve uses; 0: "
        "Python's default)",
    )
    args = parser.parse_args(argv)
    if args.gc_threshold > 0:
        # A load server's pauses are bursts for its clients (every session's frames leave
        # late, then together), so it is tuned as the reference server is: fewer young
        # collections, fewer objects promoted, and what exists at start frozen.
        gc.freeze()
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    stats = LoadServerStats()

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(
                partial(
                    serve_load,
                    args.host,
                    args.port,
                    api_keys=args.api_key,
                    response_seconds=args.response_seconds,
                    sink=args.sink,
                    stats=stats,
                )
            )
            print(f"listening on {url}", flush=True)
            await _commands(stats)  # the harness closing our stdin is the signal to stop
            nursery.cancel_scope.cancel()

    try:
        trio.run(run, restrict_keyboard_interrupt_to_checkpoints=True)
    except* KeyboardInterrupt:
        pass  # run by hand and stopped with Ctrl-C: no traceback
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
