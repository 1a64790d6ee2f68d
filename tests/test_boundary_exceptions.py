"""Exceptions at the library's boundary have one shape: what was raised, as itself, with a
short traceback and no internal ``Cancelled`` chain; ``connect()`` and
``trio_realtime.testing.open_local_server()`` unwrap alike (one flattener)."""

from __future__ import annotations

import traceback

import pytest
import trio

import trio_realtime as rt
from trio_realtime.testing import open_local_server


def formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


async def test_open_local_server_lets_the_applications_exception_out_as_itself() -> None:
    with pytest.raises(ValueError, match="mine") as info:
        async with open_local_server():
            raise ValueError("mine")
    assert type(info.value) is ValueError


async def test_an_exception_through_both_blocks_comes_out_as_itself() -> None:
    with pytest.raises(KeyError) as info:
        async with (
            open_local_server() as server,
            rt.connect(model="gpt-realtime", url=server.url, api_key="k"),
        ):
            raise KeyError("mine")
    assert type(info.value) is KeyError
    assert "ExceptionGroup" not in formatted(info.value)


async def test_a_wait_for_timeout_in_a_session_is_short_and_says_what_it_waited_for() -> None:
    with pytest.raises(trio.TooSlowError) as info:
        async with (
            open_local_server() as server,
            rt.connect(model="gpt-realtime", url=server.url, api_key="k") as session,
        ):
            await session.wait_for(rt.ConversationItemDeleted, timeout=0.05)
    text = formatted(info.value)
    assert str(info.value) == "no conversation.item.deleted within 0.05 s"
    assert "Cancelled" not in text
    assert text.count("\n") < 30


async def read_with_a_deadline() -> None:
    async with (
        open_local_server() as server,
        rt.connect(model="gpt-realtime", url=server.url, api_key="k") as session,
    ):
        with trio.fail_after(0.05):
            async for _ in session:
                pass


async def test_a_fail_after_around_session_work_carries_no_internal_cancelled_chain() -> None:
    with pytest.raises(trio.TooSlowError) as info:
        await read_with_a_deadline()
    text = formatted(info.value)
    assert "Cancelled" not in text
    assert "ExceptionGroup" not in text
    assert text.count("\n") < 30
