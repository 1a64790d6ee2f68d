"""The one exception-group flattener at the library's boundary.

trio nurseries wrap whatever leaves them in exception groups, the application's own
exception included, and a timeout carries the :class:`trio.Cancelled` it replaced as its
``__context__``, with a traceback through the library's internals. Users of
:func:`trio_realtime.connect` and :func:`trio_realtime.testing.open_local_server` should see
``ValueError`` or ``TooSlowError`` with a short traceback, not
``ExceptionGroup([ExceptionGroup([ValueError])])`` and four ``Cancelled`` tracebacks.

:func:`unwrap_single` is used by both, so both give the same shapes:

* a group holding one real exception (``Cancelled`` siblings dropped, nested groups opened)
  is replaced by that exception, raised as itself;
* a group holding several real exceptions is raised unchanged (hiding one would lose it);
* ``Cancelled`` links in the exception's ``__context__`` chain are cut: they only say that
  a scope was cancelled on the way, which the exception itself already says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

import trio

__all__ = ["drop_cancelled_context", "raise_single", "unwrap_single"]


def drop_cancelled_context(exc: BaseException) -> None:
    """Cut :class:`trio.Cancelled` out of ``exc``'s ``__context__`` chain (in place).

    ``trio.fail_after`` raises :class:`trio.TooSlowError` while the ``Cancelled`` it caught
    is being handled, so the timeout's context is that ``Cancelled`` and its traceback runs
    through whatever was waiting. Explicit causes (``raise ... from``) are kept.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        context = current.__context__
        while isinstance(context, trio.Cancelled):
            context = context.__context__
        if context is not current.__context__:
            current.__context__ = context
        current = context


def raise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Re-raise the one real exception in ``group`` as itself, or ``group`` if there are more.

    ``Cancelled`` siblings of a real error are dropped, as trio-websocket does. A group of
    ``Cancelled`` only is re-raised as its first ``Cancelled`` (the enclosing scope catches it).
    """
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(reversed(exc.exceptions))
        else:
            leaves.append(exc)
    real = [exc for exc in leaves if not isinstance(exc, trio.Cancelled)]
    if len(real) > 1 or not leaves:
        raise group
    single = real[0] if real else leaves[0]
    if not isinstance(single, trio.Cancelled):
        drop_cancelled_context(single)
    context = single.__context__
    try:
        raise single
    finally:
        # Keep the exception's own context: raising it here would make it the group.
        single.__context__ = context
        del single, context


@asynccontextmanager
async def unwrap_single() -> AsyncIterator[None]:
    """Apply :func:`raise_single` to an exception group leaving the block, and cut the
    ``Cancelled`` context of any other exception leaving it."""
    try:
        yield
    except BaseExceptionGroup as group:
        raise_single(group)
    except trio.Cancelled:
        raise
    except BaseException as exc:
        drop_cancelled_context(exc)
        raise
