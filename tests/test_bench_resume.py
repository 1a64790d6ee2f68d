"""``trio-realtime bench --scenario resume`` as a user runs it: one tiny run end to end.

Three sessions for a few seconds, against the embedded reference server with a 4 s session
limit, through the harness's proxy resetting a connection every second: the run must exit 0,
print the table and write a JSON report whose counts add up and in which nothing was lost.
No time is asserted: resume times are measured by the harness, never tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_a_tiny_resume_run_reports_resumes_and_loses_nothing(tmp_path: Path) -> None:
    report_path = tmp_path / "resume.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from trio_realtime._cli._main import main; sys.exit(main())",
            "bench",
            "--scenario",
            "resume",
            "--sessions",
            "3",
            "--window",
            "5",
            "--ramp",
            "0.3",
            "--session-seconds",
            "4",
            "--turn-every",
            "2",
            "--json",
            str(report_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "scenario resume" in done.stdout
    assert "resume time" in done.stdout
    report = json.loads(report_path.read_text())
    assert report["connected"] == 3
    resumes = report["resumes"]
    total = sum(cause["count"] for cause in resumes.values())
    assert report["attempts"]["count"] == total
    # Every session was reset by the proxy or outlived its 4 s limit (recycled ahead of it,
    # or resumed after it): each resumed at least once; a reset is one resume at most.
    assert total >= 3
    assert resumes.get("connection lost", {"count": 0})["count"] <= report["resets"]
    turns = report["turns"]
    assert turns["asked"] == turns["completed"] + turns["interrupted"] + turns["failed"]
    assert turns["failed"] == 0
    lost = report["lost"]
    assert (lost["user_turns_missing"], lost["user_turns_duplicated"]) == (0, 0)
    assert lost["sessions_ended"] == []
    assert report["environment"]["python"]
