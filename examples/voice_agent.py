"""A voice agent with a tool and barge-in: offline, or --url URL (key in API_KEY)."""

import argparse
import os

import trio

import trio_realtime as rt
from trio_realtime.audio import silence, speech_like
from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server


@rt.tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny, 22 degrees in {city}"


async def agent(url: str, api_key: str | None) -> None:
    async with rt.connect(
        model="gpt-4o-realtime-preview", url=url, api_key=api_key, tools=[get_weather]
    ) as session:
        await session.create_item(rt.ConversationItem.user_text("Paris? get_weather city=Paris"))
        await session.create_response()  # a tool call: the session answers it, asks again
        played: dict[str, int] = {}  # bytes played per item, by a speaker with no buffer
        async for event in session:
            match event:
                case rt.ResponseAudioDelta(item_id=item) if not session.playback.interrupted(item):
                    played[item] = played.get(item, 0) + len(event.pcm)  # play(event.pcm)
                    session.playback.played_bytes(item, played[item])
                    if played[item] >= 48_000 and len(played) == 1:  # 1 s in, the user talks
                        await session.stream_audio(speech_like(900) + silence(800))
                case rt.PlaybackInterrupted(item_id=item, audio_end_ms=ms):
                    print(f"barge-in: stopped {item} at {ms} ms")
                case rt.ResponseAudioTranscriptDone(transcript=text):
                    print("assistant:", text)
                case rt.ResponseDone(response=r) if len(played) > 1 and r.status == "completed":
                    break  # the answer to what the user said


async def main(url: str | None) -> None:
    if url is not None:  # api_key=None: connect() reads API_KEY, then OPENAI_API_KEY
        await agent(url, None)
    else:  # offline: the local reference server, paced like the live service
        async with open_local_server(engine=SimulatedEngine.realistic()) as server:
            await agent(server.url, "sk-local")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a Realtime server (default: a local one, offline)")
    url = parser.parse_args().url
    if url and not (os.environ.get("API_KEY") or os.environ.get("OPENAI_API_KEY")):
        parser.error("--url needs a key in API_KEY (or OPENAI_API_KEY)")
    trio.run(main, url)
