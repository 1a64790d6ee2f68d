"""``trio-realtime bench`` as a user runs it: a subprocess, an embedded server, real workers.

One tiny end-to-end run (3 sessions, a 1 s window) of every client side by side (ours, the
SDK's two ways of appending, the two bare baselines): it must exit 0, print the table and the
ratios, and write a JSON report whose figures add up. No speed is asserted: speed is measured
by the harness, never tested. Nothing waits for a quiet machine (that is opt-in, for record
runs), so the timeouts below are generous bounds, not budgets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trio_realtime._cli._main import SUBCOMMANDS, main


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from trio_realtime._cli._main import main; sys.exit(main())",
            "bench",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_tiny_run_prints_the_report_and_writes_consistent_json(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    plot_path = tmp_path / "plot.png"
    done = _bench(
        "--sessions",
        "3",
        "--warmup",
        "0.5",
        "--window",
        "1",
        "--peer",
        "openai-sdk",
        "--baseline",
        "--json",
        str(report_path),
        "--plot",
        str(plot_path),
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "scenario standard" in out
    for name in (
        "trio_realtime",
        "openai SDK send(model)",
        "openai SDK append()",
        "bare trio-websocket",
        "bare asyncio websockets",
    ):
        assert name in out
    assert "delivery ms p50/p90/p99/max" in out
    assert "loop stalls >= 10 ms" in out
    assert "Side by side at N = 3; ratio = ours / the peer at its best" in out
    assert "waiting" not in done.stderr
    assert f"JSON report written to {report_path}" in out
    assert ("matplotlib is not installed" in out) != plot_path.exists()
    report = json.loads(report_path.read_text())
    assert [run["client"] for run in report["runs"]] == [
        "ours",
        "openai-sdk-send",
        "openai-sdk-append",
        "bare-trio",
        "bare-asyncio",
    ]
    for run in report["runs"]:
        assert run["connected"] == 3
        assert run["connect_failures"] == {}
        assert run["events"] > 0
        assert run["delivery_ms"]["count"] == run["stamped"] > 0
        assert run["appends"] > 0
        assert run["cpu_s"] is not None
        assert run["server"]["cpu_percent"] is not None
        assert run["timeline"]
        assert run["stalls"]["passes_ms"]["count"] > 0
    assert report["environment"]["cpus"] >= 1
    assert report["environment"]["load_average_before"] is not None
    assert "sk-bench" not in done.stdout + done.stderr + report_path.read_text()


def test_check_makes_a_missed_target_exit_5() -> None:
    # A p99 target of 1 microsecond cannot be met: the run finishes, prints its verdict, and
    # --check turns the miss into the documented exit status for scripts and CI.
    args = ("--sessions", "1", "--warmup", "0.2", "--window", "0.5", "--p99-ms", "0.001", "-q")
    done = _bench(*args, "--check")
    assert done.returncode == 5, done.stderr
    assert "--check: our client missed the target" in done.stderr
    assert "trio_realtime" in done.stdout


def test_bench_is_a_subcommand_and_refuses_contradictory_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "bench" in SUBCOMMANDS
    assert main(["bench", "--refine", "25"]) == 2
    assert "--refine needs --sweep" in capsys.readouterr().err
    assert main(["bench", "--peer-only"]) == 2
    assert "--peer-only needs --peer" in capsys.readouterr().err
    assert main(["bench", "--compare-at", "7"]) == 2
    assert "--compare-at must be one of the sizes run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--sweep", "10,x"])
    # The SDK's beta client cannot open transcription sessions; its GA client can.
    assert main(["bench", "--scenario", "transcription", "--peer", "openai-sdk"]) == 2
    assert "--dialect ga" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--dialect", "v2"])


def test_help_documents_the_exit_status_and_the_opt_in_record_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "exit status:" in text
    assert "5    --check" in text
    assert "--wait-quiet" in text
    assert "--retries K" in text
