"""The harness's sans-I/O parts: workloads, sharding, the meter, merging shards, the report.

Worker results are produced by the real :class:`WorkerMeter` fed with chosen times, so the
merge and the tables are checked on the exact JSON workers send, with figures that can be
worked out by hand.
"""

from __future__ import annotations

import gc
import json

import pytest
from bench_helpers import metered_window

from trio_realtime._bench._meter import WorkerMeter, failure_name
from trio_realtime._bench._report import merge_run, passes, render_run
from trio_realtime._bench._stats import Histogram
from trio_realtime._bench._tables import render_comparison, render_report, render_runs
from trio_realtime._bench._verdicts import compare
from trio_realtime._bench._worker import WorkerSpec, parse_go
from trio_realtime._bench._workload import Workload, build_audio, session_phase, shard
from trio_realtime.audio import bytes_per_ms

# --- workload --------------------------------------------------------------------------------


def test_shards_deal_sessions_round_robin_and_drop_empty_workers() -> None:
    assert shard(5, 2) == [[0, 2, 4], [1, 3]]
    assert shard(2, 4) == [[0], [1]]
    assert sorted(i for part in shard(101, 3) for i in part) == list(range(101))
    with pytest.raises(ValueError, match="processes"):
        shard(3, 0)


def test_sessions_spread_evenly_over_one_append_interval() -> None:
    phases = [session_phase(i, 4, 0.1) for i in range(4)]
    assert phases == pytest.approx([0.0, 0.025, 0.05, 0.075])


def test_standard_audio_is_continuous_speech_and_turns_end_in_silence() -> None:
    standard = build_audio(Workload())
    assert standard.speech_end is None
    assert len(standard.chunks) == 20
    assert {len(c) for c in standard.chunks} == {100 * bytes_per_ms("pcm16")}
    turns = build_audio(Workload(scenario="turns", speech_ms=1000, silence_ms=2050))
    assert turns.speech_end == 9
    assert len(turns.chunks) == 10 + 21
    assert turns.chunks[-1] == bytes(4800)
    assert turns.ends_speech(9, 0)
    assert turns.ends_speech(8, 1)
    assert not turns.ends_speech(10, 0)
    assert turns.chunk(31, 0) == turns.chunks[0]


def test_workloads_refuse_nonsense_and_round_trip_through_json() -> None:
    with pytest.raises(ValueError, match="scenario"):
        Workload(scenario="chaos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sessions"):
        Workload(sessions=0)
    with pytest.raises(ValueError, match="window"):
        Workload(window=0)
    workload = Workload(scenario="turns", sessions=7, keep_audio_seconds=None)
    assert Workload.from_json(json.loads(json.dumps(workload.to_json()))) == workload
    assert workload.interval == pytest.approx(0.1)
    assert Workload(sessions=10).expected_events_per_second == pytest.approx(168.0)
    assert workload.expected_events_per_second is None


def test_worker_specs_round_trip_and_go_lines_parse() -> None:
    spec = WorkerSpec(
        client="ours", workload=Workload(sessions=3), url="ws://h/v1/realtime", indices=(0, 2)
    )
    assert WorkerSpec.from_json(spec.to_json()) == spec
    assert parse_go(b"go 123.25") == 123.25
    with pytest.raises(ValueError, match="go"):
        parse_go(b"")


# --- the meter and the merge ---------------------------------------------------------------------


def _worker(client: str, worker: int, sessions: int, latency_ms: float, cpu: float) -> dict:
    """A worker result: each session got 15 stamped events per second for 10 s."""
    meter = metered_window(client, worker, sessions, latency_ms)
    meter.event(meter.session_meters[0], 99.0, 98.0)  # before the window: not counted
    meter.sent(100.05, 100.0505)
    meter.error("rate_limit_exceeded")
    result = meter.result()
    result["cpu_window_s"] = cpu  # what the CPU marks would have read
    result["rss_end_kib"] = result["rss_idle_kib"]
    return json.loads(json.dumps(result))  # exactly what crosses the pipe


def test_meter_counts_only_the_window_and_stamped_events() -> None:
    result = _worker("ours", 0, 2, latency_ms=1.0, cpu=0.5)
    assert result["events"] == 300
    assert result["stamped"] == 300
    assert result["appends"] == 1
    delivery = Histogram.from_json(result["delivery_ms"])
    assert delivery.percentile(50) == pytest.approx(1.0, rel=0.011)
    assert result["errors"] == {"rate_limit_exceeded": 1}
    assert Histogram.from_json(result["session_events_per_s"]).min == pytest.approx(15.0)


