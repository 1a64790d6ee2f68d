"""Shared test configuration.

Rules these tests follow (after trio-websocket's habit of writing them down):

* Behaviour first: a test's name says what a user can rely on.
* No sleeps for timing: deterministic timing uses ``autojump_clock``; wire tests use real
  loopback sockets on port 0 and bounded ``trio.fail_after`` deadlines.
* Nothing leaks: pytest runs with ``filterwarnings = error``, so an unclosed socket or a
  never-awaited coroutine fails the test that caused it.
* Hypothesis runs the fast ``ci`` profile by default; set ``TRIO_REALTIME_HYPOTHESIS=thorough``
  for a long run.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from peer_server import server_process

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("TRIO_REALTIME_HYPOTHESIS", "ci"))

# A shell that starts a job in the background without job control (``cmd &`` in a script, a CI
# runner, nohup) starts it with SIGINT ignored, and an ignored signal stays ignored in every
# child: the Ctrl-C tests' commands would never see theirs. Handled here, it is reset to the
# default in each child at exec, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def fast_server() -> Iterator[str]:
    """``trio-realtime serve`` in a child process, for a test module's asyncio peers: its URL."""
    with server_process() as url:
        yield url


@pytest.fixture(scope="module")
def paced_server() -> Iterator[str]:
    """The same, ``--realistic``: replies paced at real time."""
    with server_process("--realistic") as url:
        yield url
