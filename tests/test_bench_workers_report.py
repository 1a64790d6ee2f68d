"""Per-worker and per-host figures, lost workers, and whose clock a worker trusts.

Sans-I/O, without Dask: worker results come from the real :class:`WorkerMeter` fed with
chosen times (as in ``test_bench_report.py``), placed on hosts by hand, so every figure can be
worked out by hand. The cluster itself runs in ``test_bench_cluster.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import trio

from trio_realtime._bench._environment import clock_id, is_this_machine
from trio_realtime._bench._meter import WorkerMeter, stamps_trusted
from trio_realtime._bench._orchestrator import BenchOptions, run_size, server_clock
from trio_realtime._bench._per_worker import lost_worker, render_workers
from trio_realtime._bench._processes import BenchError
from trio_realtime._bench._report import merge_run
from trio_realtime._bench._tables import render_report
from trio_realtime._bench._verdicts import problems
from trio_realtime._bench._worker import WorkerSpec
from trio_realtime._bench._workload import Workload, shard
from trio_realtime._cli._main import main


def _result(worker: int, sessions: int, latency_ms: float, *, trust: bool = True) -> dict:
    """A worker's result: each session got 15 stamped events per second for 10 s; its loop
    thread used 0.1 s of CPU per session, its whole process 0.05 s more."""
    meter = WorkerMeter("ours", worker, sessions, trace_memory=False, trust_stamps=trust)
    meter.baseline()
    meter.rss_base_kib = 1000
    for _ in range(sessions):
        meter.new_session()
        meter.connect_done(0.020)
    meter.idle_snapshot()
    meter.rss_idle_kib = 1000 + 40 * sessions
    meter.open_window(100.0, 110.0)
    for s in meter.session_meters:
        for i in range(150):
            t = 100.0 + i / 15
            meter.event(s, t + latency_ms / 1000.0, t)
    result = meter.result()
    result.update(
        cpu_window_s=0.1 * sessions,
        cpu_wall_s=10.0,
        cpu_clock="thread",
        process_cpu_window_s=0.1 * sessions + 0.05,
        rss_end_kib=2048 * (worker + 1),
    )
    return json.loads(json.dumps(result))


def _placed(result: dict, host: str) -> dict:
    return {**result, "placement": {"host": host, "address": f"tcp://{host}:1", "pid": 7}}


def test_each_worker_and_each_host_gets_its_own_figures_beside_the_merged_ones() -> None:
    workload = Workload(sessions=6, window=10.0, response_seconds=1e9)
    results = [
        _placed(_result(0, 2, 1.0), "alpha"),
        _placed(_result(1, 2, 5.0), "beta"),
        _placed(_result(2, 2, 9.0), "beta"),
    ]
    run = merge_run(workload, "ours", 3, results)
    assert run["connected"] == 6
    assert run["window_skew_ms"] == 0.0  # every window opened at 100.0 on one clock
    assert run["cpu_clock"] == "thread"
    assert run["cpu_percent"] == pytest.approx(6.0)  # 0.6 s of loop CPU over 10 s
    assert run["process_cpu_percent"] == pytest.approx(7.5)
    zero, _one, two = run["workers"]
    assert (zero["host"], zero["sessions"], zero["connected"]) == ("alpha", 2, 2)
    assert zero["events_per_s"] == pytest.approx(30.0)
    assert zero["cpu_percent"] == pytest.approx(2.0)
    assert zero["process_cpu_percent"] == pytest.approx(2.5)
    assert zero["rss_per_session_kib"] == pytest.approx(40.0)
    assert zero["rss_kib"] == 2048
    assert zero["latency"]["p99"] == pytest.approx(1.0, rel=0.011)
    assert two["latency"]["p99"] == pytest.approx(9.0, rel=0.011)
    alpha, beta = run["hosts"]
    assert (alpha["host"], alpha["workers"], alpha["sessions"]) == ("alpha", 1, 2)
    assert (beta["host"], beta["workers"], beta["sessions"]) == ("beta", 2, 4)
    assert beta["events_per_s"] == pytest.approx(60.0)
    assert beta["cpu_percent"] == pytest.approx(4.0)
    assert beta["rss_kib"] == 2048 * 2 + 2048 * 3
    # A host's p99 comes from its workers' histograms merged, not from their p99s.
    assert beta["latency"]["p50"] == pytest.approx(5.0, rel=0.011)
    assert beta["latency"]["p99"] == pytest.approx(9.0, rel=0.011)
    assert run["delivery_ms"]["p50"] == pytest.approx(5.0, rel=0.011)
    table = render_workers({**run, "label": "trio_realtime"})
    assert "Per worker: trio_realtime, N = 6" in table
    assert "Per host:" in table
    assert table.count("tcp://beta:1") == 2


def test_a_lost_worker_is_named_with_its_sessions_and_fails_the_run() -> None:
    workload = Workload(sessions=5, window=10.0, response_seconds=1e9)
    shards = shard(5, 2)
    spec = WorkerSpec(
        client="ours",
        workload=workload,
        url="ws://x/v1/realtime",
        indices=tuple(shards[1]),
        worker=1,
    )
    lost = lost_worker(
        spec,
        {"host": "beta", "address": "tcp://beta:1", "pid": 9},
        "its Dask worker died while running it (KilledWorker)",
        {"connected": 2, "alive": 2, "events": 120, "t": 1.0},
    )
    assert lost["sessions"] == 2
    assert lost["session_indices"] == [1, 3]
    assert lost["last_progress"] == {"connected": 2, "alive": 2, "events": 120}
    survivor = _placed(_result(0, 3, 1.0), "alpha")
    run = merge_run(workload, "ours", 2, [survivor], lost=[lost])
    assert run["connected"] == 3
    assert run["lost_workers"] == [lost]
    assert [w["lost"] for w in run["workers"]] == [None, lost["reason"]]
    assert [h["lost"] for h in run["hosts"]] == [0, 1]
    found = problems(run)
    # The lost worker's sessions are its problem, not sessions that "did not connect", and
    # the events expected are those of the sessions still held.
    assert found == [
        "worker 1 (beta, tcp://beta:1) lost mid-run with its 2 sessions: its Dask worker "
        "died while running it (KilledWorker)"
    ]
    run["label"] = "trio_realtime"
    run["pass"] = False
    text = render_report(
        {
            "workload": workload.to_json(),
            "url": "embedded",
            "p99_ms": 20.0,
            "runs": [run],
            "verdicts": [],
            "gc_threshold": None,
        }
    )
    assert "workers lost mid-run" in text
    assert "LOST mid-run: its Dask worker died while running it (KilledWorker)" in text
    assert "its 2 sessions were not run again elsewhere: 1, 3" in text


def test_stamps_from_another_machines_clock_are_counted_never_subtracted() -> None:
    assert stamps_trusted(None)  # not checked: a worker on the coordinator's machine
    assert stamps_trusted(clock_id())
    assert not stamps_trusted("")  # a server whose machine is unknown
    assert not stamps_trusted("boot:another-kernel")
    workload = Workload(sessions=2, window=10.0, response_seconds=1e9)
    elsewhere = _result(0, 2, 1.0, trust=False)
    assert elsewhere["events"] == 300
    assert elsewhere["stamped"] == 0
    assert elsewhere["stamps_trusted"] is False
    run = merge_run(workload, "ours", 1, [_placed(elsewhere, "beta")])
    assert run["delivery_ms"]["count"] == 0
    assert run["stamps_untrusted"] == [0]
    assert "no delivery latency: no worker shares the server's clock" in problems(run)
    assert "other clock" in render_workers({**run, "label": "trio_realtime"})


def test_the_server_clock_is_this_machines_only_for_a_server_on_this_machine() -> None:
    assert is_this_machine("127.0.0.1")
    assert is_this_machine("localhost")
    assert not is_this_machine("192.0.2.1")  # TEST-NET-1: never a local address
    assert server_clock(None) == clock_id()  # the embedded server
    assert server_clock("ws://127.0.0.1:8000/v1/realtime") == clock_id()
    assert server_clock("ws://192.0.2.1:8000/v1/realtime") == ""


def test_plain_runs_never_import_dask() -> None:
    # The bench command up to its options (a usage error stops it before any run).
    code = (
        "import sys, trio_realtime, trio_realtime._bench._sweep\n"
        "from trio_realtime._cli._main import main\n"
        "assert main(['bench', '--refine', '25']) == 2\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_cluster_arguments_are_checked_before_anything_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["bench", "--cluster", "local:0"]) == 2
    assert "local:K needs a worker count K >= 1" in capsys.readouterr().err
    assert main(["bench", "--cluster", "local:2", "--processes", "3"]) == 2
    assert "--cluster local:2 has 2 workers" in capsys.readouterr().err
    # Without the optional extra, --cluster says how to get it.
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    assert main(["bench", "--cluster", "local:2"]) == 2
    assert "pip install 'trio-realtime[cluster]'" in capsys.readouterr().err


async def test_a_run_that_cannot_start_fails_with_one_bench_error_not_a_group() -> None:
    # Raised inside the run's nursery, the error is still the one the CLI and the sweep
    # catch (exit status 1, "counted as a failure"), not an ExceptionGroup around it.
    options = BenchOptions(
        workload=Workload(sessions=1, warmup=0.1, window=0.5, connect_timeout=5.0),
        url="ws://127.0.0.1:9/v1/realtime",  # the discard port: nothing listens
        progress=False,
    )
    with trio.fail_after(60), pytest.raises(BenchError, match="no session connected"):
        await run_size(options, "ours", 1, 1)
