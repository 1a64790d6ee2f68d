"""The official openai SDK's GA realtime client runs whole sessions against the reference server.

``AsyncOpenAI(...).realtime.connect(model=...)`` (asyncio, websockets, pydantic) sends no beta
marker, so the server speaks GA to it. Every frame it receives must validate strictly against
the SDK's own GA pydantic models (``openai.types.realtime``) and against the head OpenAPI
snapshot's GA schemas, and must decode to a known event through our GA decoder. The scenarios
are the issue's: text, audio with server VAD, tool, cancel, truncate, transcription (plus a
manual commit).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from openai.types.realtime import RealtimeServerEvent
from protocol_data import ga_schema_errors
from pydantic import TypeAdapter
from sdk_peer import (
    WEATHER_TOOL,
    Checked,
    cancel_a_running_response_twice,
    run_checked_session,
    stream_audio,
)

import trio_realtime as rt
from trio_realtime._core._dialects import GA
from trio_realtime.audio import silence, speech_like

SDK_SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
MODEL = "gpt-realtime"


def check_frame(raw: bytes) -> Any:
    """The SDK's GA event for ``raw``, validated three ways: the SDK's own GA pydantic models
    (strictly), the head snapshot's GA schemas, and our GA decoder (a known event)."""
    event = SDK_SERVER_EVENT.validate_json(raw, strict=True)
    assert ga_schema_errors(orjson.loads(raw)) == [], raw[:300]
    assert not isinstance(GA.decode_server_event(raw), rt.UnknownEvent)
    return event


def run_sdk_session(
    url: str, body: Callable[[Checked], Awaitable[None]], *, transcription: bool = False
) -> list[str]:
    """Run ``body`` on a GA SDK connection to ``url`` (within 30 s); return the types seen."""
    where: dict[str, Any] = (
        {"extra_query": {"intent": "transcription"}} if transcription else {"model": MODEL}
    )

    def opened(first: Any) -> None:
        assert first.session.type == ("transcription" if transcription else "realtime")

    return run_checked_session(
        url,
        lambda client: client.realtime.connect(**where, max_retries=0),
        check_frame,
        body,
        opened,
    )


USER_HELLO = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "hello there"}],
}


def test_ga_sdk_updates_the_session_and_runs_a_text_turn(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
                "instructions": "Be brief.",
            }
        )
        (updated,) = await conn.until("session.updated")
        assert updated.session.audio.input.turn_detection is None
        assert updated.session.output_modalities == ["text"]
        assert updated.session.instructions == "Be brief."
        await conn.connection.conversation.item.create(item=USER_HELLO)
        added, done = await conn.until("conversation.item.done")
        assert added.type == "conversation.item.added"
        assert added.item.id == done.item.id
        await conn.connection.response.create()
        events = await conn.until("response.done")
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        (finished,) = [e for e in events if e.type == "response.output_text.done"]
        assert text == finished.text == "You said: hello there"
        (item_done,) = [e for e in events if e.type == "conversation.item.done"]
        assert item_done.item.content[0].type == "output_text"
        assert events[-1].response.status == "completed"
        assert events[-1].response.output_modalities == ["text"]

    seen = run_sdk_session(fast_server, body)
    assert not any(t.startswith(("response.text.", "response.audio")) for t in seen)
    assert "conversation.item.created" not in seen


def test_ga_sdk_runs_an_audio_turn_with_server_vad_then_truncates_the_reply(
    fast_server: str,
) -> None:
    async def body(conn: Checked) -> None:
        await stream_audio(conn, silence(500) + speech_like(1000) + silence(1000))
        events = await conn.until("response.done")
        types = [e.type for e in events]
        assert types[:5] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        user_item = events[0].item_id
        assert {events[1].item_id, events[2].item_id, events[3].item.id} == {user_item}
        audio = b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
        )
        assert audio
        assert len(audio) % 2 == 0
        transcript = "".join(
            e.delta for e in events if e.type == "response.output_audio_transcript.delta"
        )
        assert transcript
        done = events[-1].response
        assert done.status == "completed"
        assert done.output[0].content[0].type == "output_audio"
        assert done.audio.output.format.type == "audio/pcm"
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


