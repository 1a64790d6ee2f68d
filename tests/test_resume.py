"""Sessions that outlive their connection, on the wire (``connect(resume=...)``).

Whole sessions against the local reference server, through a fault-injecting TCP proxy
(``tests/fault_proxy.py``): a drop in the middle of a response, in the middle of a tool call,
during audio streaming, a server restart (with sends waiting meanwhile), and sessions that
move to a new connection before the server's limit, or after it. Each shows the conversation
going on with its history, and no tool output twice. Rules these tests follow:

* every wait is bounded by a ``trio.fail_after`` the test holds, and waits for a condition,
  never for a guessed time (``waiting.wait_until``);
* what reached a server is read back from the server (its statistics) and from the client's
  conversation, which applies every ``conversation.item.created`` the server sent;
* the many-expiries session runs on a mock clock over in-memory streams
  (``ServerHandle.open_memory_stream``), so 30 minutes of sessions take milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from fault_proxy import FaultProxy, open_fault_proxy
from waiting import wait_until

import trio_realtime as rt
from trio_realtime.audio import silence, speech_like
from trio_realtime.server import ServerHandle, ServerOptions, SimulatedEngine
from trio_realtime.testing import open_local_server

KEY = "sk-resume-test-DO-NOT-LEAK-0123456789"
TEXT = rt.Session(modalities=["text"], turn_detection=None)
POLICY = rt.ResumePolicy(seed=16, initial_backoff=0.05, max_backoff=0.4, max_gap=30)


@asynccontextmanager
async def through_proxy(**server: Any) -> AsyncIterator[tuple[ServerHandle, FaultProxy]]:
    async with open_local_server(**server) as handle, open_fault_proxy(handle.port) as proxy:
        yield handle, proxy


@asynccontextmanager
async def reading(
    url: str, **kwargs: Any
) -> AsyncIterator[tuple[rt.RealtimeSession, list[rt.ReceivedEvent]]]:
    """A resumable session, with a task reading its stream into a list (as an app would)."""
    kwargs.setdefault("resume", POLICY)
    async with rt.connect(model="gpt-realtime", url=url, api_key=KEY, **kwargs) as session:
        events: list[rt.ReceivedEvent] = []

        async def read() -> None:
            async for event in session:
                events.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            yield session, events
            nursery.cancel_scope.cancel()


def resumed(events: list[rt.ReceivedEvent]) -> list[rt.SessionResumed]:
    return [e for e in events if isinstance(e, rt.SessionResumed)]


async def say(session: rt.RealtimeSession, text: str) -> None:
    await session.create_item(rt.ConversationItem.user_text(text))


async def reply(session: rt.RealtimeSession) -> rt.ResponseResult:
    return await (await session.create_response()).done()


def texts(session: rt.RealtimeSession) -> list[tuple[str | None, str]]:
    return [
        (i.role, i.text or i.transcript or i.input_transcript or "")
        for i in session.conversation.items
    ]


def live_items(server: ServerHandle) -> int:
    """Items in the conversation of the server's last connection (it is still open)."""
    state = server.connections[-1].state
    assert state is not None
    return state.statistics().items


# --- a drop in the middle of a response ------------------------------------------------------


async def test_a_drop_mid_response_interrupts_its_handle_and_the_conversation_goes_on() -> None:
    engine = SimulatedEngine(text_chars_per_second=300, text_chunk_chars=4)
    question = "tell me " + "a long story " * 10
    async with (
        through_proxy(engine=engine) as (server, proxy),
        reading(proxy.url) as (session, events),
    ):
        with trio.fail_after(20):
            await session.request(rt.SessionUpdate(session=TEXT))
            await say(session, question)
            handle = await session.create_response()
            async for _ in handle:
                break  # the reply is streaming
            assert proxy.cut() == 1
            result = await handle.done()
            assert result.status == "interrupted"
            assert result.status_details is not None
            assert result.status_details.reason == "connection_lost"
            assert result.text
            assert f"You said: {question}".startswith(result.text)
            assert len(result.text) < len(f"You said: {question}")
            await wait_until(lambda: resumed(events))
            (notice,) = resumed(events)
            user_id, assistant_id = session.conversation.item_ids
            assert notice.cause == "connection lost"
            assert notice.code == 1006
            assert notice.interrupted_responses == (result.id,)
            assert notice.config_replayed
            assert notice.items_replayed == (user_id, assistant_id)  # the part that arrived
            assert notice.lost == ()
            assert notice.resent == ()
            assert session.conversation.response(result.id).status == "interrupted"

            await say(session, "and then?")
            after = await reply(session)
            assert after.status == "completed"
            assert after.text == "You said: and then?"
            assert texts(session) == [
                ("user", question),
                ("assistant", result.text),
                ("user", "and then?"),
                ("assistant", "You said: and then?"),
            ]
            assert live_items(server) == 4  # the history, then the new turn
            assert session.statistics().resumes == 1


