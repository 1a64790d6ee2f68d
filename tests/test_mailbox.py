"""The control task's mailbox and the lazy flag: memory-channel and Event semantics."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_realtime._session._mailbox import Mailbox
from trio_realtime._wire._flag import Flag


async def test_items_come_out_in_order() -> None:
    box: Mailbox[int] = Mailbox(4)
    for n in range(3):
        box.put_nowait(n)
    assert len(box) == 3
    assert [await box.get() for _ in range(3)] == [0, 1, 2]


async def test_a_full_mailbox_refuses_put_nowait_and_makes_put_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    box: Mailbox[str] = Mailbox(1)
    box.put_nowait("first")
    with pytest.raises(trio.WouldBlock):
        box.put_nowait("second")
    put_done_at = []

    async def put_second() -> None:
        await box.put("second")
        put_done_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(put_second)
        await trio.sleep(5)
        assert not put_done_at  # still waiting for room
        assert await box.get() == "first"
    assert put_done_at == [5.0]
    assert await box.get() == "second"


async def test_get_waits_for_an_item(autojump_clock: trio.testing.MockClock) -> None:
    box: Mailbox[int] = Mailbox(2)
    got = []

    async def getter() -> None:
        got.append((await box.get(), trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(getter)
        await trio.sleep(3)
        box.put_nowait(7)
    assert got == [(7, 3.0)]


async def test_close_drains_then_ends_and_refuses_more() -> None:
    box: Mailbox[int] = Mailbox(2)
    box.put_nowait(1)
    box.close()
    with pytest.raises(trio.ClosedResourceError):
        box.put_nowait(2)
    with pytest.raises(trio.ClosedResourceError):
        await box.put(2)
    assert await box.get() == 1
    with pytest.raises(trio.EndOfChannel):
        await box.get()


async def test_close_wakes_a_waiting_getter_and_putter() -> None:
    empty: Mailbox[int] = Mailbox(1)
    full: Mailbox[int] = Mailbox(1)
    full.put_nowait(0)
    outcomes: list[str] = []

    async def getter() -> None:
        with pytest.raises(trio.EndOfChannel):
            await empty.get()
        outcomes.append("get ended")

    async def putter() -> None:
        with pytest.raises(trio.ClosedResourceError):
            await full.put(1)
        outcomes.append("put refused")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(getter)
        nursery.start_soon(putter)
        await trio.testing.wait_all_tasks_blocked()
        empty.close()
        full.close()
    assert sorted(outcomes) == ["get ended", "put refused"]


async def test_a_cancelled_get_leaves_the_mailbox_usable() -> None:
    box: Mailbox[int] = Mailbox(1)
    with trio.move_on_after(0.01):
        await box.get()
    box.put_nowait(3)
    assert await box.get() == 3


async def test_get_and_put_are_checkpoints() -> None:
    box: Mailbox[int] = Mailbox(1)
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await box.put(1)
        assert len(box) == 0  # nothing queued by a cancelled put
        box.put_nowait(1)
        with pytest.raises(trio.Cancelled):
            await box.get()
    assert await box.get() == 1  # nothing taken by a cancelled get


def test_a_mailbox_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="limit"):
        Mailbox(0)


async def test_flag_is_an_event_made_on_demand() -> None:
    flag = Flag()
    assert not flag.is_set()
    woke = []

    async def waiter() -> None:
        await flag.wait()
        woke.append(True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert not woke
        flag.set()
    assert woke == [True, True]
    flag.set()  # idempotent
    await flag.wait()  # set: returns at once
    assert flag.is_set()


async def test_waiting_on_a_set_flag_is_still_a_checkpoint() -> None:
    flag = Flag()
    flag.set()
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await flag.wait()


async def get_into(box: Mailbox[int], got: list[int]) -> None:
    """A getter task: waits for one item and records it."""
    got.append(await box.get())


async def test_a_second_waiting_getter_is_refused() -> None:
    box: Mailbox[int] = Mailbox(1)
    got: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(get_into, box, got)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await box.get()
        box.put_nowait(7)
    assert got == [7]


async def test_a_woken_getter_that_finds_its_item_taken_waits_again() -> None:
    box: Mailbox[int] = Mailbox(2)
    got: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(get_into, box, got)
        await trio.testing.wait_all_tasks_blocked()
        box.put_nowait(1)  # wakes the getter, which has not run yet...
        assert await box.get() == 1  # ...and this task takes the item first
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # the getter waits again, rather than ending
        box.put_nowait(2)
    assert got == [2]


async def test_get_nowait_and_the_waiting_getter_are_visible() -> None:
    box: Mailbox[int] = Mailbox(2)
    with pytest.raises(trio.WouldBlock):
        box.get_nowait()
    got: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(get_into, box, got)
        await trio.testing.wait_all_tasks_blocked()
        assert box.getter_waiting
        box.put_nowait(1)
        assert not box.getter_waiting
    box.put_nowait(2)
    assert box.get_nowait() == 2
    box.close()
    with pytest.raises(trio.EndOfChannel):
        box.get_nowait()


async def test_a_put_that_waited_queues_its_item_without_another_checkpoint() -> None:
    # The outbound path relies on it: the task that sent an event runs on before anyone
    # reading the queue could have acted on it.
    box: Mailbox[int] = Mailbox(1)
    box.put_nowait(0)
    order: list[str] = []

    async def putter() -> None:
        await box.put(1)
        order.append(f"put returned, {len(box)} queued")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(putter)
        await trio.testing.wait_all_tasks_blocked()
        assert box.get_nowait() == 0  # room: the putter is woken
        await trio.testing.wait_all_tasks_blocked()
    assert order == ["put returned, 1 queued"]
