"""livekit-plugins-openai's beta ``RealtimeModelBeta`` (livekit-agents 1.2), used directly.

It asks for every reply with ``generate_reply()``, whose ``response.create`` carries
``"instructions": null``, and keeps its chat context in step with the server through
``conversation.item.create``. A server ``error`` becomes an ``error`` event of the session,
which fails the scenario. The checks read the raw server events the session forwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
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
from livekit import rtc
from livekit.agents import function_tool, llm
from livekit.plugins.openai.realtime import RealtimeModelBeta

URL, AUDIO = arguments()
BASE_URL = URL.replace("ws://", "http://", 1).removesuffix("/realtime")


@function_tool
async def get_weather(city: str) -> str:
    """The weather in a city."""
    return weather(city)


class Peer:
    """One livekit session and what went over its wire."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.model = RealtimeModelBeta(
            model=MODEL, api_key=KEY, base_url=BASE_URL, http_session=http
        )
        self.session = self.model.session()
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.session.on("openai_server_event_received", self.received.append)
        self.session.on("openai_client_event_queued", self.sent.append)
        self.session.on("error", self.errors.append)

    async def until(
        self, matches: Callable[[dict[str, Any]], bool], after: int = 0
    ) -> dict[str, Any]:
        """The first received event from index ``after`` on that ``matches``."""
        while True:
            check(not self.errors, f"session error: {self.errors and self.errors[0].error}")
            for event in self.received[after:]:
                if matches(event):
                    return event
            await asyncio.sleep(0.01)

    async def say(self, text: str) -> None:
        context = self.session.chat_ctx.copy()
        context.add_message(role="user", content=text)
        await self.session.update_chat_ctx(context)

    async def reply(self) -> dict[str, Any]:
        """``generate_reply()``, then its ``response.done``."""
        mark = len(self.received)
        generation = await self.session.generate_reply()
        check(generation.user_initiated, "the reply was not matched to its request")
        return await self.until(lambda e: e["type"] == "response.done", after=mark)

    async def close(self) -> None:
        await self.session.aclose()


def _transcript(done: dict[str, Any]) -> str:
    (item,) = done["response"]["output"]
    return "".join(part.get("transcript") or part.get("text") or "" for part in item["content"])


async def _with_peer(body: Callable[[Peer], Any]) -> str:
    async with aiohttp.ClientSession() as http:
        peer = Peer(http)
        try:
            await peer.until(lambda e: e["type"] == "session.created")
            result: str = await body(peer)
            return result
        finally:
            await peer.close()


async def text_turn() -> str:
    async def body(peer: Peer) -> str:
        await peer.say(TEXT)
        done = await peer.reply()
        check(done["response"]["status"] == "completed", "response not completed")
        check(_transcript(done) == TEXT_REPLY, f"reply {_transcript(done)!r}")
        (create,) = [e for e in peer.sent if e["type"] == "response.create"]
        check(create["response"]["instructions"] is None, "instructions were not null")
        return f"generate_reply() with instructions null answered: {_transcript(done)!r}"

    return await _with_peer(body)


async def audio_turn() -> str:
    async def body(peer: Peer) -> str:
        await peer.until(lambda e: e["type"] == "session.updated")
        for start in range(0, len(AUDIO), 4800):
            chunk = AUDIO[start : start + 4800]
            frame = rtc.AudioFrame(
                data=chunk, sample_rate=24000, num_channels=1, samples_per_channel=len(chunk) // 2
            )
            peer.session.push_audio(frame)
        done = await peer.until(lambda e: e["type"] == "response.done")
        check(done["response"]["status"] == "completed", "response not completed")
        heard = await peer.until(
            lambda e: e["type"] == "conversation.item.input_audio_transcription.completed"
        )
        return f"user said {heard['transcript']!r}; reply {_transcript(done)!r}"

    return await _with_peer(body)


async def tool_round_trip() -> str:
    async def body(peer: Peer) -> str:
        await peer.session.update_tools([get_weather])
        await peer.say(TOOL_ASK)
        done = await peer.reply()
        (call,) = done["response"]["output"]
        check(call["type"] == "function_call", f"output {call['type']}")
        output = weather(json.loads(call["arguments"])["city"])
        context = peer.session.chat_ctx.copy()
        context.insert(
            llm.FunctionCallOutput(
                call_id=call["call_id"], name=call["name"], output=output, is_error=False
            )
        )
        await peer.session.update_chat_ctx(context)
        done = await peer.reply()
        check(done["response"]["status"] == "completed", "follow-up not completed")
        check(_transcript(done) == TOOL_REPLY, f"follow-up {_transcript(done)!r}")
        return f"{call['name']}({call['arguments']}) answered: {_transcript(done)!r}"

    return await _with_peer(body)


asyncio.run(run_scenarios({"text": text_turn, "audio": audio_turn, "tool": tool_round_trip}))