# --- a drop in the middle of a tool call -----------------------------------------------------


async def test_a_drop_mid_tool_call_answers_the_call_exactly_once_after_the_resume() -> None:
    started, release = trio.Event(), trio.Event()
    calls: list[str] = []

    @rt.tool
    async def slow_lookup(city: str) -> str:
        """Looks a city up, slowly."""
        calls.append(city)
        started.set()
        await release.wait()
        return f"found {city}"

    async with (
        through_proxy() as (server, proxy),
        reading(proxy.url, tools=[slow_lookup]) as (
            session,
            events,
        ),
    ):
        with trio.fail_after(20):
            await session.request(rt.SessionUpdate(session=TEXT))
            await say(session, "please slow_lookup city=Paris")
            first = await reply(session)
            assert [c.name for c in first.function_calls] == ["slow_lookup"]
            call_id = first.function_calls[0].call_id
            await started.wait()  # the tool runs, its output not made yet
            proxy.cut()
            release.set()  # the output is made while the connection is being left
            answer = "slow_lookup returned: found Paris"  # the follow-up, once complete
            await wait_until(
                lambda: any(i.text == answer and i.done for i in session.conversation.items)
            )
            (notice,) = resumed(events)
            assert calls == ["Paris"]  # run once
            outputs = [i for i in session.conversation.items if i.type == "function_call_output"]
            assert [(o.call_id, o.output) for o in outputs] == [(call_id, "found Paris")]
            call_item = next(i for i in session.conversation.items if i.type == "function_call")
            assert call_item.id in notice.items_replayed  # the call was replayed, its output
            assert notice.interrupted_responses == ()  # was sent once, after the replay
            assert texts(session)[-1] == ("assistant", answer)
            assert live_items(server) == len(session.conversation.items) == 4

            await say(session, "thanks")
            assert (await reply(session)).text == "You said: thanks"


# --- a drop during audio streaming -----------------------------------------------------------


async def turns(count: int) -> AsyncIterator[bytes]:
    for n in range(count):
        audio = speech_like(500, seed=n) + silence(600)
        for start in range(0, len(audio), 4800):
            yield audio[start : start + 4800]


@pytest.mark.slow
async def test_a_drop_during_audio_streaming_keeps_the_pump_going_on_the_new_connection() -> None:
    voice = rt.Session(
        modalities=["text"], input_audio_transcription=rt.InputAudioTranscription(model="whisper-1")
    )
    async with through_proxy() as (server, proxy), reading(proxy.url) as (session, events):
        with trio.fail_after(30):
            await session.request(rt.SessionUpdate(session=voice))
            stream = await session.stream_audio(turns(3), realtime=True)

            def answered() -> int:
                return sum(
                    1 for i in session.conversation.items if i.role == "assistant" and i.done
                )

            def heard() -> bool:  # the first turn was transcribed and answered
                items = session.conversation.items
                return answered() >= 1 and bool(items[0].input_transcript)

            await wait_until(heard)
            proxy.cut()  # in the middle of the stream
            await stream.wait()  # does not raise: the pump went on over the new connection
            assert stream.completed
            assert stream.audio_ms_sent == pytest.approx(3 * 1100)
            await wait_until(lambda: answered() >= 2)  # a later turn, heard by the new server
            (notice,) = resumed(events)
            first_user = session.conversation.items[0]
            assert (first_user.input_transcript or "").endswith(" seconds of speech.")
            assert first_user.id in notice.items_as_text  # its audio replayed as its transcript
            assert server.connections[-1].state is not None
            assert server.connections[-1].state.statistics().audio_bytes_appended > 0
            assert len(server.connections) == 2


# --- a server restart ------------------------------------------------------------------------


async def run_server(
    scope: trio.CancelScope,
    port: int,
    task_status: trio.TaskStatus[ServerHandle] = trio.TASK_STATUS_IGNORED,
    **kwargs: Any,
) -> None:
    with scope:
        async with open_local_server(port=port, **kwargs) as server:
            task_status.started(server)
            await trio.sleep_forever()


