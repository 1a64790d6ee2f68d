"""A resumed session against scripted servers: the cases a real server cannot be made to
produce on cue.

* requests written and unanswered when the connection went: sent again under the same
  ``event_id`` (``request()`` gets its answer from the new connection), except a commit,
  whose audio did not survive (``ConnectionInterrupted``); ``wait_for`` waits across;
* a reconnection the server refuses with 3000 ends the session with ``AuthenticationError``;
  one that keeps failing ends it after ``max_attempts`` with the original ``ConnectionClosed``;
  the key appears in none of the exceptions, notices or log lines;
* leaving the block during a gap: sends made meanwhile go out once a connection takes over
  (within ``close_timeout``), and cancellation leaves no task and no socket behind;
* only a session that was ready resumes: a failure while connecting is raised.

The scripts run on in-memory streams with the mock clock (autojump), or on loopback TCP where
a socket could leak.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket
from fake_server import (
    TEST_KEY,
    FakeServer,
    ServerConnection,
    client,
    default_reply,
    error_event,
    fake_server,
    session_created,
    tracked_tcp,
)
from waiting import wait_until

import trio_realtime as rt

POLICY = rt.ResumePolicy(seed=5, initial_backoff=0.1, max_backoff=1.0, max_attempts=3)


async def realtime(conn: ServerConnection) -> None:
    """The default script (``session.created``, then a plain reply to each event), closing
    its event iterator however it ends, and noting the client's close code even when it
    comes while a reply is being sent."""
    await conn.send(session_created())
    async with aclosing(conn.events()) as events:
        async for event in events:
            reply = default_reply(event)
            if reply is not None:
                try:
                    await conn.send(reply)
                except trio_websocket.ConnectionClosed as exc:  # closed as we answered
                    conn.close_code = exc.reason.code if exc.reason else None
                    return


def first_then_default(first: Any) -> tuple[Any, list[FakeServer]]:
    """A handler whose server's first connection runs ``first``, later ones the default
    script; and the list to put its server in once it runs."""
    holder: list[FakeServer] = []

    async def handler(conn: ServerConnection) -> None:
        if len(holder[0].connections) == 1:
            await first(conn)
        else:
            await realtime(conn)

    return handler, holder


async def drop_at(conn: ServerConnection, kind: str) -> None:
    """Send ``session.created``, answer nothing, and drop TCP on the first ``kind``."""
    await conn.send(session_created())
    while (await conn.receive())["type"] != kind:
        pass
    await conn.drop()


async def test_requests_unanswered_at_the_loss_are_sent_again_or_fail_clearly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    handler, holder = first_then_default(lambda c: drop_at(c, "input_audio_buffer.commit"))
    async with fake_server(handler, transport="memory") as server:
        holder.append(server)
        async with client(server, resume=POLICY) as session:
            got: dict[str, Any] = {}

            async def update() -> None:
                request = rt.SessionUpdate(session=rt.Session(instructions="keep me"))
                got["update"] = await session.request(request, timeout=60)

            async def commit() -> None:
                with pytest.raises(rt.ConnectionInterrupted) as info:
                    await session.request(rt.InputAudioBufferCommit(), timeout=60)
                got["commit"] = info.value

            async def wait() -> None:
                got["waited"] = await session.wait_for(rt.SessionUpdated, timeout=60)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(update)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(commit)
            first, second = server.connections
            update_id = first.received[0]["event_id"]
            assert got["update"].session.instructions == "keep me"
            assert got["waited"] is got["update"]  # wait_for saw it too, across the gap
            assert [e["type"] for e in second.received] == ["session.update", "session.update"]
            assert second.received[1]["event_id"] == update_id  # sent again, same id
            assert second.received[1]["session"] == {"instructions": "keep me"}
            error = got["commit"]
            assert error.code == 1006
            assert "input_audio_buffer.commit" in str(error)
            assert "uncommitted input audio did not survive" in str(error)
            stats = session.statistics()
            assert (stats.resumes, stats.replies_pending) == (1, 0)


async def test_the_notice_names_what_was_sent_again_and_what_was_not() -> None:
    handler, holder = first_then_default(lambda c: drop_at(c, "input_audio_buffer.commit"))
    async with fake_server(handler, transport="memory") as server:
        holder.append(server)
        async with client(server, resume=POLICY) as session:
            events: list[rt.ReceivedEvent] = []

            async def read() -> None:
                async for event in session:
                    events.append(event)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                update = await session.update_session(rt.Session(instructions="x"))
                commit = await session.commit_audio()
                with trio.fail_after(10):
                    await wait_until(lambda: any(isinstance(e, rt.SessionResumed) for e in events))
                nursery.cancel_scope.cancel()
            (notice,) = [e for e in events if isinstance(e, rt.SessionResumed)]
            assert notice.resent == (f"session.update {update.event_id}",)
            assert notice.interrupted_requests == (f"input_audio_buffer.commit {commit.event_id}",)
            assert (notice.code, notice.cause, notice.attempts) == (1006, "connection lost", 1)


async def say_hello_and_wait(server: FakeServer, **kwargs: Any) -> None:
    """A resumable session that sends one item, then waits for an event that never comes."""
    kwargs.setdefault("resume", POLICY)
    async with client(server, **kwargs) as session:
        await session.create_item(rt.ConversationItem.user_text("hello"))
        await session.wait_for("never.sent", timeout=600)


async def refuse_the_key(conn: ServerConnection) -> None:
    await conn.send(error_event(f"Incorrect API key provided: {TEST_KEY}.", code="invalid_api_key"))
    await conn.close(3000, "invalid_request_error.invalid_api_key")


async def test_a_refused_key_on_reconnection_ends_the_session_without_showing_the_key(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_realtime")

    async def handler(conn: ServerConnection) -> None:
        if len(server.connections) == 1:
            await drop_at(conn, "conversation.item.create")
        else:
            await refuse_the_key(conn)

    async with fake_server(handler, transport="memory") as server:
        with pytest.raises(rt.AuthenticationError) as info:
            await say_hello_and_wait(server)
        assert len(server.connections) == 2  # no further attempt after the refusal
        assert info.value.code == 3000
        assert TEST_KEY not in str(info.value)
        assert info.value.error is not None
        assert TEST_KEY not in info.value.error.message
        assert TEST_KEY not in caplog.text
        assert "resuming on a new connection" in caplog.text


async def test_a_session_that_cannot_reconnect_gives_up_with_the_original_close(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def handler(conn: ServerConnection) -> None:
        if len(server.connections) == 1:
            await drop_at(conn, "conversation.item.create")
        else:
            await conn.close(1011, "overloaded")  # before session.created, every time

    async with fake_server(handler, transport="memory") as server:
        start = trio.current_time()
        with pytest.raises(rt.ConnectionClosed) as info:
            await say_hello_and_wait(server)
        assert type(info.value) is rt.ConnectionClosed
        assert info.value.code == 1006  # the loss itself, not the attempts'
        assert "not resumed after 3 attempts" in str(info.value)
        assert "connection closed: code 1011" in str(info.value)  # the last attempt's failure
        assert len(server.connections) == 4
        assert trio.current_time() - start < 1 + 2  # the backoff bounds: 0.1 + 0.2 + 0.4


async def test_a_gap_past_max_gap_gives_up(autojump_clock: trio.testing.MockClock) -> None:
    async def handler(conn: ServerConnection) -> None:
        if len(server.connections) == 1:
            await drop_at(conn, "conversation.item.create")
        else:
            await trio.sleep_forever()  # never answers the upgrade's session

    policy = rt.ResumePolicy(max_gap=30, max_attempts=100)
    async with fake_server(handler, transport="memory") as server:
        start = trio.current_time()
        with pytest.raises(rt.ConnectionClosed, match="not resumed after"):
            await say_hello_and_wait(server, resume=policy, connect_timeout=10)
        assert trio.current_time() - start <= 30 + 10


async def test_leaving_the_block_during_a_gap_sends_what_waited_once_a_connection_takes_over(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def handler(conn: ServerConnection) -> None:
        if len(server.connections) == 1:
            await drop_at(conn, "conversation.item.create")
        else:
            await trio.sleep(2)  # a slow reconnection
            await realtime(conn)

    async with fake_server(handler, transport="memory") as server:
        async with client(server, resume=POLICY, close_timeout=5) as session:
            await session.create_item(rt.ConversationItem.user_text("lost?"))
            await wait_until(lambda: len(server.connections) == 2)  # the gap has begun
            await session.create_item(rt.ConversationItem.user_text("sent in the gap"))
        second = server.connections[1]
        types = [e["type"] for e in second.received]
        assert types == ["session.update", "conversation.item.create", "conversation.item.create"]
        assert [e["item"]["content"][0]["text"] for e in second.received[1:]] == [
            "lost?",  # written before the loss, unanswered: sent again
            "sent in the gap",
        ]
        with trio.fail_after(5):
            await wait_until(lambda: second.close_code is not None)
        assert second.close_code == 1000  # closed normally, once flushed


@pytest.mark.parametrize("phase", ["backoff", "connecting"])
async def test_cancelling_during_a_gap_leaves_nothing_behind(phase: str) -> None:
    async def handler(conn: ServerConnection) -> None:
        if len(server.connections) == 1:
            await drop_at(conn, "conversation.item.create")
        else:
            await trio.sleep_forever()  # hangs before session.created

    policy = rt.ResumePolicy(initial_backoff=30 if phase == "backoff" else 0.01, seed=1)
    async with fake_server(handler) as server:
        open_stream, opened = tracked_tcp(server)
        with trio.move_on_after(1) as scope:
            async with client(server, resume=policy, open_stream=open_stream) as session:
                await session.create_item(rt.ConversationItem.user_text("hello"))
                await session.wait_for("never.sent")
        assert scope.cancelled_caught
        assert len(opened) == (1 if phase == "backoff" else 2)
        for stream in opened:
            assert stream.socket.fileno() == -1  # closed


async def test_a_failure_while_connecting_is_raised_not_resumed() -> None:
    async with fake_server(reject=(503, b"busy")) as server:
        with pytest.raises(rt.ConnectionRejected):
            async with client(server, resume=POLICY):
                pass  # pragma: no cover
        assert len(server.handshakes) == 1


def test_the_notice_and_the_policy_hold_no_secret() -> None:
    assert "key" not in repr(rt.ResumePolicy()).lower()
    assert {f.name for f in rt.SessionResumed.__attrs_attrs__} == {  # type: ignore[attr-defined]
        "cause",
        "code",
        "attempts",
        "gap_s",
        "attempt_s",
        "session_id",
        "expires_at",
        "config_replayed",
        "items_replayed",
        "items_as_text",
        "items_as_audio",
        "resent",
        "interrupted_responses",
        "interrupted_requests",
        "lost_input_audio_ms",
        "lost",
    }
