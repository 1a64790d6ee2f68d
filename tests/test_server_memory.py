"""What a long-running reference server keeps: a bounded summary per finished connection.

A session with one 30-second spoken reply holds about 1.5 MB of protocol state (the
conversation, the assistant audio, the committed user audio). The handle remembers the last
1024 connections, so keeping that state would grow a server into gigabytes; it keeps a few
KiB each instead, and the whole state only when asked.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import orjson
import trio
from raw_wire import frame, text, upgraded
from server_helpers import FakeEngine, audio_reply

from trio_realtime.server import ConnectionInfo
from trio_realtime.testing import open_local_server

DEADLINE = 20.0
SUMMARY_BUDGET = 8 * 1024


def deep_size(root: object) -> int:
    """Bytes held by ``root`` and what it refers to (classes, modules, functions and trio's
    own machinery excluded)."""
    seen: set[int] = set()
    todo = [root]
    total = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type) or callable(obj):
            continue
        if type(obj).__module__.startswith("trio.") or type(obj).__name__ == "module":
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return total


async def one_long_reply(port: int) -> None:
    async with upgraded(port) as conn:
        await conn.until("session.created")
        item: dict[str, Any] = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "tell me a story"}],
        }
        for message in (
            {"type": "conversation.item.create", "item": item},
            {"type": "response.create"},
        ):
            await conn.send(_text(message))
        await conn.until("response.done")
        await conn.send(_close())
        await conn.closing()


def _text(event: dict[str, Any]) -> bytes:
    return text(orjson.dumps(event))


def _close() -> bytes:
    return frame(0x8, (1000).to_bytes(2, "big"))


async def test_a_finished_connection_is_a_summary_of_a_few_kib() -> None:
    engine = FakeEngine(outputs=(audio_reply(ms=30_000),))
    with trio.fail_after(DEADLINE):
        async with open_local_server(engine=engine) as server:
            await one_long_reply(server.port)
            (info,) = server.connections
            await info.wait_ended()
    assert isinstance(info, ConnectionInfo)
    assert info.state is None
    assert info.statistics is not None
    assert info.statistics.responses_started == 1
    assert info.statistics.events_received == 2
    assert info.close_code == 1000
    assert deep_size(info) < SUMMARY_BUDGET


async def test_the_whole_state_is_kept_when_asked_for() -> None:
    engine = FakeEngine(outputs=(audio_reply(ms=30_000),))
    with trio.fail_after(DEADLINE):
        async with open_local_server(engine=engine, keep_finished_state=True) as server:
            await one_long_reply(server.port)
            (info,) = server.connections
            await info.wait_ended()
    assert info.state is not None
    assert info.state.statistics() == info.statistics
    assert deep_size(info) > 30 * 24_000 * 2  # the reply's audio is still there


async def test_a_live_connection_shows_its_state_and_live_statistics() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server, upgraded(server.port) as conn:
            await conn.until("session.created")
            await conn.send(_text({"type": "input_audio_buffer.clear"}))
            await conn.until("input_audio_buffer.cleared")
            (info,) = server.connections
            assert info.state is not None
            assert info.statistics is not None
            assert info.statistics.events_received == 1