async def test_a_server_restart_is_survived_and_sends_made_meanwhile_wait_then_go_in_order() -> (
    None
):
    async with trio.open_nursery() as nursery:
        first = trio.CancelScope()
        old: ServerHandle = await nursery.start(run_server, first, 0)
        async with (
            open_fault_proxy(old.port) as proxy,
            reading(proxy.url, outbound_queue_size=8) as (session, events),
        ):
            with trio.fail_after(20):
                await session.request(rt.SessionUpdate(session=TEXT))
                await say(session, "before the restart")
                assert (await reply(session)).text == "You said: before the restart"
                first.cancel()  # the server shuts down: 1001 "going away"
                await wait_until(lambda: session.statistics().bytes_received and not old.active)
                sent: list[str] = []

                async def send_during_the_gap() -> None:
                    for n in range(20):
                        await say(session, f"queued {n}")
                        sent.append(f"queued {n}")

                nursery.start_soon(send_during_the_gap)
                # The queue fills, then send() waits: backpressure, not loss or growth.
                await wait_until(lambda: session.statistics().outbound_buffer_used == 8)
                assert len(sent) < 20
                new: ServerHandle = await nursery.start(run_server, trio.CancelScope(), old.port)
                await wait_until(lambda: len(sent) == 20 and resumed(events))
                (notice,) = resumed(events)
                assert notice.cause == "closed 1001 (server shutting down)"
                assert len(notice.items_replayed) == 2
                await wait_until(lambda: len(session.conversation.items) == 22)
                assert texts(session)[2:] == [("user", text) for text in sent]  # all, in order
                assert [t for _, t in texts(session)[:2]] == [
                    "before the restart",
                    "You said: before the restart",
                ]
                await say(session, "after the restart")
                assert (await reply(session)).text == "You said: after the restart"
                assert live_items(new) == 24
        nursery.cancel_scope.cancel()


async def test_a_1012_restart_close_is_resumed_and_a_normal_close_is_not() -> None:
    async with open_local_server() as server, reading(server.url) as (session, events):
        with trio.fail_after(20):
            await say(session, "hello")
            await wait_until(lambda: len(session.conversation.items) == 1)
            assert server.close_connections(1012) == 1
            await wait_until(lambda: resumed(events))
            assert resumed(events)[0].cause == "closed 1012 (service restart)"
            assert resumed(events)[0].items_replayed == session.conversation.item_ids
            server.close_connections(1000, "done")
            await wait_until(lambda: not server.active)
            with pytest.raises(rt.ConnectionClosed):  # a normal close ends the session as ever
                await session.wait_for("never.sent")
            assert session.statistics().resumes == 1


# --- moving on before the server's limit, and after it --------------------------------------


async def test_a_long_session_moves_to_new_connections_before_each_expiry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = rt.ResumePolicy(recycle_before=10)
    async with (
        open_local_server(options=ServerOptions(session_seconds=60)) as server,
        reading(server.url, open_stream=server.open_memory_stream, resume=policy) as (
            session,
            events,
        ),
    ):
        await session.request(rt.SessionUpdate(session=TEXT))
        for turn in range(40):  # a turn every 20 s for 800 s: 13 expiries' worth
            await say(session, f"turn {turn}")
            result = await reply(session)
            assert (result.status, result.text) == ("completed", f"You said: turn {turn}")
            await trio.sleep(20)
        notices = resumed(events)
        assert len(notices) >= 12
        assert {n.cause for n in notices} == {"recycled"}
        assert all(n.interrupted_responses == () and n.lost == () for n in notices)
        # Every connection was closed by the client, in time: none met session_expired.
        assert {c.close_code for c in server.connections[:-1]} == {1000}
        last = notices[-1].items_replayed  # the whole history so far, in order
        assert len(last) > 60
        assert last == session.conversation.item_ids[: len(last)]
        assert live_items(server) == len(session.conversation.items) == 80


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_an_expired_session_resumes_with_its_history(
    autojump_clock: trio.testing.MockClock, dialect: str
) -> None:
    policy = rt.ResumePolicy(recycle_before=None)  # meet the limit
    async with (
        open_local_server(options=ServerOptions(session_seconds=60)) as server,
        reading(
            server.url, open_stream=server.open_memory_stream, resume=policy, dialect=dialect
        ) as (
            session,
            events,
        ),
    ):
        await session.request(rt.SessionUpdate(session=TEXT))
        for turn in range(4):  # turns at 0, 45, 90 and 135 s; the limit at 60 and 120 s
            await say(session, f"turn {turn}")
            assert (await reply(session)).text == f"You said: turn {turn}"
            await trio.sleep(45)
        notices = resumed(events)
        assert [n.cause for n in notices] == ["session_expired", "session_expired"]
        assert [n.code for n in notices] == [1001, 1001]
        assert [c.close_code for c in server.connections[:-1]] == [1001, 1001]
        assert notices[0].items_replayed == session.conversation.item_ids[:4]
        assert notices[1].items_replayed == session.conversation.item_ids[:6]
        assert live_items(server) == 8


