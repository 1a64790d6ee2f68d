"""``--cluster``: the harness's workers as Dask tasks, one per Dask worker.

``--cluster local:K`` starts a ``LocalCluster`` of K worker processes with one thread each;
``--cluster ADDRESS`` connects to a running scheduler (``dask scheduler`` and ``dask worker``
on other hosts, ``SSHCluster``, Kubernetes...) and uses its workers. Either way each run
submits one task per worker, :func:`~._dask_worker.run_shard`, **pinned** to that worker
(``workers=[address]``, ``allow_other_workers=False``, no retries): the task runs one shard of
the sessions on its own event loop in the worker's thread and returns its histograms and
counters, which :func:`~._report.merge_run` merges exactly as it merges worker processes'.

The start is synchronised by a ``distributed.Event``: every worker reports ``ready`` (a Dask
event on the run's topic), the coordinator sets the event, and each worker starts streaming a
fixed margin after it saw the event, on its own monotonic clock: the windows line up to the
event's delivery (milliseconds), and no clock is ever compared across machines.

No silent retries: a worker that leaves the cluster mid-run (its process died, it stopped
answering the scheduler) or whose task was killed with it (``KilledWorker``: a ``local:K``
cluster allows no failures) is reported lost, with the sessions it held; its task is
cancelled so that it never runs again elsewhere. The next run uses the workers present then.

The coordinator's trio loop never calls Dask directly from its own thread: Dask's client runs
its own event loop in a thread of its own, reports and worker departures arrive through
thread-safe queues that a trio task drains, and the few blocking calls go through
``trio.to_thread`` with a limiter. Dask is imported here and in :mod:`._dask_worker` only,
and only when ``--cluster`` is given: it is an optional extra (``trio-realtime[cluster]``).
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import logging
import socket
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final, TypeVar, final

import attrs
import trio

from ._dask_worker import HiddenKey, RunPlan, distributed, run_shard
from ._launcher import Worker
from ._orchestrator import GO_MARGIN
from ._processes import BenchError
from ._worker import WorkerSpec

__all__ = ["Cluster", "ClusterWorker", "Member", "open_cluster", "parse_target"]

_T = TypeVar("_T")

_POLL_SECONDS: Final = 0.1
_CONNECT_SECONDS: Final = 30.0
_WORKERS_WAIT_SECONDS: Final = 60.0
_CLOSE_SECONDS: Final = 30.0
#: How long a worker waits for the start signal before giving up on the coordinator.
_GO_PATIENCE: Final = 600.0
_LOCAL_PREFIX: Final = "local:"


def parse_target(target: str) -> int | None:
    """The K of ``local:K`` (``None`` for a scheduler's address).

    Raises:
        ValueError: ``local:`` without a positive worker count, or an empty address.
    """
    if target.startswith(_LOCAL_PREFIX):
        count = target[len(_LOCAL_PREFIX) :]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster local:K needs a worker count K >= 1, got {target!r}")
        return int(count)
    if not target.strip():
        raise ValueError("--cluster needs local:K or a Dask scheduler's address")
    return None


@attrs.frozen
class Member:
    """One Dask worker of the cluster.

    Attributes:
        address: Its address (``tcp://10.0.0.5:40123``).
        host: The host address the scheduler knows it by.
        name: Its name (the worker's ``--name``, or a number).
        threads: Its threads (each run uses one of them).
        nanny: Its nanny's address (``None`` without one: it cannot be restarted).
    """

    address: str
    host: str
    name: str
    threads: int
    nanny: str | None = None


def _interface_towards(host: str) -> str:
    """This machine's address on the route to ``host`` (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, 9))
        return str(probe.getsockname()[0])


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@final
class ClusterWorker:
    """One run's task on one Dask worker, as the coordinator follows it (a
    :class:`~._launcher.Worker`)."""

    def __init__(self, spec: WorkerSpec, member: Member, run: _ClusterRun) -> None:
        self.spec = spec
        self.member = member
        self.ready: dict[str, Any] | None = None
        self.progress: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.placement: dict[str, Any] = {"host": member.host, "address": member.address}
        self.lost: str | None = None
        self.ready_event = trio.Event()
        self.done = trio.Event()
        self.future: Any = None
        self.run = run
        self._error: str | None = None

    def failure(self) -> str:
        """Why the task ended without a result."""
        return (
            f"worker {self.spec.worker} ({self.spec.client}) on {self.member.address} failed:\n"
            + (self._error or "(no result)")
        )

    async def stop(self) -> None:
        """Stop the run's tasks that still run (once for the whole run)."""
        await self.run.stop()

    def message(self, tag: str, payload: dict[str, Any]) -> None:
        """A report from the task."""
        if tag == "placement":
            self.placement = payload
        elif tag == "progress":
            self.progress = payload
        elif tag == "ready":
            self.ready = payload
            self.ready_event.set()

    def finish(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        """The task returned ``result``, or failed with ``error``."""
        if self.done.is_set():
            return
        self.result, self._error = result, error
        self.ready_event.set()
        self.done.set()

    def lose(self, reason: str) -> None:
        """The worker was lost mid-run: its sessions are reported, never run again."""
        if self.done.is_set():
            return
        self.lost = reason
        self.ready_event.set()
        self.done.set()


@final
class _ClusterRun:
    """One run's tasks: their reports, the start signal, their ends."""

    def __init__(self, cluster: Cluster, plan: RunPlan) -> None:
        self.cluster = cluster
        self.plan = plan
        self.workers: list[ClusterWorker] = []
        self.reports: collections.deque[dict[str, Any]] = collections.deque()
        self._stopped = False

    def _by_address(self) -> dict[str, ClusterWorker]:
        return {w.member.address: w for w in self.workers}

    async def poll(self) -> None:
        """Follow the tasks until every one has ended (reports, departures, results)."""
        by_address = self._by_address()
        by_number = {w.spec.worker: w for w in self.workers}
        while not all(w.done.is_set() for w in self.workers):
            while self.reports:
                report = self.reports.popleft()
                worker = by_number.get(report.get("number", -1))
                if worker is not None:
                    worker.message(str(report["tag"]), report["payload"])
            for address in self.cluster.departed(since=self):
                worker = by_address.get(address)
                if worker is not None and not worker.done.is_set():
                    await self._lose(worker, "its Dask worker left the cluster (died or hung)")
            for worker in self.workers:
                if not worker.done.is_set():
                    await self._check(worker)
            await trio.sleep(_POLL_SECONDS)

    async def _check(self, worker: ClusterWorker) -> None:
        status = worker.future.status
        if status == "finished":
            try:
                result = await self.cluster.call(worker.future.result)
            except Exception as gone:  # the worker left while its result was fetched
                await self._lose(worker, f"its result could not be fetched: {gone!r}")
            else:
                worker.finish(result)
        elif status == "error":
            try:
                exc = await self.cluster.call(worker.future.exception)
            except Exception as gone:
                await self._lose(worker, f"its error could not be fetched: {gone!r}")
                return
            if type(exc).__name__ == "KilledWorker":
                await self._lose(worker, "its Dask worker died while running it (KilledWorker)")
            else:
                worker.finish(None, "".join(traceback.format_exception(exc)).strip())
        elif status == "cancelled":
            worker.lose("its task was cancelled by the cluster")

    async def _lose(self, worker: ClusterWorker, reason: str) -> None:
        worker.lose(reason)
        # Never let the scheduler run it again on a worker that comes back.
        with contextlib.suppress(Exception):
            await self.cluster.call(self.cluster.client.cancel, [worker.future], force=True)

    async def go(self) -> float:
        """Release every task; return this process's start instant."""
        await self.cluster.call(self.cluster.event(self.plan.go).set)
        return time.monotonic() + self.plan.margin

    async def stop(self) -> None:
        """Tell tasks still waiting for the start to give up and cancel the unfinished ones;
        once every task has ended, delete the run's events from the scheduler."""
        if self._stopped:
            return
        self._stopped = True
        unfinished = [
            w.future for w in self.workers if w.future is not None and not w.done.is_set()
        ]
        cluster = self.cluster
        with trio.move_on_after(_CLOSE_SECONDS), contextlib.suppress(Exception):
            if unfinished:
                # Left set: a task still waiting for the start sees it and gives up.
                await cluster.call(cluster.event(self.plan.abort).set)
                await cluster.call(cluster.client.cancel, unfinished, force=True)
            else:
                await cluster.call(cluster.event(self.plan.go).clear)  # clearing deletes it
            await cluster.call(cluster.client.unsubscribe_topic, self.plan.topic)
        cluster.forget(self)


@final
class Cluster:
    """An open Dask cluster, as a :class:`~._launcher.Launcher` of runs.

    Use :func:`open_cluster`.
    """

    def __init__(
        self,
        target: str,
        client: Any,
        local: Any,
        members: list[Member],
        server_host: str,
        wanted: int | None,
        margin: float = GO_MARGIN,
    ) -> None:
        self.target = target
        self.margin = margin
        self.client = client
        self.local = local
        self.members = members
        self.server_host = server_host
        self.wanted = wanted
        self._limiter = trio.CapacityLimiter(4)
        #: Every worker has a nanny, so it can be restarted between runs.
        self.restartable = all(m.nanny for m in members)
        self._fresh = local is not None  # a new LocalCluster's workers have run nothing yet
        self._departures: collections.deque[tuple[float, str]] = collections.deque(maxlen=1000)
        self._runs: dict[int, float] = {}

    @property
    def description(self) -> str:
        """``cluster TARGET`` (for the report)."""
        return f"cluster {self.target}"

    @property
    def worker_count(self) -> int:
        """The workers every run shards its sessions over."""
        return self.wanted or len(self.members)

    def describe(self) -> dict[str, Any]:
        """The cluster, for the JSON report."""
        return {
            "target": self.target,
            "scheduler": self.client.scheduler.address,
            "workers": [attrs.asdict(m) for m in self.members],
            "hosts": len({m.host for m in self.members}),
            "server_host": self.server_host,
            "fresh_processes": self.restartable,
        }

    async def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """A blocking Dask call, in a thread (so the trio loop never waits on Dask)."""
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)

    def event(self, name: str) -> Any:
        """The ``distributed.Event`` called ``name``."""
        return distributed().Event(name, client=self.client)

    def on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """The scheduler's ``all`` topic (Dask's thread): note workers that left."""
        message = event[1]
        if isinstance(message, dict) and message.get("action") == "remove-worker":
            self._departures.append((time.monotonic(), str(message.get("worker"))))

    def departed(self, since: _ClusterRun) -> list[str]:
        """Workers that left the cluster since ``since`` started."""
        start = self._runs.get(id(since), 0.0)
        return [address for t, address in list(self._departures) if t >= start]

    def forget(self, run: _ClusterRun) -> None:
        """``run`` ended."""
        self._runs.pop(id(run), None)

    async def _refresh(self, needed: int) -> list[Member]:
        """The workers of the next run, in fresh processes (see :meth:`_restart`)."""
        if not self._fresh:
            await self._restart()
        self._fresh = False
        members = await self.call(_members, self.client)
        if len(members) < needed:
            with contextlib.suppress(TimeoutError):
                await self.call(self.client.wait_for_workers, needed, _WORKERS_WAIT_SECONDS)
            members = await self.call(_members, self.client)
        if len(members) < needed:
            raise BenchError(
                f"the Dask cluster has {len(members)} workers; this run needs {needed}"
            )
        self.members = members
        chosen = members[:needed]
        with contextlib.suppress(Exception):  # best effort: the task reports what it found
            await self.call(self.client.run, _profiler_off, workers=[m.address for m in chosen])
        return chosen

    async def _restart(self) -> None:
        """Restart every worker process (through its nanny) before a run, as ``--processes``
        starts fresh processes: a reused one would hold the last run's heap (its RSS
        grows less, so memory per session reads low), imports and collector state."""
        if not self.restartable:
            return
        addresses = [m.address for m in await self.call(_members, self.client)]
        statuses = await self.call(
            self.client.restart_workers,
            addresses,
            timeout=_WORKERS_WAIT_SECONDS,
            raise_for_error=False,
        )
        if any(status != "OK" for status in statuses.values()):
            failed = {a: s for a, s in statuses.items() if s != "OK"}
            raise BenchError(f"Dask workers could not be restarted before the run: {failed}")

    async def start(
        self, nursery: trio.Nursery, specs: Sequence[WorkerSpec], key: str
    ) -> list[Worker]:
        """Submit one task per spec, each pinned to its own Dask worker."""
        members = await self._refresh(len(specs))
        plan = RunPlan.new(uuid.uuid4().hex[:12], self.margin, _GO_PATIENCE)
        run = _ClusterRun(self, plan)
        self._runs[id(run)] = time.monotonic()
        await self.call(self.client.subscribe_topic, plan.topic, _queue(run.reports))
        hidden = HiddenKey(key)
        for spec, member in zip(specs, members, strict=True):
            worker = ClusterWorker(spec, member, run)
            run.workers.append(worker)
            worker.future = await self.call(
                self.client.submit,
                run_shard,
                spec.to_json(),
                hidden,
                plan,
                key=f"{plan.topic}-worker-{spec.worker}",
                workers=[member.address],
                allow_other_workers=False,
                retries=0,
                pure=False,
            )
        nursery.start_soon(run.poll)
        return list(run.workers)

    async def go(self, workers: Sequence[Worker], margin: float) -> float:
        """Set the run's start event: each worker starts ``margin`` s after it sees it."""
        if margin != self.margin:
            raise ValueError(f"the tasks were told a {self.margin} s margin, not {margin}")
        run = next(w.run for w in workers if isinstance(w, ClusterWorker))
        return await run.go()

    async def aclose(self) -> None:
        """Disconnect (and, for ``local:K``, shut the cluster down)."""
        with contextlib.suppress(Exception):
            await self.call(self.client.unsubscribe_topic, "all")
        with contextlib.suppress(Exception):
            await self.call(self.client.close, _CLOSE_SECONDS)
        if self.local is not None:
            with contextlib.suppress(Exception):
                await self.call(self.local.close, _CLOSE_SECONDS)


def _profiler_off(dask_worker: Any) -> bool:
    """Stop a Dask worker's statistical profiler (on its own loop; ``Client.run``).

    Every 10 ms it walks every thread's stack, the harness's loop included, holding the GIL,
    and caches the source lines of every frame it sees: about 2 % of a core, and 9 KiB per
    session of memory that is not the sessions'. The worker's next restart turns it back on.
    """
    stopped = False
    for name in ("profile", "profile-cycle"):
        callback = dask_worker.periodic_callbacks.get(name)
        if callback is not None:
            callback.stop()
            stopped = True
    return stopped


def _queue(reports: collections.deque[dict[str, Any]]) -> Callable[[Any], None]:
    def handler(event: tuple[float, dict[str, Any]]) -> None:
        reports.append(event[1])  # Dask's thread; a deque's append is thread-safe

    return handler


def _members(client: Any) -> list[Member]:
    workers = client.scheduler_info(n_workers=-1)["workers"]
    members = [
        Member(
            address=address,
            host=str(info.get("host", "")),
            name=str(info.get("name", address)),
            threads=int(info.get("nthreads", 1)),
            nanny=info.get("nanny") or None,
        )
        for address, info in workers.items()
    ]
    return sorted(members, key=lambda m: (m.host, m.address))


def _connect(target: str, wanted: int | None) -> tuple[Any, Any, list[Member], str]:
    """Start or reach the cluster (blocking: Dask's own client runs its loop in a thread)."""
    dask = distributed()
    local = None
    count = parse_target(target)
    if count is not None:
        local = dask.LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # The harness reports lost workers itself; the scheduler's and nannies' logs
            # would only repeat it.
            silence_logs=logging.CRITICAL,
            # No memory manager pausing or restarting a worker under the harness's feet.
            memory_limit=0,
            # A task whose worker died fails at once (KilledWorker), never retried.
            scheduler_kwargs={"allowed_failures": 0},
        )
        client = dask.Client(local, set_as_default=False)
        wanted = wanted or count
    else:
        client = dask.Client(target, set_as_default=False, timeout=_CONNECT_SECONDS)
    try:
        if wanted:
            try:
                client.wait_for_workers(wanted, timeout=_WORKERS_WAIT_SECONDS)
            except TimeoutError:
                raise BenchError(
                    f"the Dask cluster {target} has {len(_members(client))} workers after "
                    f"{_WORKERS_WAIT_SECONDS:.0f} s; {wanted} were asked for"
                ) from None
        members = _members(client)
        if not members:
            raise BenchError(f"the Dask cluster at {target} has no workers")
        remote = [m.host for m in members if not _is_loopback(m.host)]
        server_host = _interface_towards(remote[0]) if remote else "127.0.0.1"
    except BaseException:
        client.close()
        if local is not None:
            local.close()
        raise
    return client, local, members, server_host


@contextlib.asynccontextmanager
async def open_cluster(
    target: str, wanted: int | None, say: Callable[[str], None]
) -> AsyncIterator[Cluster]:
    """The Dask cluster ``target`` names (``local:K`` or a scheduler's address), for the
    duration of the block; ``wanted`` workers of it (``None``: all).

    Raises:
        BenchError: The scheduler cannot be reached, or has too few workers.
    """
    if parse_target(target) is not None:
        say(f"starting a local Dask cluster: {target[len(_LOCAL_PREFIX) :]} worker processes")
    try:
        client, local, members, server_host = await trio.to_thread.run_sync(
            _connect, target, wanted
        )
    except (OSError, TimeoutError) as exc:
        raise BenchError(f"cannot reach the Dask cluster {target}: {exc}") from None
    cluster = Cluster(target, client, local, members, server_host, wanted)
    try:
        await cluster.call(client.subscribe_topic, "all", cluster.on_cluster_event)
        hosts = len({m.host for m in members})
        say(
            f"Dask cluster {target}: {len(members)} workers on {hosts} "
            f"host{'s' if hosts > 1 else ''}, using {cluster.worker_count}"
            + (
                "; restarting them before each run"
                if cluster.restartable
                else "; workers without a nanny run every run in the same process (memory "
                "per session reads low after the first)"
            )
        )
        yield cluster
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(2 * _CLOSE_SECONDS):
            await cluster.aclose()
