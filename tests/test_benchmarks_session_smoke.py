"""``benchmarks/bench_session.py --quick`` runs end to end and writes the JSON it promises.

Speed is never asserted here (it belongs to the benchmark's own report); this only checks that
the script starts the server and the replay peer, runs every contender on both workloads
against both, and reports every figure, so the benchmark cannot rot unnoticed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_session.py"
KINDS = ("trio_realtime", "trio_realtime_untracked", "openai_sdk_send", "openai_sdk_append")
RECEIVE_KEYS = {
    "events_per_second",
    "cpu_us_per_event",
    "events_per_cpu_second",
    "events_per_response",
    "client_cpu_percent",
    "server_cpu_percent",
    "other_cpu_percent",
}
PUMP_KEYS = {
    "audio_seconds_per_second",
    "appends_per_second",
    "cpu_us_per_append",
    "audio_seconds_per_cpu_second",
    "client_cpu_percent",
    "server_cpu_percent",
    "other_cpu_percent",
}


@pytest.mark.slow  # real time
def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "session.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ours/SDK" in done.stdout

    report = json.loads(out.read_text())
    assert report["benchmark"] == "session"
    assert report["settings"]["sessions"] == [1]
    assert report["targets"] == {"receive_events_per_second_vs_sdk": 1.5}
    for section in ("receive/server", "receive/replay", "pump/server", "pump/replay"):
        workload = section.split("/")[0]
        keys = RECEIVE_KEYS if workload == "receive" else PUMP_KEYS
        rate = "events_per_second" if workload == "receive" else "audio_seconds_per_second"
        for kind in KINDS:
            result = report["results"][f"{section}/1/{kind}"]
            assert set(result["median"]) == keys
            assert len(result["runs"]) == 1
            assert all(math.isfinite(v) and v >= 0 for v in result["median"].values())
            # Every contender really moved data through its peer in the window.
            assert result["median"][rate] > 0
        assert set(report["ratios"][section]["1"]) == {
            "sdk_best_rate",
            "sdk_best_cost",
            f"tracked_{rate}",
            "tracked_cpu_efficiency",
            f"untracked_{rate}",
            "untracked_cpu_efficiency",
        }
    # Both peers serve the long audio reply the docstring describes (about 380 events).
    for section in ("receive/server", "receive/replay"):
        for kind in ("openai_sdk_send", "openai_sdk_append"):
            assert report["results"][f"{section}/1/{kind}"]["median"]["events_per_response"] > 300
