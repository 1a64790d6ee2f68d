"""The load harness, as a script: ``trio-realtime bench`` with the figures of record as defaults.

The harness itself lives in the package (``trio_realtime._bench``, the ``bench`` subcommand),
so it runs on any machine where the package is installed. This script only names the runs
that ``benchmarks/README.rst`` records:

* ``python benchmarks/bench_harness.py`` (no arguments): the standard workload swept for both
  clients from 150 to 600 sessions, 4 s warm-up and 20 s window per size, refined by bisection
  to 25 sessions, with the JSON report in ``harness.json``. About fifteen minutes on a quiet
  machine (a window disturbed by other processes is run again, up to twice).
* ``python benchmarks/bench_harness.py --scaling``: our client swept over 2 worker processes
  and over 1, for the 1 -> 2 scaling table (``harness-scaling.json``).
* ``python benchmarks/bench_harness.py --quick``: the default ``trio-realtime bench`` run with
  the peer beside it (under a minute).
* ``python benchmarks/bench_harness.py ARGS...``: any ``trio-realtime bench`` arguments.
"""

from __future__ import annotations

import sys

from trio_realtime._cli._main import main

RECORD = [
    "--sweep",
    "150,250,350,400,450,500,550,600",
    "--refine",
    "25",
    "--peer",
    "openai-sdk",
    "--json",
    "harness.json",
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


def run(argv: list[str]) -> int:
    """Run ``trio-realtime bench`` with ``argv`` (or the record run without arguments)."""
    if not argv:
        argv = RECORD
    elif argv == ["--quick"]:
        argv = QUICK
    elif argv == ["--scaling"]:
        argv = SCALING
    return main(["bench", *argv])


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
