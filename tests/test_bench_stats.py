"""The harness's statistics: histograms that merge across workers and keep percentiles honest.

Percentiles are checked against the exact nearest-rank value computed from the raw samples:
within 1 % (the bucket width), never above the exact maximum, and the same whether the
samples were recorded in one histogram or spread over shards and merged.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_realtime._bench._stats import PERCENTILES, Histogram, merge_counts

_samples = st.lists(
    st.floats(min_value=0.0005, max_value=1e5, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=400,
)


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@given(_samples, st.sampled_from([1.0, 50.0, 90.0, 99.0, 99.9, 100.0]))
def test_percentiles_are_within_one_percent_of_the_exact_nearest_rank(
    values: list[float], q: float
) -> None:
    hist = Histogram()
    hist.record_many(values)
    exact = _exact(values, q)
    got = hist.percentile(q)
    assert got is not None
    assert got <= max(values)
    assert got >= min(values)
    # One bucket (1 %) of error; values under a microsecond share bucket 0.
    assert abs(got - exact) <= max(0.0101 * exact, 0.001)


@given(st.lists(_samples, min_size=1, max_size=5))
def test_merging_shards_equals_recording_everything_in_one(shards: list[list[float]]) -> None:
    whole = Histogram()
    parts = []
    for shard in shards:
        whole.record_many(shard)
        part = Histogram()
        part.record_many(shard)
        parts.append(part)
    merged = Histogram.merged(parts)
    assert merged.count == whole.count
    assert merged.min == whole.min
    assert merged.max == whole.max
    assert merged.total == pytest.approx(whole.total)
    for q in PERCENTILES:
        assert merged.percentile(q) == whole.percentile(q)


@given(_samples)
def test_json_round_trip_is_exact(values: list[float]) -> None:
    hist = Histogram()
    hist.record_many(values)
    back = Histogram.from_json(hist.to_json())
    assert back.to_json() == hist.to_json()
    assert back.summary() == hist.summary()


def test_summary_of_known_samples() -> None:
    hist = Histogram()
    hist.record_many(float(v) for v in range(1, 101))  # 1..100 ms
    summary = hist.summary()
    assert summary["count"] == 100
    assert summary["mean"] == pytest.approx(50.5)
    assert summary["p50"] == pytest.approx(50.0, rel=0.011)
    assert summary["p90"] == pytest.approx(90.0, rel=0.011)
    assert summary["p99"] == pytest.approx(99.0, rel=0.011)
    assert summary["max"] == 100.0
    assert hist.percentile(100) == 100.0


def test_an_empty_histogram_reports_none_and_zero_count() -> None:
    hist = Histogram()
    assert hist.summary() == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p90": None,
        "p99": None,
        "max": None,
    }
    assert hist.cdf() == []
    assert Histogram.from_json(hist.to_json()).count == 0
    assert "empty" in repr(hist)


def test_zero_and_negative_values_land_in_the_first_bucket_and_keep_exact_extremes() -> None:
    hist = Histogram()
    hist.record_many([-0.5, 0.0, 0.0002])
    assert hist.min == -0.5
    assert hist.max == 0.0002
    assert hist.percentile(100) == 0.0002
    p50 = hist.percentile(50)
    assert p50 is not None
    assert -0.5 <= p50 <= 0.0002


def test_cdf_rises_to_one_at_the_maximum() -> None:
    hist = Histogram()
    hist.record_many([1.0, 2.0, 2.0, 50.0])
    points = hist.cdf()
    assert [fraction for _, fraction in points] == [0.25, 0.75, 1.0]
    assert points[-1][0] == 50.0
    assert all(a[0] < b[0] for a, b in itertools.pairwise(points))


def test_bad_percentile_and_inconsistent_json_are_refused() -> None:
    hist = Histogram()
    hist.record(1.0)
    with pytest.raises(ValueError, match="percentile"):
        hist.percentile(0)
    with pytest.raises(ValueError, match="percentile"):
        hist.percentile(101)
    broken = hist.to_json() | {"count": 2}
    with pytest.raises(ValueError, match="add up"):
        Histogram.from_json(broken)


def test_merge_counts_adds_up_and_sorts_keys() -> None:
    merged = merge_counts([{"b": 1, "a": 2}, {}, {"b": 3, "ConnectionClosed 1006": 1}])
    assert merged == {"ConnectionClosed 1006": 1, "a": 2, "b": 4}
    assert list(merged) == sorted(merged)
