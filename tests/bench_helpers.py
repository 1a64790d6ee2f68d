"""Shared by the harness's report tests: a worker meter fed with chosen times.

The real :class:`~trio_realtime._bench._meter.WorkerMeter`, sans-I/O, so every figure a test
checks can be worked out by hand.
"""

from __future__ import annotations

from trio_realtime._bench._meter import WorkerMeter


def metered_window(
    client: str, worker: int, sessions: int, latency_ms: float, *, trust_stamps: bool = True
) -> WorkerMeter:
    """A worker's meter after a 10 s window (100 s to 110 s) in which each of ``sessions``
    got 15 stamped events per second, each ``latency_ms`` after its stamp.

    Before the window each session connected in 20 ms; RSS was 1000 KiB at the start and
    1000 + 40 per session KiB once idle.
    """
    meter = WorkerMeter(client, worker, sessions, trace_memory=False, trust_stamps=trust_stamps)
    meter.baseline()
    meter.rss_base_kib = 1000
    for _ in range(sessions):
        meter.new_session()
        meter.connect_done(0.020)
    meter.idle_snapshot()
    meter.rss_idle_kib = 1000 + 40 * sessions
    meter.open_window(100.0, 110.0)
    for s in meter.session_meters:
        for i in range(150):
            t = 100.0 + i / 15
            meter.event(s, t + latency_ms / 1000.0, t)
    return meter
