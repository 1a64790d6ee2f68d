"""Latency statistics that merge: a log-bucketed histogram with exact count, min, max and sum.

Every worker process (and, one day, every machine) records its own samples; the report adds
the histograms up. Raw samples would not scale (500 sessions x 15 events/s x 20 s is 150,000
floats per run) and percentiles of percentiles are wrong, while bucket counts simply add.

Buckets grow by 1 % from 1 microsecond, so a reported percentile is within 1 % of the exact
nearest-rank value (never above the exact maximum, which is kept as is). Values at or below
1 microsecond, zero and negative ones included, share bucket 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final, final

__all__ = ["PERCENTILES", "Histogram", "merge_counts"]

#: The percentiles every report shows.
PERCENTILES: Final = (50.0, 90.0, 99.0)

_UNIT: Final = 0.001  # the smallest value told apart, in the caller's unit (ms: 1 us)
_GROWTH: Final = 1.01
_INV_UNIT: Final = 1.0 / _UNIT
_INV_LOG_GROWTH: Final = 1.0 / math.log(_GROWTH)


@final
class Histogram:
    """Samples (milliseconds, by convention) in buckets of 1 % relative width.

    Cheap to record into (a log and a dict update), exact in ``count``, ``min``, ``max`` and
    ``mean``, within 1 % in its percentiles, and mergeable with :meth:`merge`.
    """

    __slots__ = ("_counts", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def __repr__(self) -> str:
        if not self.count:
            return "<Histogram empty>"
        return (
            f"<Histogram n={self.count} p50={self.percentile(50):.3f} "
            f"p99={self.percentile(99):.3f} max={self.max:.3f}>"
        )

    def record(self, value: float) -> None:
        """Add one sample."""
        index = int(math.log(value * _INV_UNIT) * _INV_LOG_GROWTH) + 1 if value > _UNIT else 0
        counts = self._counts
        counts[index] = counts.get(index, 0) + 1
        self.count += 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def record_many(self, values: Iterable[float]) -> None:
        """Add several samples."""
        for value in values:
            self.record(value)

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s samples to this histogram."""
        counts = self._counts
        for index, n in other._counts.items():
            counts[index] = counts.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def mean(self) -> float | None:
        """The exact mean, or ``None`` without samples."""
        return self.total / self.count if self.count else None

    def percentile(self, q: float) -> float | None:
        """The nearest-rank ``q``-th percentile (0 < q <= 100), within 1 %; ``None`` if empty.

        The bucket's upper edge is reported, clamped to the exact ``min`` and ``max``, so the
        100th percentile is the exact maximum and no percentile exceeds it.
        """
        if not self.count:
            return None
        if not 0 < q <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {q}")
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            if seen >= rank:
                edge = _UNIT * _GROWTH**index if index else _UNIT
                return min(max(edge, self.min), self.max)
        return self.max  # pragma: no cover - the counts add up to count

    def summary(self) -> dict[str, float | int | None]:
        """``count``, ``mean``, ``p50``, ``p90``, ``p99`` and ``max`` (``None`` when empty)."""
        out: dict[str, float | int | None] = {"count": self.count, "mean": self.mean}
        for q in PERCENTILES:
            out[f"p{q:g}"] = self.percentile(q)
        out["max"] = self.max if self.count else None
        return out

    def cdf(self) -> list[tuple[float, float]]:
        """``(value, fraction of samples <= value)`` at each occupied bucket's upper edge."""
        points: list[tuple[float, float]] = []
        seen = 0
        for index in sorted(self._counts):
            seen += self._counts[index]
            edge = _UNIT * _GROWTH**index if index else _UNIT
            points.append((min(max(edge, self.min), self.max), seen / self.count))
        return points

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form that :meth:`from_json` reads back exactly."""
        return {
            "count": self.count,
            "total": self.total,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "buckets": {str(k): v for k, v in sorted(self._counts.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Histogram:
        """Read what :meth:`to_json` wrote.

        Raises:
            ValueError: The bucket counts do not add up to ``count``.
        """
        hist = cls()
        hist._counts = {int(k): int(v) for k, v in data["buckets"].items()}
        hist.count = int(data["count"])
        hist.total = float(data["total"])
        if hist.count:
            hist.min = float(data["min"])
            hist.max = float(data["max"])
        if sum(hist._counts.values()) != hist.count:
            raise ValueError("histogram bucket counts do not add up to its count")
        return hist

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        """A new histogram holding the samples of all ``parts``."""
        out = cls()
        for part in parts:
            out.merge(part)
        return out


def merge_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Add up counters (errors by code, failures by cause), keys sorted."""
    out: dict[str, int] = {}
    for part in parts:
        for key, n in part.items():
            out[key] = out.get(key, 0) + n
    return dict(sorted(out.items()))
