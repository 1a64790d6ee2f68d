"""Capacity with uncertainty: repeated runs, clients interleaved, verdicts on medians, limits
that a smaller failure caps, the same sizes for every client, ratios against the peer at its
best, and a record run's wait for a quiet machine said out loud.

The plan is driven with a stand-in for one run (each client has a known capacity), so every
decision of the harness can be checked exactly and instantly.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from trio_realtime._bench import _sweep
from trio_realtime._bench._orchestrator import BenchOptions
from trio_realtime._bench._verdicts import compare, limit, size_verdict, spread, targets
from trio_realtime._bench._workload import Workload
from trio_realtime._cli._bench import missed_target


def _run(client: str, sessions: int, p99: float, **changes: Any) -> dict[str, Any]:
    """A merged run with the fields verdicts read: every session connected, events kept up."""
    run: dict[str, Any] = {
        "client": client,
        "scenario": "standard",
        "sessions": sessions,
        "processes": 1,
        "connected": sessions,
        "ended_early": {},
        "errors": {},
        "expected_events_per_s": 15.0 * sessions,
        "events_per_s": 15.0 * sessions,
        "events": 300 * sessions,
        "cpu_s": 0.01 * sessions,
        "cpu_percent": 1.0,
        "cpu_s_per_session_minute": 0.1,
        "rss_per_session_kib": 30.0,
        "delivery_ms": {"count": 300 * sessions, "p50": p99 / 4, "p99": p99},
        "turn_ms": {"count": 0, "p50": None, "p99": None},
        "connect_ms": {"p50": 10.0},
        "stalls": {"stalls": 0},
        "foreign_cpu_percent": 0.0,
    }
    run.update(changes)
    return run


def test_a_size_passes_on_the_median_p99_and_no_problem_in_any_run() -> None:
    runs = [_run("ours", 100, p) for p in (5.0, 30.0, 8.0)]
    verdict = size_verdict(runs, 20.0)
    assert verdict["pass"]
    assert verdict["p99_ms"] == {"min": 5.0, "median": 8.0, "max": 30.0}
    assert verdict["runs"] == 3
    assert not size_verdict([_run("ours", 100, p) for p in (25.0, 30.0, 8.0)], 20.0)["pass"]
    with_error = [*runs[:2], _run("ours", 100, 1.0, errors={"server_error": 1})]
    failed = size_verdict(with_error, 20.0)
    assert not failed["pass"]
    assert failed["problems"] == ["1 error events"]
    behind = size_verdict([*runs[:2], _run("ours", 100, 1.0, events_per_s=1000.0)], 20.0)
    assert behind["problems"] == ["received 67% of the events"]
    dropped = size_verdict([*runs, _run("ours", 100, 1.0, connected=99)], 20.0)
    assert dropped["problems"] == ["1 of 100 did not connect"]
    unfinished = size_verdict(runs, 20.0, unfinished=["worker 0 exited with 1"])
    assert not unfinished["pass"]
    assert spread([]) is None


def test_the_limit_is_the_largest_size_with_every_smaller_size_passing() -> None:
    verdicts = {150: {"pass": True}, 250: {"pass": False}, 350: {"pass": True}}
    assert limit(verdicts) == 150
    assert limit({150: {"pass": False}}) is None
    assert limit({150: {"pass": True}, 200: {"pass": True}}) == 200


def test_ratios_are_taken_against_the_better_sdk_variant_for_each_figure() -> None:
    ours = [_run("ours", 100, 4.0, cpu_s=2.5, rss_per_session_kib=40.0)]
    send = [_run("openai-sdk-send", 100, 8.0, cpu_s=5.0, rss_per_session_kib=34.0)]
    append = [_run("openai-sdk-append", 100, 2.0, cpu_s=20.0, rss_per_session_kib=36.0)]
    rows = {
        r["metric"]: r
        for r in compare({"ours": ours, "openai-sdk-send": send, "openai-sdk-append": append})
    }
    cpu = rows["cpu_us_per_event"]
    assert cpu["best_peer"] == "openai-sdk-send"
    assert cpu["ratio"] == pytest.approx(0.5)
    assert cpu["ours_better"]
    latency = rows["latency_p99_ms"]
    assert latency["best_peer"] == "openai-sdk-append"  # the documented path was faster here
    assert latency["ratio"] == pytest.approx(2.0)
    assert latency["ours_better"] is False
    met = {
        t["metric"]: t
        for t in targets(
            list(rows.values()), {"ours": 300, "openai-sdk-send": 200, "openai-sdk-append": 100}
        )
    }
    assert met["capacity"]["ratio"] == pytest.approx(1.5)
    assert met["capacity"]["best_peer"] == "openai-sdk-send"
    assert met["capacity"]["met"]
    assert met["cpu_us_per_event"]["met"]  # 0.5 <= 0.6
    assert met["rss_per_session_kib"]["met"] is False  # 40 / 34
    assert met["latency_p99_ms"]["met"] is False


CAPACITY = {"ours": 300, "openai-sdk-send": 200, "openai-sdk-append": 100}


def _plan(
    monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Run the harness's plan with a stand-in run whose p99 is 5 ms up to the client's
    capacity, 50 ms above it and 500 ms past twice it."""
    ran: list[tuple[str, int]] = []

    async def run_size(
        opts: BenchOptions, client: str, n: int, processes: int, launcher: object = None
    ) -> dict:
        ran.append((client, n))
        top = CAPACITY[client]
        return _run(client, n, 5.0 if n <= top else 50.0 if n <= 2 * top else 500.0)

    monkeypatch.setattr(_sweep, "run_size", run_size)
    bench = BenchOptions(
        workload=Workload(),
        clients=("ours", "openai-sdk-send", "openai-sdk-append"),
        progress=False,
        **options,
    )
    return trio.run(_sweep.run_bench, bench), ran


