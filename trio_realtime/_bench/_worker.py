"""A worker process: one event loop running a shard of the sessions, talking JSON lines.

The harness starts ``python -m trio_realtime._bench._worker SPEC_JSON`` with the API key in
the environment (never on the command line, where ``ps`` would show it). The worker:

1. connects its sessions (at most its share of the handshake limit in flight), which then sit
   idle: neither our load server nor the reference server sends anything more until the
   client's first append, so the memory read now is the idle cost of a session;
2. prints ``ready {json}`` and waits for ``go T0`` on stdin, ``T0`` a ``time.monotonic()``
   instant shared by every worker;
3. streams from ``T0``: warm-up, then the measurement window; prints ``progress {json}``
   every second;
4. closes its sessions and prints ``result {json}`` (:meth:`~._meter.WorkerMeter.result`).

Ours runs on trio (:mod:`._ours`), the peer on asyncio (:mod:`._peer`); both share
:class:`WorkerSpec` and :class:`~._meter.WorkerMeter`. The same drivers run as Dask tasks
(``--cluster``, :mod:`._dask_worker`), with another :class:`~._link.WorkerLink`.
"""

from __future__ import annotations

import cProfile
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._workload import Workload

if TYPE_CHECKING:
    from ._link import WorkerLink

__all__ = [
    "KEY_ENV",
    "Runner",
    "WorkerSpec",
    "emit",
    "main",
    "parse_go",
    "run_profiled",
    "runner",
    "tail_seconds",
]

#: The environment variable carrying the API key to workers.
KEY_ENV: Final = "TRIO_REALTIME_BENCH_API_KEY"
#: Seconds between progress lines.
PROGRESS_SECONDS: Final = 1.0


@attrs.frozen(kw_only=True)
class WorkerSpec:
    """What one worker runs.

    Attributes:
        client: One of :data:`~._workload.CLIENTS`.
        workload: The run's settings (``sessions`` counts all workers' sessions).
        url: The server's ``ws://.../v1/realtime`` URL.
        indices: The session numbers this worker runs (out of ``workload.sessions``).
        worker: This worker's number.
        handshakes: Handshakes this worker may have in flight.
        profile: Write a cProfile of the whole worker to this path.
        trace_memory: Trace Python allocations until the sessions are idle (slow).
        gc_threshold: Set the garbage collector's first threshold to this, and freeze the
            idle sessions' objects out of collection (``None``: Python's defaults).
        trace_stalls: Time every task step, so the longest stalls say what ran in them.
        server_clock: The :func:`~._environment.clock_id` of the machine whose monotonic
            clock stamps the server's events; ``""`` when that is unknown (a server on another
            machine), ``None`` when not checked. A worker reading another clock records no
            delivery latency (:func:`~._meter.stamps_trusted`).
    """

    client: str
    workload: Workload
    url: str
    indices: tuple[int, ...]
    worker: int = 0
    handshakes: int = 64
    profile: str | None = None
    trace_memory: bool = False
    gc_threshold: int | None = None
    trace_stalls: bool = False
    server_clock: str | None = None

    def to_json(self) -> str:
        """The spec as one JSON string (the worker's command-line argument)."""
        data = attrs.asdict(self, recurse=False)
        data["workload"] = self.workload.to_json()
        data["indices"] = list(self.indices)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        """Read what :meth:`to_json` wrote."""
        data = json.loads(text)
        data["workload"] = Workload.from_json(data["workload"])
        data["indices"] = tuple(data["indices"])
        return cls(**data)


def tail_seconds(workload: Workload) -> float:
    """Seconds sessions keep running after the window, so its last turns can be answered."""
    return 4.0 if workload.turn_based else 0.3


def emit(tag: str, payload: dict[str, Any]) -> None:
    """Print one protocol line to stdout."""
    sys.stdout.write(f"{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


def parse_go(line: bytes) -> float:
    """``T0`` from a ``go T0`` line.

    Raises:
        ValueError: Not a ``go`` line (an empty one means the harness went away).
    """
    parts = line.split()
    if len(parts) != 2 or parts[0] != b"go":
        raise ValueError(f"expected 'go T0' on stdin, got {line[:80]!r}")
    return float(parts[1])


#: A client's entry point: run a spec's sessions with a key, reporting through a link.
Runner = Callable[[WorkerSpec, str, "WorkerLink"], None]


def runner(client: str) -> Runner:
    """The entry point of ``client``'s driver (imported on demand: the peer needs openai)."""
    if client == "ours":
        from ._ours import run_ours

        return run_ours
    if client == "bare-trio":
        from ._bare import run_bare

        return run_bare
    if client in ("openai-sdk-send", "openai-sdk-append"):
        from ._peer import run_peer

        return run_peer
    if client == "bare-asyncio":
        from ._bare_asyncio import run_bare_asyncio

        return run_bare_asyncio
    raise ValueError(f"unknown client {client!r}")


def main(argv: list[str] | None = None) -> int:
    """Run one worker; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m trio_realtime._bench._worker SPEC_JSON", file=sys.stderr)
        return 2
    from ._link import PIPE_LINK

    spec = WorkerSpec.from_json(args[0])
    run_profiled(spec, os.environ.get(KEY_ENV, ""), PIPE_LINK)
    return 0


def run_profiled(spec: WorkerSpec, key: str, link: WorkerLink) -> None:
    """Run ``spec`` with its client's driver; under cProfile when ``spec.profile`` says so."""
    run = runner(spec.client)
    if spec.profile is None:
        run(spec, key, link)
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        run(spec, key, link)
    finally:
        profiler.disable()
        profiler.dump_stats(spec.profile)


if __name__ == "__main__":
    raise SystemExit(main())