async def test_recycling_waits_for_a_quiet_point(autojump_clock: trio.testing.MockClock) -> None:
    engine = SimulatedEngine(text_chars_per_second=2)  # a reply takes a while
    policy = rt.ResumePolicy(recycle_before=30)
    async with (
        open_local_server(engine=engine, options=ServerOptions(session_seconds=60)) as server,
        reading(server.url, open_stream=server.open_memory_stream, resume=policy) as (
            session,
            events,
        ),
    ):
        await session.request(rt.SessionUpdate(session=TEXT))
        await trio.sleep(25)
        await say(session, "x" * 30)  # replied to from 25 s to about 45 s
        result = await reply(session)
        assert result.status == "completed"
        assert trio.current_time() > 40
        await wait_until(lambda: resumed(events))
        (notice,) = resumed(events)
        assert notice.cause == "recycled"
        assert notice.interrupted_responses == ()
        assert server.connections[0].close_code == 1000


# --- a dead network found by the keepalive ----------------------------------------------------


async def test_a_blackholed_connection_found_by_the_keepalive_is_resumed() -> None:
    async with (
        through_proxy() as (_server, proxy),
        reading(proxy.url, keepalive=1.0) as (
            session,
            events,
        ),
    ):
        with trio.fail_after(20):
            await say(session, "hello")
            await wait_until(lambda: len(session.conversation.items) == 1)
            for count in (1, 2):  # the keepalive judges each new connection too
                proxy.blackhole()
                await wait_until(lambda: len(resumed(events)) == count)  # noqa: B023
                notice = resumed(events)[-1]
                assert notice.cause.startswith("keepalive: ")
                assert notice.code == 1006
                await say(session, "still here?")
                assert (await reply(session)).status == "completed"
            assert proxy.connections == 3


async def test_user_turns_are_replayed_as_audio_when_the_policy_keeps_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = rt.ResumePolicy(input_audio_seconds=30)
    manual = rt.Session(
        modalities=["text"],
        turn_detection=None,
        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1"),
    )
    async with (
        open_local_server() as server,
        reading(server.url, open_stream=server.open_memory_stream, resume=policy) as (
            session,
            events,
        ),
    ):
        await session.request(rt.SessionUpdate(session=manual))
        await session.append_audio(speech_like(300))
        committed = await session.request(rt.InputAudioBufferCommit())
        await reply(session)
        await wait_until(lambda: session.conversation.items[0].input_transcript)
        assert server.drop_connections() == 1
        await wait_until(lambda: resumed(events))
        (notice,) = resumed(events)
        assert notice.items_as_audio == (committed.item_id,)
        assert notice.items_as_text == ()  # the assistant's text is text already
        retrieved = await session.request(rt.ConversationItemRetrieve(item_id=committed.item_id))
        (part,) = retrieved.item.content or []
        assert part.type == "input_audio"
        assert part.pcm == speech_like(300)  # the new server holds the very audio
        await say(session, "go on")
        assert (await reply(session)).text == "You said: go on"


async def test_a_transcription_session_resumes_with_its_configuration(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_local_server() as server,
        rt.connect(
            intent="transcription",
            url=server.url,
            api_key=KEY,
            open_stream=server.open_memory_stream,
            resume=POLICY,
        ) as session,
    ):
        update = rt.TranscriptionSessionUpdate(
            session=rt.TranscriptionSession(
                input_audio_transcription=rt.InputAudioTranscription(model="gpt-4o-transcribe")
            )
        )
        await session.request(update)
        server.close_connections(1011, "internal error")
        notice = await session.wait_for(rt.SessionResumed, timeout=30)
        assert notice.config_replayed
        assert notice.items_replayed == ()
        assert notice.cause == "closed 1011 (internal error)"
        state = server.connections[-1].state
        assert state is not None
        transcription = session.conversation.transcription_session
        assert transcription is not None
        assert transcription.input_audio_transcription is not None
        assert transcription.input_audio_transcription is not rt.UNSET
        assert transcription.input_audio_transcription.model == "gpt-4o-transcribe"