def test_shards_merge_into_one_run_with_per_session_figures() -> None:
    # Responses too long to end in the window: 15 events per session-second expected.
    workload = Workload(sessions=5, window=10.0, response_seconds=1e9)
    workers = [_worker("ours", 0, 3, 1.0, cpu=1.5), _worker("ours", 1, 2, 3.0, cpu=1.0)]
    run = merge_run(workload, "ours", 2, workers, {"cpu_percent": 40.0})
    assert run["connected"] == 5
    assert run["events"] == 750
    assert run["events_per_s"] == pytest.approx(75.0)
    assert run["expected_events_per_s"] == pytest.approx(75.0)
    assert run["cpu_percent"] == pytest.approx(25.0)  # 2.5 CPU-seconds over 10 s
    assert run["cpu_s_per_session_minute"] == pytest.approx(2.5 / (5 * 10 / 60))
    assert run["rss_per_session_kib"] == pytest.approx(40.0)
    assert run["delivery_ms"]["count"] == 750
    assert run["delivery_ms"]["p50"] == pytest.approx(1.0, rel=0.011)  # 450 of 750 at 1 ms
    assert run["delivery_ms"]["max"] == pytest.approx(3.0)
    assert run["errors"] == {"rate_limit_exceeded": 2}
    assert run["connect_ms"]["p99"] == pytest.approx(20.0, rel=0.011)
    assert not passes(run, p99_ms=20.0)  # an error event fails a run
    clean = run | {"errors": {}}
    assert passes(clean, p99_ms=20.0)
    assert not passes(clean, p99_ms=2.0)
    dropped = clean | {"ended_early": {"ConnectionClosed 1006": 1}}
    assert not passes(dropped, p99_ms=20.0)
    behind = clean | {"events_per_s": 60.0}
    assert not passes(behind, p99_ms=20.0)


def test_failure_names_show_the_class_and_close_code_of_the_first_leaf() -> None:
    class Closed(Exception):
        code = 1006

    assert failure_name(ExceptionGroup("x", [Closed()])) == "Closed 1006"
    assert failure_name(TimeoutError()) == "TimeoutError"


# --- the report ----------------------------------------------------------------------------------


def _pair(n: int = 4) -> tuple[dict, dict]:
    workload = Workload(sessions=n, response_seconds=1e9)
    ours = merge_run(workload, "ours", 1, [_worker("ours", 0, n, 1.0, cpu=0.5)])
    peer = merge_run(
        workload, "openai-sdk-send", 1, [_worker("openai-sdk-send", 0, n, 4.0, cpu=1.0)]
    )
    for run in (ours, peer):
        run["errors"] = {}
        run["pass"] = passes(run, 20.0)
        run["foreign_cpu_percent"] = 0.0
    return ours, peer


def test_the_printed_report_has_the_side_by_side_table_and_ratios() -> None:
    ours, peer = _pair()
    table = render_run([ours, peer])
    assert "trio_realtime" in table
    assert "openai SDK send(model)" in table
    assert "delivery ms p50/p90/p99/max" in table
    assert "4/4 (1 proc)" in table
    rows = compare({"ours": [ours], "openai-sdk-send": [peer]})
    report = {
        "workload": Workload(sessions=4).to_json(),
        "p99_ms": 20.0,
        "url": "embedded",
        "runs": [ours, peer],
        "verdicts": [],
        "comparisons": [{"processes": 1, "sessions": 4, "rows": rows, "targets": []}],
        "environment": {"cpus": 2, "python": "3.11", "trio": "x", "openai": "y"},
    }
    text = render_report(report)
    assert "scenario standard" in text
    assert "Side by side at N = 4" in text
    assert "0.50x  ours" in render_comparison(report["comparisons"][0])  # CPU per event
    assert "WARNING" not in text
    noisy = report | {"runs": [ours | {"foreign_cpu_percent": 80.0}, peer]}
    assert "WARNING: other processes used up to 80%" in render_report(noisy)
    lines = render_runs([ours, peer]).splitlines()
    assert lines[1].split()[1] == "4"
    assert lines[1].endswith("yes")


def test_scaling_is_reported_when_several_process_counts_ran() -> None:
    ours, _ = _pair()
    two = ours | {"processes": 2}
    report = {
        "workload": Workload(sessions=4).to_json(),
        "p99_ms": 20.0,
        "url": "embedded",
        "runs": [ours, two],
        "verdicts": [],
        "limits": [
            {"client": "ours", "processes": p, "sizes": [4], "limit": 4, "first_failed": None}
            for p in (1, 2)
        ],
        "sweep": True,
    }
    text = render_report(report)
    assert "Scaling, 1 -> 2 worker processes" in text


def test_collector_pauses_are_timed_only_inside_the_window_and_merge_across_workers() -> None:
    meter = WorkerMeter("ours", 0, 1, trace_memory=False)
    meter.idle_snapshot()
    assert meter.gc.tracked_idle is not None
    assert meter.gc.tracked_idle > 0
    gc.collect()  # before the window: not counted
    meter.cpu_mark_start()
    gc.collect()
    meter.cpu_mark_end()
    gc.collect()  # after: not counted either
    figures = json.loads(json.dumps(meter.result()))["gc"]
    assert figures["counts"][2] == 1
    assert figures["longest_ms"][2] > 0.0
    assert figures["total_ms"][2] == pytest.approx(figures["longest_ms"][2])
    other = figures | {"counts": [3, 1, 2], "longest_ms": [1.0, 2.0, 1e6], "tracked_idle": 10}
    workload = Workload(sessions=2, window=10.0)
    workers = [_worker("ours", 0, 1, 1.0, cpu=1.0), _worker("ours", 1, 1, 1.0, cpu=1.0)]
    workers[0]["gc"], workers[1]["gc"] = figures, other
    merged = merge_run(workload, "ours", 2, workers, {})["gc"]
    assert merged["counts"][2] == 3
    assert merged["longest_ms"][2] == 1e6
    assert merged["tracked_idle"] == figures["tracked_idle"] + 10
    assert "GC full collections, longest ms" in render_run(
        [merge_run(workload, "ours", 2, workers, {})]
    )
