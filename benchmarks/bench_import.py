"""What ``import trio_realtime`` costs on top of its own dependencies.

Each run is a fresh interpreter under ``python -X importtime``: the baseline imports trio,
attrs, cattrs, orjson and h11 (what the package cannot do without); the other imports
trio_realtime. The figure per run is the sum of the top-level cumulative times (every module
the statement loaded, interpreter start-up imports included on both sides). The two kinds of
run alternate, so a machine that gets busier or quieter affects both, and the minimum of each
is taken: on a shared machine the fastest run is the one least disturbed. Wall-clock times of
the same statements (and of ``python -c pass``) are printed beside them.

The target (issue 19): at most 100 ms on top of the baseline.

Run: ``python benchmarks/bench_import.py [--runs 15] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from typing import Any

BASELINE = "import trio, attrs, cattrs, orjson, h11"
OURS = "import trio_realtime"
_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")


def importtime_ms(statement: str) -> float:
    """Milliseconds ``python -X importtime -c statement`` reports for its top-level imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(int(m[1]) for m in map(_LINE.match, done.stderr.splitlines()) if m) / 1000


def wall_ms(statement: str) -> float:
    """Milliseconds of a whole ``python -c statement`` process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each (15)")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {k: [] for k in ("base", "ours", "base_wall", "ours_wall")}
    runs["pass_wall"] = []
    for _ in range(args.runs):
        runs["base"].append(importtime_ms(BASELINE))
        runs["ours"].append(importtime_ms(OURS))
        runs["base_wall"].append(wall_ms(BASELINE))
        runs["ours_wall"].append(wall_ms(OURS))
        runs["pass_wall"].append(wall_ms("pass"))
    best = {k: min(v) for k, v in runs.items()}
    print(f"best of {args.runs} alternating runs (ms)   baseline  trio_realtime  difference")
    print(
        f"python -X importtime, top-level sum  {best['base']:8.1f}  {best['ours']:13.1f}"
        f"  {best['ours'] - best['base']:10.1f}"
    )
    print(
        f"wall clock of python -c              {best['base_wall']:8.1f}  {best['ours_wall']:13.1f}"
        f"  {best['ours_wall'] - best['base_wall']:10.1f}"
    )
    print(f"(python -c pass: {best['pass_wall']:.1f} ms; target: difference <= 100 ms)")
    if args.json:
        report: dict[str, Any] = {"runs": runs, "best": best, "baseline": BASELINE}
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
