"""``trio-realtime bench --cluster``: the harness's workers as Dask tasks.

Each test starts a real ``LocalCluster`` of two worker processes (one thread each) and runs a
few sessions for a second or two against the embedded load server: the same sessions, meter
and merge as ``--processes``, through Dask instead of pipes. Nothing about speed is asserted.

Dask is an optional extra (``trio-realtime[cluster]``); the ``test`` extra installs it, so CI
runs these, and without it they are skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_realtime._bench import _orchestrator
from trio_realtime._bench._launcher import Worker
from trio_realtime._bench._orchestrator import BenchOptions
from trio_realtime._bench._sweep import run_bench
from trio_realtime._bench._tables import render_report
from trio_realtime._bench._workload import Workload

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trio_realtime", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_local_cluster_run_merges_the_workers_and_reports_each_one(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    done = _bench(
        "--cluster",
        "local:2",
        "--sessions",
        "4",
        "--warmup",
        "0.5",
        "--window",
        "1",
        "--no-scaling",
        "--json",
        str(report_path),
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert "workers: Dask cluster local:2" in done.stdout
    assert "Per worker: trio_realtime, N = 4" in done.stdout
    report = json.loads(report_path.read_text())
    assert report["cluster"]["target"] == "local:2"
    assert len(report["cluster"]["workers"]) == 2
    (run,) = report["runs"]
    assert run["launcher"] == "cluster local:2"
    assert run["connected"] == 4
    assert run["lost_workers"] == []
    workers = run["workers"]
    assert [w["sessions"] for w in workers] == [2, 2]
    assert len({w["address"] for w in workers}) == 2
    # The merge is the processes' merge: the workers' own figures add up to the run's.
    assert sum(w["events"] for w in workers) == run["events"]
    assert sum(w["latency"]["count"] for w in workers) == run["delivery_ms"]["count"] > 0
    # One start event for both: their windows open within the start margin (0.5 s) of each
    # other, on the one clock they share here (milliseconds apart, on a quiet machine).
    assert 0.0 <= run["window_skew_ms"] < 500.0
    assert run["cpu_clock"] == "thread"  # the loop's thread, Dask's own threads apart
    assert run["process_cpu_percent"] >= run["cpu_percent"] > 0
    (host,) = run["hosts"]
    assert host["sessions"] == 4
    assert host["workers"] == 2
    assert "sk-bench" not in done.stdout + done.stderr + report_path.read_text()


class _KillWhenStreaming:
    """Kills worker 1's process (SIGKILL) once the window is open: the worker is lost
    mid-run, with its sessions connected and streaming."""

    def __init__(self) -> None:
        self.killed: dict[str, Any] | None = None

    def __call__(
        self,
        progress: _orchestrator.Progress,
        workers: Sequence[Worker],
        server_cpu: float | None,
        phase: str,
    ) -> None:
        if phase == "window" and self.killed is None:
            victim = next(w for w in workers if w.spec.worker == 1)
            self.killed = dict(victim.placement)
            os.kill(victim.placement["pid"], signal.SIGKILL)


async def test_a_worker_killed_mid_run_is_reported_with_its_sessions_never_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kill = _KillWhenStreaming()
    original = _orchestrator.Progress.update

    def update(
        progress: _orchestrator.Progress,
        workers: Sequence[Worker],
        server_cpu: float | None,
        phase: str,
    ) -> None:
        kill(progress, workers, server_cpu, phase)
        original(progress, workers, server_cpu, phase)

    monkeypatch.setattr(_orchestrator.Progress, "update", update)
    options = BenchOptions(
        workload=Workload(sessions=6, warmup=0.5, window=2.5),
        cluster="local:2",
        processes=0,
        scaling=False,
        progress=False,
    )
    with trio.fail_after(240):
        report = await run_bench(options)
    assert kill.killed is not None
    (run,) = report["runs"]
    (lost,) = run["lost_workers"]
    assert lost["worker"] == 1
    assert lost["address"] == kill.killed["address"]
    assert lost["sessions"] == 3
    assert lost["session_indices"] == [1, 3, 5]
    assert "KilledWorker" in lost["reason"] or "left the cluster" in lost["reason"]
    # Worker 0's three sessions ran to the end and are all that was measured: worker 1's
    # were not run again on worker 0 or on the worker the nanny started in its place.
    survivor, gone = run["workers"]
    assert survivor["worker"] == 0
    assert survivor["lost"] is None
    assert survivor["sessions"] == survivor["connected"] == 3
    assert run["connected"] == 3
    assert gone["worker"] == 1
    assert gone["lost"] == lost["reason"]
    assert run["pass"] is False
    (verdict,) = report["verdicts"]
    assert not verdict["pass"]
    assert any(
        p.startswith("worker 1 (") and "lost mid-run with its 3 sessions" in p
        for p in verdict["problems"]
    )
    assert not any("did not connect" in p for p in verdict["problems"])
    text = render_report(report)
    assert "LOST mid-run" in text
    assert "its 3 sessions were not run again elsewhere: 1, 3, 5" in text
