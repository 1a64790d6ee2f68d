"""A peer no one here wrote runs whole sessions against the reference server.

The official ``openai`` SDK's beta realtime client (asyncio, websockets, pydantic) connects to
``trio-realtime serve`` in a child process. Every frame it receives must validate strictly
against the SDK's own pydantic models and against the relaxed spec schemas, and decode to a
known trio_realtime event.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from openai.types.beta.realtime import RealtimeServerEvent
from protocol_data import schema_errors
from pydantic import TypeAdapter
from sdk_peer import (
    WEATHER_TOOL,
    Checked,
    cancel_a_running_response_twice,
    run_checked_session,
    stream_audio,
)

import trio_realtime as rt
from trio_realtime.audio import silence, speech_like

SDK_SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
MODEL = "gpt-4o-realtime-preview"


def check_frame(raw: bytes) -> Any:
    """The SDK's event for ``raw``, validated three ways: the SDK's own pydantic models
    (strictly), the relaxed spec schemas, and our decoder (a known event)."""
    event = SDK_SERVER_EVENT.validate_json(raw, strict=True)
    assert schema_errors(orjson.loads(raw)) == [], raw[:300]
    assert not isinstance(rt.decode(raw), rt.UnknownEvent)
    return event


def run_sdk_session(url: str, body: Callable[[Checked], Awaitable[None]]) -> list[str]:
    """Run ``body`` on an SDK connection to ``url`` (within 30 s); return the event types seen."""
    return run_checked_session(
        url, lambda client: client.beta.realtime.connect(model=MODEL), check_frame, body
    )


def test_sdk_updates_the_session_and_runs_a_text_turn(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(
            session={"modalities": ["text"], "turn_detection": None, "instructions": "Be brief."}
        )
        (updated,) = await conn.until("session.updated")
        assert updated.session.turn_detection is None
        assert updated.session.instructions == "Be brief."
        await conn.connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello there"}],
            }
        )
        await conn.connection.response.create()
        events = await conn.until("response.done")
        text = "".join(e.delta for e in events if e.type == "response.text.delta")
        (done,) = [e for e in events if e.type == "response.text.done"]
        assert text == done.text == "You said: hello there"
        assert events[-1].response.status == "completed"

    seen = run_sdk_session(fast_server, body)
    assert "response.audio.delta" not in seen


def test_sdk_runs_an_audio_turn_with_server_vad_then_truncates_the_reply(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await stream_audio(conn, silence(500) + speech_like(1000) + silence(1000))
        events = await conn.until("response.done")
        types = [e.type for e in events]
        assert types[:4] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.created",
        ]
        user_item = events[0].item_id
        assert {events[1].item_id, events[2].item_id, events[3].item.id} == {user_item}
        audio = b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.audio.delta"
        )
        assert audio
        assert len(audio) % 2 == 0
        done = events[-1].response
        assert done.status == "completed"
        assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens
        assistant_item = done.output[0].id
        await conn.connection.conversation.item.truncate(
            item_id=assistant_item, content_index=0, audio_end_ms=200
        )
        (truncated,) = [
            e
            for e in await conn.until("conversation.item.truncated")
            if e.type.endswith("truncated")
        ]
        assert (truncated.item_id, truncated.audio_end_ms) == (assistant_item, 200)

    run_sdk_session(fast_server, body)


def test_sdk_runs_a_manual_commit_turn(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(session={"turn_detection": None})
        await conn.until("session.updated")
        await stream_audio(conn, speech_like(600))
        await conn.connection.input_audio_buffer.commit()
        committed, created = await conn.until("conversation.item.created")
        assert committed.type == "input_audio_buffer.committed"
        assert created.item.id == committed.item_id
        await conn.connection.response.create(response={"modalities": ["text"]})
        events = await conn.until("response.done")
        assert events[-1].response.status == "completed"
        assert not any(e.type.startswith("input_audio_buffer.speech") for e in events)

    run_sdk_session(fast_server, body)


def test_sdk_cancels_a_running_response(paced_server: str) -> None:
    story = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "tell me a long story"}],
    }

    async def body(conn: Checked) -> None:
        await cancel_a_running_response_twice(conn, story)

    run_sdk_session(paced_server, body)


def test_sdk_runs_a_function_call_round_trip(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(
            session={"tools": [WEATHER_TOOL], "modalities": ["text"]}
        )
        await conn.until("session.updated")
        await conn.connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "please get_weather city=Paris"}],
            }
        )
        await conn.connection.response.create()
        events = await conn.until("response.done")
        (arguments,) = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert orjson.loads(arguments.arguments) == {"city": "Paris"}
        assert not any(e.type.startswith("response.content_part") for e in events)
        await conn.connection.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": arguments.call_id,
                "output": '{"sky":"clear"}',
            }
        )
        await conn.until("conversation.item.created")
        await conn.connection.response.create()
        events = await conn.until("response.done")
        (text,) = [e for e in events if e.type == "response.text.done"]
        assert text.text == 'get_weather returned: {"sky":"clear"}'

    run_sdk_session(fast_server, body)
