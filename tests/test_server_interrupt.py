"""A KeyboardInterrupt coming out of the server's connection tasks (where trio delivers Ctrl-C
when it lands in server code) leaves ``serve()`` as itself, even when the application cancels
the server at that moment (its client saw the connection drop): closing the listeners must
not replace it with a ``Cancelled``, or ``trio-realtime talk`` would report a dropped
connection (exit 1) instead of "interrupted" (exit 130)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio

from trio_realtime.server import _serve, serve


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def _serve_until_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trio.open_nursery() as nursery:

        async def interrupted_listeners(*args: Any, **kwargs: Any) -> None:
            await trio.lowlevel.checkpoint()
            nursery.cancel_scope.cancel()  # the application gives up on the server too
            raise KeyboardInterrupt  # as it comes out of a connection task

        monkeypatch.setattr(_serve.trio, "serve_listeners", interrupted_listeners)
        await nursery.start(partial(serve, "127.0.0.1", 0))
        await trio.sleep_forever()


async def test_an_interrupt_leaves_serve_as_itself_while_it_is_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with trio.fail_after(5), pytest.raises(BaseExceptionGroup) as info:
        await _serve_until_interrupted(monkeypatch)
    leaves = _leaves(info.value)
    assert any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves), leaves
