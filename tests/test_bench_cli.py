"""``trio-realtime bench`` as a user runs it: a subprocess, an embedded server, real workers.

One tiny end-to-end run (3 sessions, a 1 s window) of all three clients side by side: it must
exit 0, print the table and the ratios, and write a JSON report whose figures add up. No speed
is asserted: speed is measured by the harness, never tested.
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
        timeout=90,
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
    assert "trio_realtime" in out
    assert "openai SDK (peer)" in out
    assert "bare trio-websocket" in out
    assert "delivery ms p50/p90/p99/max" in out
    assert "Side by side at N = 3:" in out
    assert f"JSON report written to {report_path}" in out
    assert ("matplotlib is not installed" in out) != plot_path.exists()
    report = json.loads(report_path.read_text())
    assert [run["client"] for run in report["runs"]] == ["ours", "openai-sdk", "bare-trio"]
    for run in report["runs"]:
        assert run["connected"] == 3
        assert run["connect_failures"] == {}
        assert run["events"] > 0
        assert run["delivery_ms"]["count"] == run["stamped"] > 0
        assert run["appends"] > 0
        assert run["cpu_s"] is not None
        assert run["server"]["cpu_percent"] is not None
        assert run["timeline"]
    assert report["environment"]["cpus"] >= 1
    assert "sk-bench" not in done.stdout + done.stderr + report_path.read_text()


def test_bench_is_a_subcommand_and_refuses_contradictory_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "bench" in SUBCOMMANDS
    assert main(["bench", "--refine", "25"]) == 2
    assert "--refine needs --sweep" in capsys.readouterr().err
    assert main(["bench", "--peer-only"]) == 2
    assert "--peer-only needs --peer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--sweep", "10,x"])
