"""Waiting for a condition instead of sleeping for a guessed time.

A fixed sleep either wastes time on a quiet machine or is too short on a busy one. Tests wait
for what they need (a counter, a state) under a ``trio.fail_after`` bound they already hold.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["wait_until"]


async def wait_until(condition: Callable[[], object], poll: float = 0.01) -> None:
    """Return once ``condition()`` is true, checking every ``poll`` seconds.

    For counters and states that have no event to wait on; the caller bounds the wait.
    """
    while not condition():  # noqa: ASYNC110
        await trio.sleep(poll)
