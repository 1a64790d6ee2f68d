"""The benchmark scripts run end to end on tiny numbers.

Rules these tests follow:

* Each script runs in a subprocess, as a user runs it, through its ``main(argv)``.
* Only that it finishes, exits 0 and writes the report it promises is checked: speed is
  measured by the scripts, never asserted in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_main(script: str, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>.py``'s ``main(argv)`` in a fresh interpreter."""
    code = (
        f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import {script}; "
        f"sys.exit({script}.main({argv!r}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow  # real time
def test_server_load_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "server_load.json"
    argv = ["--idle", "20", "--probes", "1", "--idle-window", "1", "--streaming", "4"]
    argv += ["--warmup", "1", "--window", "1", "--json", str(out)]
    done = run_main("bench_server_load", argv, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "phase 1, idle: N = 20" in done.stdout
    assert "phase 2, streaming: M = 4" in done.stdout
    report = json.loads(out.read_text())
    assert report["ok"] is True
    assert report["server_exit_status"] == 0
    idle, streaming = report["idle"], report["streaming"]
    assert (idle["connections"], idle["connected"], idle["failed"]) == (20, 20, 0)
    for key in (
        "connect_ms",
        "server_rss_kib",
        "server_rss_kib_per_connection",
        "server_cpu_percent",
        "fresh_connection_ms",
    ):
        assert key in idle
    assert (streaming["sessions"], streaming["connected"], streaming["failed"]) == (4, 4, 0)
    for key in (
        "events_per_second",
        "audio_deltas_per_second",
        "speech_stopped_audio_ms",
        "speech_stopped_wall_ms",
        "speech_stopped_reaction_ms",
        "first_audio_delta_wall_ms",
        "first_audio_delta_after_stop_ms",
        "send_lateness_ms",
        "errors",
        "server_cpu_percent",
        "server_rss_kib",
    ):
        assert key in streaming
    assert set(streaming["send_lateness_ms"]) == {"count", "p50", "p90", "p99", "max"}
    assert streaming["appends_sent"] > 0
