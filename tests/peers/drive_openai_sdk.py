"""The openai Python SDK's beta realtime client (``client.beta.realtime.connect``).

Every frame is parsed by the SDK into its pydantic models (``connection.recv()``), so a
frame the SDK cannot read fails the scenario.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from _driver import (
    KEY,
    MODEL,
    TEXT,
    TEXT_REPLY,
    TOOL_ASK,
    TOOL_PARAMETERS,
    TOOL_REPLY,
    arguments,
    check,
    run_scenarios,
    weather,
)
from openai import AsyncOpenAI

URL, AUDIO = arguments()


def _client() -> AsyncOpenAI:
    return AsyncOpenAI(api_key=KEY, websocket_base_url=URL.removesuffix("/realtime"))


async def _until(connection: Any, event_type: str) -> list[Any]:
    events = []
    while True:
        event = await connection.recv()
        check(event.type != "error", f"server error: {getattr(event, 'error', event)}")
        events.append(event)
        if event.type == event_type:
            return events


def _user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def text_turn() -> str:
    async with _client().beta.realtime.connect(model=MODEL) as connection:
        await _until(connection, "session.created")
        await connection.session.update(session={"modalities": ["text"], "turn_detection": None})
        await _until(connection, "session.updated")
        await connection.conversation.item.create(item=_user_text(TEXT))
        await connection.response.create()
        events = await _until(connection, "response.done")
        text = "".join(e.delta for e in events if e.type == "response.text.delta")
        check(text == TEXT_REPLY, f"reply text {text!r}")
        check(events[-1].response.status == "completed", "response not completed")
        return f"{len(events)} events, text {text!r}"


async def audio_turn() -> str:
    async with _client().beta.realtime.connect(model=MODEL) as connection:
        await _until(connection, "session.created")
        await connection.session.update(
            session={"input_audio_transcription": {"model": "whisper-1"}}
        )
        await _until(connection, "session.updated")
        for start in range(0, len(AUDIO), 4800):  # 100 ms appends
            chunk = AUDIO[start : start + 4800]
            await connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        events = await _until(connection, "response.done")
        kinds = [e.type for e in events]
        check("input_audio_buffer.speech_stopped" in kinds, "no speech_stopped")
        audio = sum(
            len(base64.b64decode(e.delta)) for e in events if e.type == "response.audio.delta"
        )
        check(audio > 0, "no reply audio")
        check(events[-1].response.status == "completed", "response not completed")
        user = next(e.item_id for e in events if e.type == "input_audio_buffer.committed")
        transcript = next(
            (
                e.transcript
                for e in events
                if e.type == "conversation.item.input_audio_transcription.completed"
            ),
            None,
        )
        if transcript is None:  # transcripts may come after the reply
            done = await _until(connection, "conversation.item.input_audio_transcription.completed")
            transcript = done[-1].transcript
            check(done[-1].item_id == user, "transcript for another item")
        return f"{audio / 48:.0f} ms of reply audio; user said {transcript!r}"


async def tool_round_trip() -> str:
    async with _client().beta.realtime.connect(model=MODEL) as connection:
        await _until(connection, "session.created")
        tool = {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": TOOL_PARAMETERS,
        }
        await connection.session.update(
            session={"modalities": ["text"], "turn_detection": None, "tools": [tool]}
        )
        await _until(connection, "session.updated")
        await connection.conversation.item.create(item=_user_text(TOOL_ASK))
        await connection.response.create()
        events = await _until(connection, "response.done")
        (call,) = [i for i in events[-1].response.output if i.type == "function_call"]
        check(call.name == "get_weather", f"called {call.name!r}")
        city = json.loads(call.arguments)["city"]
        await connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": call.call_id, "output": weather(city)}
        )
        await connection.response.create()
        events = await _until(connection, "response.done")
        text = "".join(e.delta for e in events if e.type == "response.text.delta")
        check(text == TOOL_REPLY, f"follow-up text {text!r}")
        return f"get_weather({call.arguments}) answered: {text!r}"


asyncio.run(run_scenarios({"text": text_turn, "audio": audio_turn, "tool": tool_round_trip}))