def test_sizes_run_three_times_clients_interleaved_and_limits_follow_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report, ran = _plan(monkeypatch, sweep=(100, 200, 300, 400), repeats=3, refine=50)
    assert ran[:6] == [
        ("ours", 100),
        ("openai-sdk-send", 100),
        ("openai-sdk-append", 100),
        ("ours", 100),
        ("openai-sdk-send", 100),
        ("openai-sdk-append", 100),
    ]
    limits = {e["client"]: e for e in report["limits"]}
    assert {c: e["limit"] for c, e in limits.items()} == CAPACITY
    # Every size is tried for every client up to its first failure, refined ones included.
    assert limits["ours"]["sizes"] == [100, 150, 200, 250, 300, 350, 400]
    assert limits["openai-sdk-send"]["sizes"] == [100, 150, 200, 250, 300]
    assert limits["openai-sdk-append"]["sizes"] == [100, 150, 200]
    assert limits["ours"]["first_failed"] == 350  # found by bisecting 300..400
    for verdict in report["verdicts"]:
        assert verdict["runs"] == 3
    assert all(ran.count(step) == 3 for step in set(ran))
    comparison = report["comparisons"][0]
    assert comparison["sessions"] == 100  # the largest size every client passed
    capacity = next(t for t in comparison["targets"] if t["metric"] == "capacity")
    assert capacity["ratio"] == pytest.approx(1.5)


def test_a_run_far_past_the_target_ends_that_clients_repeats_at_that_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report, ran = _plan(monkeypatch, sweep=(100, 250), repeats=3)
    assert ran.count(("openai-sdk-append", 250)) == 1  # p99 500 ms: hopeless, not repeated
    assert ran.count(("ours", 250)) == 3
    stopped = next(
        v for v in report["verdicts"] if v["client"] == "openai-sdk-append" and v["sessions"] == 250
    )
    assert not stopped["pass"]
    assert "stopped after a run far past 20 ms" in stopped["problems"]
    assert missed_target(report) is False  # ours passed every size it ran
    failing = report | {"verdicts": [stopped | {"client": "ours"}]}
    assert missed_target(failing) is True


async def test_a_record_runs_wait_for_a_quiet_machine_is_announced(
    monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    busy = iter(range(0, 10_000, 5))  # other processes: 5 CPU-seconds per call, always busy
    monkeypatch.setattr(_sweep, "machine_busy_seconds", lambda: float(next(busy)))
    said: list[str] = []
    options = BenchOptions(workload=Workload(), wait_quiet=True, quiet_wait=10.0)
    await _sweep.wait_for_quiet(options, said.append)
    assert said[0].startswith("  waiting up to 10 s for a quiet machine")
    assert said[-1] == "  machine still busy after 10 s; running anyway"