def test_ga_sdk_runs_a_manual_commit_turn(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        await conn.until("session.updated")
        await stream_audio(conn, speech_like(600))
        await conn.connection.input_audio_buffer.commit()
        committed, added, done = await conn.until("conversation.item.done")
        assert committed.type == "input_audio_buffer.committed"
        assert added.item.id == done.item.id == committed.item_id
        await conn.connection.response.create(response={"output_modalities": ["text"]})
        events = await conn.until("response.done")
        assert events[-1].response.status == "completed"
        assert not any(e.type.startswith("input_audio_buffer.speech") for e in events)

    run_sdk_session(fast_server, body)


def test_ga_sdk_cancels_a_running_response(paced_server: str) -> None:
    story = {**USER_HELLO, "content": [{"type": "input_text", "text": "tell me a story"}]}

    async def body(conn: Checked) -> None:
        await cancel_a_running_response_twice(conn, story)

    run_sdk_session(paced_server, body)


def test_ga_sdk_runs_a_function_call_round_trip(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(
            session={"type": "realtime", "tools": [WEATHER_TOOL], "output_modalities": ["text"]}
        )
        await conn.until("session.updated")
        ask = {**USER_HELLO, "content": [{"type": "input_text", "text": "get_weather city=Paris"}]}
        await conn.connection.conversation.item.create(item=ask)
        await conn.connection.response.create()
        events = await conn.until("response.done")
        (arguments,) = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert arguments.name == "get_weather"
        assert orjson.loads(arguments.arguments) == {"city": "Paris"}
        assert not any(e.type.startswith("response.content_part") for e in events)
        await conn.connection.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": arguments.call_id,
                "output": '{"sky":"clear"}',
            }
        )
        await conn.until("conversation.item.done")
        await conn.connection.response.create()
        events = await conn.until("response.done")
        (text,) = [e for e in events if e.type == "response.output_text.done"]
        assert text.text == 'get_weather returned: {"sky":"clear"}'

    run_sdk_session(fast_server, body)


def test_ga_sdk_runs_a_transcription_session(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                    }
                },
                "include": ["item.input_audio_transcription.logprobs"],
            }
        )
        (updated,) = await conn.until("session.updated")
        assert updated.session.type == "transcription"
        assert updated.session.audio.input.transcription.model == "gpt-4o-transcribe"
        await stream_audio(conn, silence(300) + speech_like(1200) + silence(800))
        events = await conn.until("conversation.item.input_audio_transcription.completed")
        (committed,) = [e for e in events if e.type == "input_audio_buffer.committed"]
        completed = events[-1]
        assert completed.item_id == committed.item_id
        deltas = [e for e in events if e.type.endswith("input_audio_transcription.delta")]
        assert "".join(d.delta for d in deltas) == completed.transcript
        assert completed.logprobs
        await conn.connection.response.create()
        error = (await conn.until("error"))[-1]
        assert error.error.param == "type"

    seen = run_sdk_session(fast_server, body, transcription=True)
    assert not any(t.startswith("response.") for t in seen)
    assert not any(t.startswith("transcription_session.") for t in seen)


def test_ga_sdk_gets_errors_with_ga_paths(fast_server: str) -> None:
    async def body(conn: Checked) -> None:
        await conn.connection.send(
            {"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}}
        )
        (error,) = await conn.until("error")
        assert (error.error.code, error.error.param) == ("unknown_parameter", "session.modalities")
        await conn.connection.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 7}}},
                },
            }
        )
        (error,) = await conn.until("error")
        assert error.error.param == "session.audio.input.turn_detection.threshold"
        await conn.connection.send({"type": "transcription_session.update", "session": {}})
        (error,) = await conn.until("error")
        assert error.error.param == "type"
        assert "transcription_session.update" not in error.error.message.split("values are")[1]

    run_sdk_session(fast_server, body)
