"""Tools on the wire: whole sessions against the local reference server.

The simulated engine calls each configured tool named in the user's text, with the
``key=value`` pairs after the name as arguments, and answers a run of tool outputs with
``"<name> returned: <output>"`` joined by ``"; "``: so a test can say exactly which calls a
response makes and read back exactly which outputs the model got.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import trio
import trio.testing

import trio_realtime as rt
from trio_realtime._core._tools import tool
from trio_realtime._session._response_handles import ResponseHandle
from trio_realtime._session._session import RealtimeSession
from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server

TEXT_ONLY = rt.Session(modalities=["text"], turn_detection=None)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool
async def get_time(zone: str = "UTC") -> dict[str, str]:
    """The time in a zone."""
    await trio.sleep(0.5)
    return {"zone": zone, "time": "12:00"}


@tool
def explode() -> str:
    """Always fails."""
    raise RuntimeError("kaboom")


@tool
async def slow_lookup() -> str:
    """Takes a minute."""
    await trio.sleep(60)
    return "too late"


#: The same application code, speaking beta and GA to the reference server.
DIALECTS = pytest.mark.parametrize("dialect", ["beta", "ga"])


@asynccontextmanager
async def agent(**kwargs: Any) -> AsyncIterator[tuple[RealtimeSession, list[Any]]]:
    """A session against a fresh local server, with a task reading every event into a list."""
    engine = kwargs.pop("engine", None)
    async with (
        open_local_server(engine=engine) as server,
        rt.connect(model="gpt-realtime", url=server.url, api_key="k", **kwargs) as session,
    ):
        events: list[Any] = []

        async def read() -> None:
            async for event in session:
                events.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            yield session, events
            nursery.cancel_scope.cancel()


async def ask(session: RealtimeSession, text: str) -> None:
    await session.create_item(rt.ConversationItem.user_text(text))


def outputs(session: RealtimeSession) -> list[str | None]:
    return [i.output for i in session.conversation.items if i.type == "function_call_output"]


def of_type(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


@DIALECTS
async def test_connect_sends_the_tools_and_waits_for_the_server_to_have_them(dialect: Any) -> None:
    with trio.fail_after(10):
        async with agent(dialect=dialect, tools=[get_weather, get_time]) as (session, _events):
            assert set(session.tools) == {"get_weather", "get_time"}
            configured = session.conversation.session
            assert configured is not None
            assert isinstance(configured.tools, list)
            assert [t.name for t in configured.tools] == ["get_weather", "get_time"]
            assert configured.tools[0].parameters == get_weather.parameters


@DIALECTS
async def test_every_call_gets_an_output_and_exactly_one_follow_up_is_asked_for(
    autojump_clock: trio.testing.MockClock,
    dialect: Any,
) -> None:
    mystery = rt.Tool(type="function", name="mystery", description="Not ours.", parameters={})
    with trio.fail_after(30):
        async with agent(dialect=dialect, tools=[get_weather, get_time, explode]) as (
            session,
            events,
        ):
            # The server also knows a tool the session does not run.
            defs = [t.definition for t in session.tools.values()]
            await session.update_session(
                rt.Session(modalities=["text"], turn_detection=None, tools=[*defs, mystery])
            )
            await session.wait_for(rt.SessionUpdated)
            with session.watch_responses() as responses:
                await ask(session, "get_weather city=Paris get_time zone=CET explode mystery")
                asked = await session.create_response()
                first = await responses.receive()
                assert first is asked
                result = await first.done()
                assert [c.name for c in result.function_calls] == [
                    "get_weather",
                    "get_time",
                    "explode",
                    "mystery",
                ]
                follow_up = await responses.receive()
                assert follow_up.origin == "tool_followup"
                answer = await follow_up.done()
            assert outputs(session) == [
                "sunny in Paris",
                '{"zone":"CET","time":"12:00"}',
                '{"error":"tool \'explode\' raised RuntimeError: kaboom"}',
                '{"error":"unknown tool \'mystery\' (known: explode, get_time, get_weather)"}',
            ]
            assert answer.text.startswith(
                "get_weather returned: sunny in Paris; get_time returned:"
            )
            # The session lives on: another turn works.
            await ask(session, "thanks")
            last = await (await session.create_response()).done()
            assert last.text == "You said: thanks"
            await trio.sleep(1)  # nothing else happens afterwards
            assert len(of_type(events, rt.ResponseCreated)) == 3
            assert of_type(events, rt.ErrorEvent) == []


async def test_a_slow_tool_times_out_into_an_output_and_the_turn_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(30):
        async with agent(tools=[slow_lookup, get_weather], tool_timeout=2) as (session, _events):
            await session.update_session(TEXT_ONLY)
            await session.wait_for(rt.SessionUpdated)
            start = trio.current_time()
            with session.watch_responses() as responses:
                await ask(session, "slow_lookup please, and get_weather city=Rome")
                await session.create_response(max_deltas=0)
                await (await responses.receive()).done()
                follow_up = await (await responses.receive()).done()
            assert 2 <= trio.current_time() - start < 3  # the timeout, not the tool's minute
            assert orjson.loads(outputs(session)[0] or "") == {
                "error": "tool 'slow_lookup' timed out after 2 s"
            }
            assert outputs(session)[1] == "sunny in Rome"
            assert "slow_lookup returned:" in follow_up.text
            assert session.statistics().tool_calls_running == 0


async def test_a_request_made_while_tools_run_waits_for_their_follow_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(30):
        async with agent(tools=[get_time]) as (session, events):
            await session.update_session(TEXT_ONLY)
            await session.wait_for(rt.SessionUpdated)
            with session.watch_responses() as responses:
                await ask(session, "get_time zone=UTC")
                asked = await session.create_response()
                assert await responses.receive() is asked
                await asked.done()
                # get_time sleeps 0.5 s: ask for another response meanwhile.
                await trio.sleep(0.1)
                assert session.statistics().tool_calls_running == 1
                mine = await session.create_response(rt.ResponseConfig(instructions="again"))
                assert mine.request is None  # queued behind the tools' follow-up
                assert session.statistics().queued_responses == 1
                follow_up = await responses.receive()
                second = await responses.receive()
                assert follow_up.origin == "tool_followup"
                assert second is mine
                await mine.done()
            created = [e.response.id for e in of_type(events, rt.ResponseCreated)]
            assert created[1:] == [follow_up.response_id, mine.response_id]
            assert of_type(events, rt.ErrorEvent) == []


@DIALECTS
async def test_calls_of_a_cancelled_response_are_answered_without_a_follow_up(
    autojump_clock: trio.testing.MockClock,
    dialect: Any,
) -> None:
    engine = SimulatedEngine(text_chars_per_second=10, text_chunk_chars=2)
    with trio.fail_after(30):
        async with agent(dialect=dialect, tools=[get_weather], engine=engine) as (session, events):
            await session.update_session(TEXT_ONLY)
            await session.wait_for(rt.SessionUpdated)
            await ask(session, "get_weather city=Amsterdam")
            handle: ResponseHandle = await session.create_response()
            await session.wait_for(rt.ResponseFunctionCallArgumentsDelta)
            await session.cancel_response()
            result = await handle.done()
            assert result.status == "cancelled"
            await session.wait_for(rt.ConversationItemCreated)  # the output
            await trio.sleep(5)
            assert outputs(session) == [
                '{"error":"not run: the response was cancelled (client_cancelled)"}'
            ]
            assert len(of_type(events, rt.ResponseCreated)) == 1  # no follow-up
            assert of_type(events, rt.ErrorEvent) == []


async def test_set_tools_replaces_what_the_session_runs() -> None:
    with trio.fail_after(10):
        async with agent() as (session, _events):
            assert dict(session.tools) == {}
            update = await session.set_tools([get_weather], tool_timeout=5)
            assert isinstance(update.session.tools, list)
            assert [t.name for t in update.session.tools] == ["get_weather"]
            await session.wait_for(rt.SessionUpdated)
            await session.update_session(TEXT_ONLY)
            await session.wait_for(rt.SessionUpdated)
            with session.watch_responses() as responses:
                await ask(session, "get_weather city=Lima")
                await session.create_response()
                await (await responses.receive()).done()
                assert (await (await responses.receive()).done()).text == (
                    "get_weather returned: sunny in Lima"
                )


async def test_tools_are_refused_before_connecting_when_they_cannot_work() -> None:
    with pytest.raises(ValueError, match="transcription session has no responses"):
        rt.connect(intent="transcription", api_key="k", tools=[get_weather])
    with pytest.raises(ValueError, match="two tools"):
        rt.connect(model="gpt-realtime", api_key="k", tools=[get_weather, get_weather.func])
    with pytest.raises(ValueError, match="tool_timeout"):
        rt.connect(model="gpt-realtime", api_key="k", tools=[get_weather], tool_timeout=0)


async def test_tools_the_server_refuses_fail_the_connect_with_its_message() -> None:
    wordy = tool(get_weather.func)
    wordy.description = "x" * 2000  # past the local check, to see the server's refusal
    with trio.fail_after(10):
        async with open_local_server() as server:
            with pytest.raises(ValueError, match="the server refused the tools: Invalid"):
                async with rt.connect(
                    model="gpt-realtime", url=server.url, api_key="k", tools=[wordy]
                ):
                    pass  # pragma: no cover
