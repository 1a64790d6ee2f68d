"""Response handles and the response queue on the wire, against the local reference server.

A handle gets copies of its response's deltas (the session's own stream still gets every
event) and the final result; requests wait their turn so that the library never causes a
``conversation_already_has_active_response``; out-of-band responses skip the queue.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime._session._response_handles import HandleOverflow, ResponseRefused
from trio_realtime._session._session import RealtimeSession
from trio_realtime.audio import silence, speech_like
from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server

TEXT_ONLY = rt.Session(modalities=["text"], turn_detection=None)


@asynccontextmanager
async def session_with_reader(
    engine: SimulatedEngine | None = None,
    configure: rt.Session | None = TEXT_ONLY,
    dialect: Any = "beta",
) -> AsyncIterator[tuple[RealtimeSession, list[Any]]]:
    async with (
        open_local_server(engine=engine) as server,
        rt.connect(model="gpt-realtime", url=server.url, api_key="k", dialect=dialect) as session,
    ):
        if configure is not None:
            await session.update_session(configure)
            await session.wait_for(rt.SessionUpdated)
        events: list[Any] = []

        async def read() -> None:
            async for event in session:
                events.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            yield session, events
            nursery.cancel_scope.cancel()


def errors(events: list[Any]) -> list[rt.ErrorEvent]:
    return [e for e in events if isinstance(e, rt.ErrorEvent)]


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_a_handle_streams_its_deltas_and_gives_the_result_without_stealing(
    dialect: Any,
) -> None:
    with trio.fail_after(10):
        async with session_with_reader(dialect=dialect) as (session, events):
            await session.create_item(rt.ConversationItem.user_text("good morning"))
            handle = await session.create_response(rt.ResponseConfig(metadata={"turn": "1"}))
            assert handle.origin == "request"
            assert handle.request is not None
            assert isinstance(handle.request.response, rt.ResponseConfig)
            assert handle.request.response.metadata == {
                "turn": "1",
                "trio_realtime_request": handle.request_id,
            }
            deltas = [delta async for delta in handle]
            result = await handle.done()
            assert "".join(d.delta for d in deltas) == "You said: good morning"
            assert all(isinstance(d, rt.ResponseTextDelta) for d in deltas)
            assert result.text == "You said: good morning"
            assert (result.status, result.out_of_band) == ("completed", False)
            assert result.id == handle.response_id
            assert dict(result.metadata or {}) == {"turn": "1"}  # the tag is not the user's
            assert result.usage is not None
            assert handle.response is session.conversation.response(result.id)
            assert handle.result is result
            await session.wait_for(rt.RateLimitsUpdated)
            # The session's stream got every delta too.
            streamed = [e for e in events if isinstance(e, rt.ResponseTextDelta)]
            assert streamed == deltas
            assert session.statistics().response_handles == 0


async def test_requests_wait_their_turn_and_never_meet_an_active_response(
    autojump_clock: trio.testing.MockClock,
) -> None:
    engine = SimulatedEngine(text_chars_per_second=100)
    with trio.fail_after(60):
        async with session_with_reader(engine) as (session, events):
            await session.create_item(rt.ConversationItem.user_text("one two three"))
            handles = [
                await session.create_response(rt.ResponseConfig(instructions=str(i)))
                for i in range(4)
            ]
            assert handles[0].request is not None
            assert [h.request for h in handles[1:]] == [None, None, None]  # queued
            assert session.statistics().queued_responses == 3
            results = [await h.done() for h in handles]
            assert [r.status for r in results] == ["completed"] * 4
            created = [e.response.id for e in events if isinstance(e, rt.ResponseCreated)]
            assert created == [r.id for r in results]  # in the order asked
            done_at = {
                e.response.id: i for i, e in enumerate(events) if isinstance(e, rt.ResponseDone)
            }
            created_at = {
                e.response.id: i for i, e in enumerate(events) if isinstance(e, rt.ResponseCreated)
            }
            for earlier, later in itertools.pairwise(results):
                assert done_at[earlier.id] < created_at[later.id]  # one at a time
            assert errors(events) == []
            assert session.statistics().errors_handled == 0


async def test_a_request_that_races_a_vad_response_is_sent_again_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    engine = SimulatedEngine(text_chars_per_second=50)
    vad = rt.Session(modalities=["text"], turn_detection=rt.TurnDetection(type="server_vad"))
    with trio.fail_after(60):
        async with session_with_reader(engine, vad) as (session, events):
            # The speech is queued before the request: the server's VAD starts a response
            # before it reads the request, which the client could not know when it sent it.
            stream = await session.stream_audio(
                silence(200) + speech_like(800) + silence(600), realtime=False
            )
            await stream.wait()
            mine = await session.create_response(rt.ResponseConfig(instructions="mine"))
            assert mine.request is not None  # sent at once: nothing was known to run
            result = await mine.done()
            assert result.status == "completed"
            created = [e for e in events if isinstance(e, rt.ResponseCreated)]
            assert len(created) == 2
            assert created[1].response.id == result.id  # after the VAD response
            assert errors(events) == []  # the refusal was handled, not delivered
            assert session.statistics().errors_handled == 1
            assert mine.request.event_id != created[0].event_id


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_an_out_of_band_response_skips_the_queue_and_has_a_handle(
    autojump_clock: trio.testing.MockClock, dialect: Any
) -> None:
    engine = SimulatedEngine(text_chars_per_second=20)
    with trio.fail_after(60):
        async with session_with_reader(engine, dialect=dialect) as (session, events):
            await session.create_item(rt.ConversationItem.user_text("summarise this"))
            main = await session.create_response()
            await session.wait_for(rt.ResponseTextDelta)
            aside = await session.create_response(
                rt.ResponseConfig(
                    conversation="none",
                    input=[rt.ConversationItem.user_text("ok")],
                    metadata={"purpose": "classify"},
                )
            )
            assert aside.request is not None  # not queued behind the running response
            assert aside.out_of_band
            result = await aside.done()
            assert main.result is None  # the out-of-band one finished first
            assert result.out_of_band
            assert result.text == "You said: ok"
            assert dict(result.metadata or {}) == {"purpose": "classify"}
            assert all(i.id not in session.conversation.item_ids for i in aside.response.output)  # type: ignore[union-attr]
            assert (await main.done()).status == "completed"
            assert errors(events) == []


async def test_next_response_hands_out_a_response_the_server_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    engine = SimulatedEngine(audio_realtime_factor=4.0)
    with trio.fail_after(60):
        async with session_with_reader(engine, configure=None) as (session, _events):
            async with trio.open_nursery() as nursery:

                async def speak() -> None:
                    await trio.sleep(0.1)
                    await session.stream_audio(silence(200) + speech_like(800) + silence(600))

                nursery.start_soon(speak)
                handle = await session.next_response(timeout=30)
            assert handle.origin == "server"
            assert handle.request is None
            kinds = {type(delta).__name__ async for delta in handle}
            assert kinds == {"ResponseAudioDelta", "ResponseAudioTranscriptDelta"}
            result = await handle.done()
            assert result.transcript.startswith("I heard")
            assert len(result.audio) > 0
            assert result.audio_format == "pcm16"


async def test_next_response_times_out() -> None:
    with trio.fail_after(10):
        async with session_with_reader() as (session, _):
            with pytest.raises(trio.TooSlowError):
                await session.next_response(timeout=0.05)
            assert session._p.layer.watches == []


async def test_a_handle_that_falls_behind_stops_keeping_deltas_but_its_result_is_whole() -> None:
    with trio.fail_after(10):
        async with session_with_reader() as (session, _):
            await session.create_item(rt.ConversationItem.user_text("a fairly long sentence"))
            handle = await session.create_response(max_deltas=2)
            result = await handle.done()
            kept = [await handle.__anext__(), await handle.__anext__()]
            with pytest.raises(HandleOverflow, match="2 deltas behind"):
                await handle.__anext__()
            assert handle.dropped > 0
            assert (
                "".join(d.delta for d in kept) == result.text[: len("".join(d.delta for d in kept))]
            )
            assert result.text == "You said: a fairly long sentence"
            quiet = await session.create_response(max_deltas=0)
            await quiet.done()
            assert [d async for d in quiet] == []  # keeps nothing, drops nothing
            assert quiet.dropped == 0


async def test_a_refused_request_fails_its_handle_and_the_error_is_delivered() -> None:
    with trio.fail_after(10):
        async with session_with_reader() as (session, events):
            bad = await session.create_response(rt.ResponseConfig(conversation="sideways"))
            with pytest.raises(ResponseRefused, match="invalid_value") as info:
                await bad.done()
            assert info.value.error.param == "response.conversation"
            with pytest.raises(ResponseRefused):
                await bad.__anext__()
            # The queue is free again.
            await session.create_item(rt.ConversationItem.user_text("hi"))
            assert (await (await session.create_response()).done()).text == "You said: hi"
            assert [e.error.code for e in errors(events)] == ["invalid_value"]  # delivered


async def test_watching_every_response_in_order(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with session_with_reader() as (session, _):
            await session.create_item(rt.ConversationItem.user_text("hello"))
            with session.watch_responses(max_handles=4) as responses:
                mine = [await session.create_response() for _ in range(3)]
                seen = [await responses.receive() for _ in range(3)]
                assert seen == mine
                assert "waiting" in repr(responses)
            with pytest.raises(trio.EndOfChannel):
                await responses.receive()  # closed with its block
            with (
                pytest.raises(ValueError, match="max_handles"),
                session.watch_responses(max_handles=0),
            ):
                pass  # pragma: no cover


async def test_a_watch_that_falls_behind_raises_after_what_it_kept() -> None:
    with trio.fail_after(10):
        async with session_with_reader() as (session, _):
            await session.create_item(rt.ConversationItem.user_text("hello"))
            with session.watch_responses(max_handles=1) as responses:
                handles = [await session.create_response() for _ in range(2)]
                await handles[1].done()
                assert await responses.receive() is handles[0]
                with pytest.raises(HandleOverflow):
                    await responses.receive()


async def test_handles_and_queued_requests_fail_when_the_session_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    engine = SimulatedEngine(text_chars_per_second=1)
    with trio.fail_after(30):
        async with open_local_server(engine=engine) as server:
            async with rt.connect(model="gpt-realtime", url=server.url, api_key="k") as session:
                await session.update_session(TEXT_ONLY)
                running = await session.create_response()
                queued = await session.create_response()
                with session.watch_responses() as responses:
                    await session.aclose()
                    assert [h async for h in responses] == []  # a normal end ends iteration
            for handle in (running, queued):
                with pytest.raises(trio.ClosedResourceError):
                    await handle.done()
            assert "failed" in repr(queued)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (rt.ResponseConfig(metadata={f"k{i}": "v" for i in range(16)}), "16 pairs"),
        (rt.ResponseConfig(metadata={"trio_realtime_request": "x"}), "reserved"),
    ],
)
async def test_requests_the_session_cannot_tag_are_refused_before_sending(
    config: rt.ResponseConfig, match: str
) -> None:
    with trio.fail_after(10):
        async with session_with_reader() as (session, _events):
            with pytest.raises(ValueError, match=match):
                await session.create_response(config)
            with pytest.raises(ValueError, match="max_deltas"):
                await session.create_response(max_deltas=-1)
            assert session.statistics().queued_responses == 0


async def test_handles_work_without_a_tracked_conversation_but_barge_in_needs_one() -> None:
    with trio.fail_after(10):
        async with (
            open_local_server() as server,
            rt.connect(
                model="gpt-realtime", url=server.url, api_key="k", track_conversation=False
            ) as session,
        ):
            await session.update_session(TEXT_ONLY)
            await session.create_item(rt.ConversationItem.user_text("untracked"))
            handle = await session.create_response()
            result = await handle.done()
            assert result.text == "You said: untracked"  # from response.done itself
            assert (result.audio, handle.response) == (b"", None)
            with pytest.raises(RuntimeError, match="track_conversation=False"):
                _ = session.playback
    with pytest.raises(ValueError, match="needs track_conversation=True"):
        rt.connect(
            model="gpt-realtime", api_key="k", track_conversation=False, handle_interruptions=True
        )


async def test_a_handle_nobody_holds_is_not_fed(autojump_clock: trio.testing.MockClock) -> None:
    engine = SimulatedEngine(text_chars_per_second=50)
    with trio.fail_after(30):
        async with session_with_reader(engine) as (session, _events):
            await session.create_item(rt.ConversationItem.user_text("forget me"))
            await session.create_response()  # the handle is dropped at once
            await session.wait_for(rt.ResponseTextDelta)
            (ref,) = session._p.layer.routes.values()
            assert ref() is None  # nothing keeps its deltas
            await session.wait_for(rt.ResponseDone)
            assert session.statistics().response_handles == 0


async def test_a_create_response_cancelled_while_the_queue_is_full_leaves_nothing_behind(
    autojump_clock: trio.testing.MockClock,
) -> None:
    engine = SimulatedEngine(text_chars_per_second=20)
    with trio.fail_after(60):
        async with (
            open_local_server(engine=engine) as server,
            rt.connect(
                model="gpt-realtime", url=server.url, api_key="k", max_queued_responses=1
            ) as session,
        ):
            await session.update_session(TEXT_ONLY)
            await session.create_item(rt.ConversationItem.user_text("hello"))
            running = await session.create_response()
            queued = await session.create_response()
            with trio.move_on_after(0.2) as scope:
                await session.create_response()  # waits for room
            assert scope.cancelled_caught
            assert session.statistics().queued_responses == 1
            assert session.statistics().response_handles == 2
            later = await session.create_response()  # room once `queued` is sent
            for handle in (running, queued, later):
                assert (await handle.done()).status == "completed"
            assert session.statistics().response_handles == 0
