"""Where a run's workers run: local processes (``--processes``) or Dask tasks (``--cluster``).

:func:`~._orchestrator.run_size` sees every worker through :class:`Worker` and starts them
through a :class:`Launcher`; the two implementations are :class:`~._processes.ProcessLauncher`
(JSON lines over pipes) and :class:`~._cluster.ClusterLauncher` (Dask tasks pinned to Dask
workers). What a worker measures, and the result it hands back, are the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import trio

from ._worker import WorkerSpec

__all__ = ["Launcher", "Worker"]


class Worker(Protocol):
    """One worker of a run, as the coordinator follows it.

    Attributes:
        spec: What it runs.
        ready: Its ``ready`` report (sessions connected, failures), once it sent one.
        progress: Its latest ``progress`` report.
        result: Its ``result`` report (:meth:`~._meter.WorkerMeter.result`), once it ended.
        placement: Where it runs: ``host``, ``pid``, ``clock`` (see
            :func:`~._environment.clock_id`), and on a cluster the Dask worker's ``address``.
        lost: Why it was lost mid-run (its process died, its Dask worker left), or ``None``.
            A lost worker's sessions are reported, never run again elsewhere.
        ready_event: Set once it is ready, lost or dead.
        done: Set once it has a result, or is lost or dead.
    """

    spec: WorkerSpec
    ready: dict[str, Any] | None
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    placement: dict[str, Any]
    lost: str | None
    ready_event: trio.Event
    done: trio.Event

    def failure(self) -> str:
        """Why it ended without a result (for the error the run raises)."""
        ...

    async def stop(self) -> None:
        """Stop it if it still runs, and release what it holds."""
        ...


class Launcher(Protocol):
    """Starts a run's workers and gives them the start signal."""

    @property
    def description(self) -> str:
        """How the workers run, for the report (``processes``, ``cluster local:2``...)."""
        ...

    @property
    def server_host(self) -> str:
        """The interface an embedded server binds, so that every worker can reach it."""
        ...

    async def start(
        self, nursery: trio.Nursery, specs: Sequence[WorkerSpec], key: str
    ) -> list[Worker]:
        """Start one worker per spec, following them in ``nursery``; the key is sent to them
        without appearing on a command line or in a log."""
        ...

    async def go(self, workers: Sequence[Worker], margin: float) -> float:
        """Start every worker streaming ``margin`` seconds from now, each on its own clock;
        return that instant on this process's ``time.monotonic()``."""
        ...
