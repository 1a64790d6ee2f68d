"""``--plot PATH``: latency distributions and sessions over time, as a PNG; with several
workers, each worker's too.

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


def _draw_workers(left: Any, right: Any, run: Mapping[str, Any], key: str, color: str) -> None:
    """Each worker of a run with several: thin lines in the run's colour, one style each
    (its latency distribution on the left, its sessions open over time on the right)."""
    workers = [w for w in run.get("workers", []) if w.get("lost") is None]
    if len(workers) < 2 and not run.get("lost_workers"):
        return
    styles = ("--", ":", "-.")
    for i, worker in enumerate(workers):
        style = styles[i % len(styles)]
        hist = Histogram.from_json(worker["histograms"][key])
        tag = f"  worker {worker['worker']} ({worker['host']})"
        if hist.count:
            points = hist.cdf()
            left.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                linestyle=style,
                linewidth=0.8,
                color=color,
                label=tag,
            )
        number = str(worker["worker"])
        timeline = [p for p in run.get("timeline", []) if number in p.get("workers", {})]
        if timeline:
            right.plot(
                [p["t"] for p in timeline],
                [p["workers"][number]["alive"] for p in timeline],
                linestyle=style,
                linewidth=0.8,
                color=color,
                label=tag,
            )
    for lost in run.get("lost_workers", []):
        right.plot(
            [], [], linestyle="", marker="x", color=color, label=f"  worker {lost['worker']} LOST"
        )


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
        (line,) = left.plot([p[0] for p in points], [p[1] for p in points], label=name)
        timeline = run.get("timeline", [])
        if timeline:
            right.plot(
                [p["t"] for p in timeline],
                [p["alive"] for p in timeline],
                label=name,
                color=line.get_color(),
            )
        _draw_workers(left, right, run, key, line.get_color())
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
