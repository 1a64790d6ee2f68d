"""Verdicts from repeated runs: the spread at each size, whether a size passes, each client's
limit, and our figures against the peer at its best.

The rules (issue 21: capacity with uncertainty):

* every size runs ``repeats`` times per client, the clients interleaved;
* a **size passes** for a client when the median of its runs' p99 delivery latencies is under
  the target and no run had a problem: a session that did not connect or ended early, an
  ``error`` event, or fewer events than the workload sends (:func:`problems`);
* a client's **limit** is the largest size such that every size tried up to it passed
  (:func:`limit`): a failure below a passing size caps the limit there;
* **ratios** are ours over the peer *at its best*: for each figure, the better of the SDK's
  variants (its fast ``send(model)`` path and its documented ``append()`` method), so that no
  headline rests on the peer's slower path.

Sans-I/O: the merged runs of :func:`~._report.merge_run` in, JSON-ready dicts out.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from ._workload import PEERS, STAMPED

__all__ = [
    "KEEP_UP",
    "METRICS",
    "TARGETS",
    "compare",
    "figure",
    "limit",
    "problems",
    "size_verdict",
    "spread",
    "targets",
]

#: A run keeps up when it receives at least this share of the expected events.
KEEP_UP: Final = 0.98


def problems(run: Mapping[str, Any]) -> list[str]:
    """What went wrong in one run apart from its latency: empty when it sustained the load.

    A worker lost mid-run (a cluster's) is a problem, named with the sessions it held; they
    are not counted again as sessions that did not connect.
    """
    out = []
    lost = run.get("lost_workers", [])
    for worker in lost:
        where = ", ".join(str(p) for p in (worker["host"], worker["address"]) if p)
        out.append(
            f"worker {worker['worker']}{f' ({where})' if where else ''} lost mid-run with its "
            f"{worker['sessions']} sessions: {worker['reason']}"
        )
    held = run["sessions"] - sum(worker["sessions"] for worker in lost)
    if run["connected"] < held:
        out.append(f"{held - run['connected']} of {held} did not connect")
    ended = sum(run["ended_early"].values())
    if ended:
        out.append(f"{ended} sessions ended early")
    errors = sum(run["errors"].values())
    if errors:
        out.append(f"{errors} error events")
    expected = run["expected_events_per_s"]
    if expected and run["sessions"]:
        expected *= held / run["sessions"]  # a lost worker's sessions are reported above
    if expected and run["events_per_s"] < KEEP_UP * expected:
        out.append(f"received {run['events_per_s'] / expected:.0%} of the events")
    if run["scenario"] in STAMPED and not run["delivery_ms"]["count"]:
        if run.get("stamps_untrusted"):
            out.append("no delivery latency: no worker shares the server's clock")
        else:
            out.append("no stamped event received")
    return out


def spread(values: Iterable[float | None]) -> dict[str, float] | None:
    """``min``, ``median`` and ``max`` of the values given (``None`` ones skipped)."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    return {"min": present[0], "median": statistics.median(present), "max": present[-1]}


def _cpu_us_per_event(run: Mapping[str, Any]) -> float | None:
    """CPU per event received; in the ``send`` scenario, per append sent."""
    cpu, events = run.get("cpu_s"), run.get("appends" if run["scenario"] == "send" else "events")
    return None if cpu is None or not events else 1e6 * cpu / events


def _summary(key: str, q: str) -> Callable[[Mapping[str, Any]], float | None]:
    def get(run: Mapping[str, Any]) -> float | None:
        value: float | None = run[key][q]
        return value

    return get


def _field(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    def get(run: Mapping[str, Any]) -> float | None:
        value: float | None = run.get(key)
        return value

    return get


def _latency_key(run: Mapping[str, Any]) -> str:
    return "delivery_ms" if run["scenario"] in STAMPED else "turn_ms"


def _latency(q: str) -> Callable[[Mapping[str, Any]], float | None]:
    def get(run: Mapping[str, Any]) -> float | None:
        value: float | None = run[_latency_key(run)][q]
        return value

    return get


#: The figures compared side by side: (key, name, unit, lower is better, how to read it).
METRICS: Final[tuple[tuple[str, str, bool, Callable[[Mapping[str, Any]], float | None]], ...]] = (
    ("cpu_us_per_event", "CPU µs per event received", True, _cpu_us_per_event),
    (
        "cpu_s_per_session_minute",
        "CPU s per session-minute",
        True,
        _field("cpu_s_per_session_minute"),
    ),
    ("latency_p50_ms", "latency p50 (ms)", True, _latency("p50")),
    ("latency_p99_ms", "latency p99 (ms)", True, _latency("p99")),
    ("rss_per_session_kib", "RSS per idle session (KiB)", True, _field("rss_per_session_kib")),
    ("connect_p50_ms", "connect time p50 (ms)", True, _summary("connect_ms", "p50")),
)
# (Events received per second is not compared: every client that keeps up receives what the
# server sends, and one draining a backlog receives more than was sent in the window.)
_BY_KEY: Final = {key: (lower, get) for key, _name, lower, get in METRICS}


def figure(run: Mapping[str, Any], key: str) -> float | None:
    """One figure of :data:`METRICS` read from a run."""
    return _BY_KEY[key][1](run)


def size_verdict(
    runs: Sequence[Mapping[str, Any]],
    p99_ms: float,
    *,
    unfinished: Sequence[str] = (),
    stopped: bool = False,
) -> dict[str, Any]:
    """One client at one size over its repeated runs.

    Args:
        runs: The client's runs at this size (merged, as :func:`~._report.merge_run` makes).
        p99_ms: The target the median p99 must stay under.
        unfinished: Why attempts that produced no run failed (each one fails the size).
        stopped: Its remaining repeats were skipped after a run far past the target.
    """
    first = runs[0] if runs else {}
    found = sorted({p for run in runs for p in problems(run)}) + [
        f"did not finish: {why}" for why in unfinished
    ]
    p99 = spread(figure(run, "latency_p99_ms") for run in runs)
    stamped = first.get("scenario", "standard") in STAMPED
    latency_ok = not stamped or (p99 is not None and p99["median"] < p99_ms)
    if stopped:
        found.append(f"stopped after a run far past {p99_ms:g} ms")
    return {
        "runs": len(runs),
        "p99_ms": p99,
        "cpu_us_per_event": spread(figure(run, "cpu_us_per_event") for run in runs),
        "cpu_percent": spread(run.get("cpu_percent") for run in runs),
        "rss_per_session_kib": spread(run.get("rss_per_session_kib") for run in runs),
        "stalls": spread(run.get("stalls", {}).get("stalls") for run in runs),
        "foreign_cpu_percent": spread(run.get("foreign_cpu_percent") for run in runs),
        "problems": found,
        "pass": bool(runs) and latency_ok and not found,
    }


def limit(verdicts: Mapping[int, Mapping[str, Any]]) -> int | None:
    """The largest size with every size tried up to it passing (``None``: the smallest
    failed)."""
    best = None
    for size in sorted(verdicts):
        if not verdicts[size]["pass"]:
            break
        best = size
    return best


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def compare(
    runs: Mapping[str, Sequence[Mapping[str, Any]]], ours: str = "ours"
) -> list[dict[str, Any]]:
    """Each figure of :data:`METRICS`: the median over each client's runs, and ours over the
    peer at its best (the better of the peer variants present for that figure).

    Args:
        runs: The runs at one size, by client.
        ours: The client compared.

    Returns:
        One row per figure: ``metric``, ``name``, ``lower_is_better``, ``values`` (median by
        client), ``best_peer`` (which variant was better), ``ratio`` (ours / best peer) and
        ``ours_better``.
    """
    rows = []
    sending = any(run["scenario"] == "send" for rs in runs.values() for run in rs)
    for key, name, lower, get in METRICS:
        if key == "cpu_us_per_event" and sending:
            name = "CPU µs per append sent"
        values = {client: _median(get(r) for r in rs) for client, rs in runs.items()}
        peers: dict[str, float] = {c: v for c, v in values.items() if c in PEERS and v is not None}
        ranked = sorted(peers, key=peers.__getitem__, reverse=not lower)
        best = ranked[0] if ranked else None
        mine = values.get(ours)
        ratio = None
        if best is not None and mine is not None and peers[best]:
            ratio = mine / peers[best]
        rows.append(
            {
                "metric": key,
                "name": name,
                "lower_is_better": lower,
                "values": values,
                "best_peer": best,
                "ratio": ratio,
                "ours_better": None if ratio is None else (ratio < 1.0 if lower else ratio > 1.0),
            }
        )
    return rows


#: The project's targets against the SDK at its best (issue 21), as
#: (key, what, comparison, bound): ``ratio`` is ours over the best peer variant.
TARGETS: Final = (
    ("cpu_us_per_event", "CPU per event", "<=", 0.6),
    ("capacity", "capacity at the p99 target", ">=", 1.5),
    ("rss_per_session_kib", "idle memory per session", "<=", 1.0),
    ("latency_p99_ms", "p99 delivery latency", "<", 1.0),
)


def targets(
    rows: Sequence[Mapping[str, Any]],
    limits: Mapping[str, int | None],
    ours: str = "ours",
    *,
    unbounded: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The targets of :data:`TARGETS`, each with its ratio (ours / peer at its best) and
    whether it is met; ``rows`` from :func:`compare`, ``limits`` by client.

    ``unbounded`` names the clients that passed every size tried: their limit is only a lower
    bound, so a capacity ratio involving one is a bound too (``note`` says which), and is
    judged only where the bound decides it.
    """
    by_key = {row["metric"]: row for row in rows}
    out = []
    for key, what, op, bound in TARGETS:
        ratio: float | None = None
        peer = None
        note = None
        if key == "capacity":
            peer_limits = {c: n for c, n in limits.items() if c in PEERS and n}
            if peer_limits and limits.get(ours) is not None:
                peer = max(peer_limits, key=peer_limits.__getitem__)
                ratio = (limits[ours] or 0) / peer_limits[peer]
                if peer in unbounded:
                    note = "the SDK passed every size tried: an upper bound"
                elif ours in unbounded:
                    note = "ours passed every size tried: a lower bound"
        elif key in by_key:
            ratio, peer = by_key[key]["ratio"], by_key[key]["best_peer"]
        met = None
        if ratio is not None:
            met = {"<=": ratio <= bound, ">=": ratio >= bound, "<": ratio < bound}[op]
            if note is not None and (note.endswith("upper bound") or not met):
                met = None  # the bound does not decide it
        out.append(
            {
                "metric": key,
                "what": what,
                "op": op,
                "bound": bound,
                "ratio": ratio,
                "best_peer": peer,
                "met": met,
                "note": note,
            }
        )
    return out
