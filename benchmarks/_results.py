"""The committed raw results behind every published figure: ``benchmarks/results/*.json``.

One small file per record run of a benchmark, named ``KIND-DATE-COMMIT.json``, holding the
figures the tables need and where they came from: the command, the machine, the versions,
the commit, the load average, and whether the run is *provisional* (measured on a busy or
shared machine, or with short windows: not a record). ``benchmarks/tables.py`` turns the
newest file of each kind into the tables of ``README.rst`` and ``benchmarks/README.rst``.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Final

from trio_realtime._bench._environment import environment

__all__ = ["KINDS", "RESULTS", "SCHEMA", "newest", "write_result"]

RESULTS: Final = Path(__file__).resolve().parent / "results"
SCHEMA: Final = 1
#: The benchmarks whose results are published, by kind.
KINDS: Final = ("harness", "session", "codec", "breakdown", "speech")


def write_result(
    kind: str,
    data: dict[str, Any],
    *,
    command: list[str],
    provisional: str | None,
    directory: Path = RESULTS,
) -> Path:
    """Write one run's results; return the file's path.

    Args:
        kind: One of :data:`KINDS`.
        data: The benchmark's own JSON report (compacted where it is large).
        command: The command line that produced it.
        provisional: Why these figures are not a record (``None``: a record run).
        directory: Where results live.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    env = environment()
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    today = now[:10]
    sha = (env.get("commit") or {}).get("sha", "nocommit")[:7]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{today}-{sha}.json"
    n = 2
    while path.exists():
        path = directory / f"{kind}-{today}-{sha}-{n}.json"
        n += 1
    record = {
        "schema": SCHEMA,
        "kind": kind,
        "date": now,
        "provisional": provisional,
        "command": command,
        "environment": env,
        "data": data,
    }
    path.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
    return path


def newest(kind: str, directory: Path = RESULTS) -> dict[str, Any] | None:
    """The newest results of ``kind`` (by the time they were written), or ``None``."""
    files = sorted(directory.glob(f"{kind}-*.json"))
    if not files:
        return None
    records = [json.loads(f.read_text()) | {"file": f.name} for f in files]
    records.sort(key=lambda r: (r["date"], r["file"]))
    record: dict[str, Any] = records[-1]
    return record
