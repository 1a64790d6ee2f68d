"""Response handles work with any beta server, and nothing waits without a bound.

The stand-in here behaves as speaches (speaches-ai/speaches) does: it echoes no response
``metadata``, answers a ``response.create`` that carries some with an ``error`` naming no
event ("Specifying `response.metadata` is not supported...") and then runs the response
anyway. The README's quickstart and the tool loop must still work against it. A server
that never answers a request at all fails that request's handle after ``request_timeout``,
with a message that says what was awaited, and the queue moves on.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import trio
import trio.testing
from fake_server import ServerConnection, client, fake_server, never_answers, session_created

import trio_realtime as rt

_ids = itertools.count(1)


def _new(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


def speaches_like(metadata: str) -> Any:
    """A script: ``metadata`` is ``"absent"`` (responses carry no such key) or ``"null"``."""

    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        items: list[dict[str, Any]] = []
        async for event in conn.events():
            kind = event["type"]
            if kind == "session.update":
                await conn.send(
                    {"type": "session.updated", "event_id": _new("e"), "session": event["session"]}
                )
            elif kind == "conversation.item.create":
                item = {**event["item"], "id": event["item"].get("id") or _new("item")}
                items.append(item)
                await conn.send(
                    {"type": "conversation.item.created", "event_id": _new("e"), "item": item}
                )
            elif kind == "response.create":
                config = event.get("response") or {}
                if config.get("metadata") is not None:
                    await conn.send(
                        {
                            "type": "error",
                            "event_id": _new("e"),
                            "error": {
                                "type": "invalid_request_error",
                                "message": "Specifying `response.metadata` is not supported. The "
                                "server either does not support this field or it is not configurable.",
                            },
                        }
                    )
                await respond(conn, items, metadata)

    return script


async def respond(conn: ServerConnection, items: list[dict[str, Any]], metadata: str) -> None:
    response_id = _new("resp")
    response: dict[str, Any] = {
        "id": response_id,
        "object": "realtime.response",
        "status": "incomplete",
        "output": [],
    }
    if metadata == "null":
        response["metadata"] = None
    await conn.send({"type": "response.created", "event_id": _new("e"), "response": response})
    last = items[-1] if items else {}
    if last.get("type") == "message" and "get_weather" in str(last.get("content")):
        call = {
            "type": "function_call",
            "id": _new("item"),
            "call_id": _new("call"),
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        }
        await conn.send(
            {
                "type": "response.output_item.added",
                "event_id": _new("e"),
                "response_id": response_id,
                "output_index": 0,
                "item": call,
            }
        )
        output = [call]
    else:
        text = "You said: " + (
            last["content"][0]["text"]
            if last.get("type") == "message"
            else f"tool said {last.get('output')}"
        )
        item_id = _new("item")
        for start in range(0, len(text), 4):
            await conn.send(
                {
                    "type": "response.text.delta",
                    "event_id": _new("e"),
                    "response_id": response_id,
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text[start : start + 4],
                }
            )
        output = [
            {
                "type": "message",
                "id": item_id,
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "text", "text": text}],
            }
        ]
    done = {**response, "status": "completed", "output": output}
    await conn.send({"type": "response.done", "event_id": _new("e"), "response": done})


@pytest.mark.parametrize("metadata", ["absent", "null"])
async def test_the_quickstart_works_against_a_server_that_refuses_metadata(metadata: str) -> None:
    with trio.fail_after(10):
        async with fake_server(speaches_like(metadata)) as server, client(server) as session:
            await session.update_session(rt.Session(modalities=["text"], turn_detection=None))
            await session.wait_for(rt.SessionUpdated, timeout=10)
            for question in ("What is trio?", "And nurseries?"):
                await session.create_item(rt.ConversationItem.user_text(question))
                reply = await session.create_response()
                text = "".join([delta.delta async for delta in reply])  # type: ignore[union-attr]
                result = await reply.done()
                assert text == result.text == f"You said: {question}"
                assert result.status == "completed"
            stats = session.statistics()
    sent = [e for e in server.connections[0].received if e["type"] == "response.create"]
    assert "metadata" in sent[0]["response"]  # the first request carried the tag...
    assert "metadata" not in sent[1]["response"]  # ...which the session stopped sending
    assert stats.errors_handled == 1  # the refusal of its own tag: handled, not delivered
    assert stats.response_handles == stats.queued_responses == 0


@rt.tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny in {city}"


async def test_the_tool_loop_goes_on_against_a_server_that_refuses_metadata() -> None:
    with trio.fail_after(10):
        async with (
            fake_server(speaches_like("absent")) as server,
            client(server, tools=[get_weather]) as session,
        ):
            await session.create_item(rt.ConversationItem.user_text("weather? get_weather"))
            with session.watch_responses() as responses:
                first = await session.create_response()
                await first.done()
                follow_up = await responses.receive()
                follow_up = await responses.receive() if follow_up is first else follow_up
                assert follow_up.origin == "tool_followup"
                result = await follow_up.done()
    assert result.text == "You said: tool said sunny in Paris"
    kinds = [e["type"] for e in server.connections[0].received]
    assert kinds.count("response.create") == 2


async def test_a_request_the_server_never_answers_fails_after_request_timeout_and_frees_the_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        fake_server(never_answers("busy", "try later"), transport="memory") as server,
        client(server, request_timeout=5) as session,
    ):
        await session.wait_for(rt.ErrorEvent)
        first = await session.create_response(event_id="evt_first")
        second = await session.create_response()  # queued behind the first
        assert second.request is None
        start = trio.current_time()
        with pytest.raises(trio.TooSlowError) as info:
            await first.done()
        assert trio.current_time() - start == pytest.approx(5)
        assert str(info.value) == (
            "no response.created (nor error) for response.create evt_first within 5 s; "
            "last server error: busy: try later"
        )
        with pytest.raises(trio.TooSlowError):
            async for _ in first:
                pass
        await trio.testing.wait_all_tasks_blocked()
        assert second.request is not None  # the queue moved on
        with pytest.raises(trio.TooSlowError, match=r"not done within 1 s \(0 deltas so far\)"):
            await second.done(timeout=1)
        with pytest.raises(trio.TooSlowError):
            await second.done()  # its own request_timeout
        assert session.statistics().response_handles == 0
