"""The harness's metronome: tasks wake on their absolute schedules, never early, at most a
millisecond late, and a cancelled sleeper leaves nothing behind."""

from __future__ import annotations

import trio
import trio.testing

from trio_realtime._bench._metronome import Metronome


async def test_sleepers_wake_in_time_order_never_early(
    autojump_clock: trio.testing.MockClock,
) -> None:
    metronome = Metronome()
    woke: list[tuple[float, float]] = []

    async def sleeper(due: float) -> None:
        await metronome.sleep_until(due)
        woke.append((due, trio.current_time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(metronome.run)
        start = trio.current_time()
        dues = [start + offset for offset in (0.3, 0.1, 0.2, 0.1005, 0.25)]
        async with trio.open_nursery() as sleepers:
            for due in dues:
                sleepers.start_soon(sleeper, due)
        nursery.cancel_scope.cancel()
    assert [due for due, _ in woke] == sorted(dues)
    for due, at in woke:
        assert due <= at <= due + 0.001 + 1e-9


async def test_a_due_time_already_past_is_a_plain_checkpoint(
    autojump_clock: trio.testing.MockClock,
) -> None:
    metronome = Metronome()
    start = trio.current_time()
    await metronome.sleep_until(start - 1)  # no timer task needed
    assert trio.current_time() == start


async def test_a_cancelled_sleeper_is_skipped_and_the_others_still_wake(
    autojump_clock: trio.testing.MockClock,
) -> None:
    metronome = Metronome()
    woke: list[str] = []

    async def sleeper(name: str, due: float) -> None:
        await metronome.sleep_until(due)
        woke.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(metronome.run)
        start = trio.current_time()
        with trio.move_on_at(start + 0.05):
            await metronome.sleep_until(start + 0.1)  # cancelled first
        async with trio.open_nursery() as sleepers:
            sleepers.start_soon(sleeper, "a", start + 0.2)
            sleepers.start_soon(sleeper, "b", start + 0.1)
        nursery.cancel_scope.cancel()
    assert woke == ["b", "a"]
