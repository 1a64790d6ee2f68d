"""The load harness's record run: ``trio-realtime bench`` with the published plan, its raw
results committed under ``benchmarks/results/`` and the tables regenerated from them.

The harness itself lives in the package (``trio_realtime._bench``, the ``bench`` subcommand),
so it runs on any machine where the package is installed. This script names the runs that
``README.rst`` and ``benchmarks/README.rst`` publish:

* ``python benchmarks/bench_harness.py``: the record run. The standard workload swept from 150
  to 1,000 sessions (the fast SDK path reached 500 on a quiet machine, so the sizes go on far
  enough to find where ours ends too), every size three times per client with the clients interleaved (ours, the
  SDK's fast ``send(model)`` path, its documented ``append()`` method), refined by bisection
  to 25 sessions, 4 s warm-up and 20 s window per run, ratios at N = 150; before each run it
  waits (announced) for a quiet machine and a window disturbed by other processes is run
  again, up to twice. The full report goes to ``harness.json``; the compact results to
  ``benchmarks/results/harness-DATE-COMMIT.json``; then ``benchmarks/tables.py`` rewrites the
  tables. Roughly 50 minutes on a quiet 2-core machine. Run it on a machine kept for it.
* ``python benchmarks/bench_harness.py --provisional "WHY"``: the same, with the results
  marked provisional (a busy machine, shorter windows...): the tables say so.
* ``python benchmarks/bench_harness.py --quick``: the default ``trio-realtime bench`` run with
  the peer beside it (under a minute; no results written).
* ``python benchmarks/bench_harness.py --scaling``: our client swept over 2 worker processes
  and over 1 (``harness-scaling.json``; not published).
* ``python benchmarks/bench_harness.py --results ARGS...``: any ``trio-realtime bench``
  arguments, results written as for the record run (marked provisional unless
  ``--provisional`` is left out and the plan is the record's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tables
from _results import write_result

from trio_realtime._bench._record import compact_report
from trio_realtime._cli._main import main

FULL_REPORT = "harness.json"
RECORD = [
    "--sweep",
    "150,250,350,400,450,500,550,600,700,800,900,1000",
    "--refine",
    "25",
    "--repeats",
    "3",
    "--peer",
    "openai-sdk",
    "--compare-at",
    "150",
    "--wait-quiet",
    "--retries",
    "2",
]
SCALING = [
    "--sweep",
    "500,600,700,800,900",
    "--refine",
    "25",
    "--processes",
    "2",
    "--json",
    "harness-scaling.json",
]
QUICK = ["--peer", "openai-sdk"]


def _option(argv: list[str], name: str) -> tuple[list[str], str | None]:
    """``argv`` without ``name VALUE``, and the value (``None`` if absent)."""
    if name not in argv:
        return argv, None
    i = argv.index(name)
    if i + 1 >= len(argv):
        raise SystemExit(f"{name} needs a value")
    return argv[:i] + argv[i + 2 :], argv[i + 1]


def record(bench_argv: list[str], provisional: str | None, command: list[str]) -> int:
    """Run the harness with ``bench_argv``, write the compact results, regenerate tables."""
    status = main(["bench", *bench_argv, "--json", FULL_REPORT])
    if status not in (0, 5):
        return status
    report = json.loads(Path(FULL_REPORT).read_text())
    data = compact_report(report)
    env = report.get("environment", {})
    data["load_average_before"] = env.get("load_average_before")
    data["load_average_after"] = env.get("load_average")
    path = write_result("harness", data, command=command, provisional=provisional)
    print(f"results written to {path}")
    tables.main([])
    return 0


def run(argv: list[str]) -> int:
    """Run ``trio-realtime bench`` as this script's docstring says."""
    command = ["python", "benchmarks/bench_harness.py", *argv]
    argv, provisional = _option(list(argv), "--provisional")
    if argv == ["--quick"]:
        return main(["bench", *QUICK])
    if argv == ["--scaling"]:
        return main(["bench", *SCALING])
    if not argv:
        return record(RECORD, provisional, command)
    if argv[0] == "--results":
        note = provisional or "a custom plan, not the record run's"
        return record(argv[1:], note, command)
    return main(["bench", *argv])


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
