"""A voice agent with a tool and barge-in, against ``trio-realtime serve --realistic``."""

import sys

import trio

import trio_realtime as rt
from trio_realtime.audio import silence, speech_like


@rt.tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny, 22 degrees in {city}"


async def agent(url: str) -> None:
    async with rt.connect(model="gpt-4o-realtime-preview", url=url, api_key="sk-local",
                          tools=[get_weather]) as session:  # fmt: skip
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


if __name__ == "__main__":  # python examples/voice_agent.py [--url URL]
    url = sys.argv[sys.argv.index("--url") + 1] if "--url" in sys.argv else None
    trio.run(agent, url or "ws://127.0.0.1:8765/v1/realtime")
