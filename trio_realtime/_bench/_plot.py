"""``--plot PATH``: latency distributions and sessions over time, as a PNG.

matplotlib is optional, not a dependency: :func:`write_plot` says in one line when it is
missing instead of failing the run.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any

from ._report import LABELS
from ._stats import Histogram
from ._workload import STAMPED

__all__ = ["matplotlib_available", "write_plot"]


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def write_plot(report: Mapping[str, Any], path: str) -> str:
    """Draw the report to ``path``; return the one line to print about it."""
    if not matplotlib_available():
        return "--plot: matplotlib is not installed; no plot written (pip install matplotlib)"
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # no display needed
    plt = importlib.import_module("matplotlib.pyplot")

    runs = report["runs"]
    standard = report["workload"]["scenario"] in STAMPED
    key = "delivery_ms" if standard else "turn_ms"
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for run in runs:
        hist = Histogram.from_json(run["histograms"][key])
        if not hist.count:
            continue
        points = hist.cdf()
        name = f"{LABELS.get(run['client'], run['client'])} N={run['sessions']}"
        if run["processes"] > 1:
            name += f" x{run['processes']}p"
        left.plot([p[0] for p in points], [p[1] for p in points], label=name)
        timeline = run.get("timeline", [])
        if timeline:
            right.plot([p["t"] for p in timeline], [p["alive"] for p in timeline], label=name)
    left.set_xscale("log")
    left.set_xlabel("delivery latency, ms" if standard else "end of speech to response.done, ms")
    left.set_ylabel("fraction of events" if standard else "fraction of turns")
    left.axvline(report["p99_ms"], color="grey", linestyle=":", linewidth=1)
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize="small")
    right.set_xlabel("seconds since the workers started")
    right.set_ylabel("sessions open")
    right.grid(True, alpha=0.3)
    right.legend(fontsize="small")
    figure.suptitle(f"trio-realtime bench: {report['workload']['scenario']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"plot written to {path}"
