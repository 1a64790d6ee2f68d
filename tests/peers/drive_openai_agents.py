"""openai-agents (the beta-era Python framework): ``RealtimeAgent`` and ``RealtimeRunner``.

The framework parses every server frame with the openai SDK's pydantic union and turns a
frame it cannot read into an ``error`` session event, so any ``error`` fails the scenario.
It runs tools itself: it answers the call and asks for the follow-up response.
"""

from __future__ import annotations

from typing import Any

from _driver import (
    KEY,
    MODEL,
    TEXT,
    TEXT_REPLY,
    TOOL_ASK,
    TOOL_REPLY,
    arguments,
    check,
    run_scenarios,
    weather,
)
from agents import function_tool
from agents.realtime import RealtimeAgent, RealtimeRunner

URL, AUDIO = arguments()


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return weather(city)


def _runner(**settings: Any) -> RealtimeRunner:
    agent = RealtimeAgent(name="peer", instructions="Be brief.", tools=[get_weather])
    return RealtimeRunner(agent, config={"model_settings": {"model_name": MODEL, **settings}})


async def _until_done(session: Any, count: int = 1) -> list[dict[str, Any]]:
    """Raw server events up to the ``count``-th ``response.done``; errors fail."""
    raw: list[dict[str, Any]] = []
    async for event in session:
        check(event.type != "error", f"session error: {getattr(event, 'error', event)}")
        if event.type == "raw_model_event" and event.data.type == "raw_server_event":
            raw.append(event.data.data)
            if sum(e["type"] == "response.done" for e in raw) == count:
                return raw
    raise AssertionError("the session ended early")


def _said(raw: list[dict[str, Any]]) -> str:
    return "".join(
        e["delta"]
        for e in raw
        if e["type"] in ("response.text.delta", "response.audio_transcript.delta")
    )


def _config() -> dict[str, Any]:
    return {"url": f"{URL}?model={MODEL}", "api_key": KEY}


async def text_turn() -> str:
    session = await _runner(modalities=["text"]).run(model_config=_config())
    async with session:
        await session.send_message(TEXT)
        raw = await _until_done(session)
    check(_said(raw) == TEXT_REPLY, f"reply {_said(raw)!r}")
    check(raw[-1]["response"]["status"] == "completed", "response not completed")
    return f"{len(raw)} raw events, text {_said(raw)!r}"


async def audio_turn() -> str:
    session = await _runner().run(model_config=_config())  # semantic VAD, audio out
    async with session:
        for start in range(0, len(AUDIO), 4800):
            await session.send_audio(AUDIO[start : start + 4800])
        raw = await _until_done(session)
    kinds = [e["type"] for e in raw]
    check("input_audio_buffer.speech_stopped" in kinds, "no speech_stopped")
    check("response.audio.delta" in kinds, "no reply audio")
    check(raw[-1]["response"]["status"] == "completed", "response not completed")
    return f"{kinds.count('response.audio.delta')} audio deltas, transcript {_said(raw)!r}"


async def tool_round_trip() -> str:
    session = await _runner(modalities=["text"]).run(model_config=_config())
    async with session:
        await session.send_message(TOOL_ASK)
        raw = await _until_done(session, count=2)  # the call, then the follow-up
    outputs = [o for e in raw if e["type"] == "response.done" for o in e["response"]["output"]]
    check(outputs[0]["type"] == "function_call", f"first output {outputs[0]['type']}")
    reply = "".join(e["delta"] for e in raw if e["type"] == "response.text.delta")
    check(reply == TOOL_REPLY, f"follow-up {reply!r}")
    return f"{outputs[0]['name']}({outputs[0]['arguments']}) answered: {reply!r}"


if __name__ == "__main__":
    import asyncio

    asyncio.run(run_scenarios({"text": text_turn, "audio": audio_turn, "tool": tool_round_trip}))
