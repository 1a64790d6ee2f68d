"""A text turn with trio-realtime: offline against a local server, or --url URL (key in API_KEY)."""

import argparse
import os

import trio

import trio_realtime as rt
from trio_realtime.testing import open_local_server


async def ask(url: str, api_key: str | None, question: str) -> None:
    async with rt.connect(model="gpt-4o-realtime-preview", url=url, api_key=api_key) as session:
        # Text only, no voice activity detection; the server applies events in order.
        await session.update_session(rt.Session(modalities=["text"], turn_detection=None))
        await session.create_item(rt.ConversationItem.user_text(question))
        reply = await session.create_response()  # a handle on this response
        async for delta in reply:
            print(delta.delta, end="", flush=True)
        result = await reply.done()
        print(f"\n[{result.status}, {result.usage.total_tokens if result.usage else 0} tokens]")


async def main(url: str | None) -> None:
    if url is not None:  # api_key=None: connect() reads API_KEY, then OPENAI_API_KEY
        await ask(url, None, "What is trio?")
    else:
        async with open_local_server() as server:  # offline: the local reference server
            await ask(server.url, "sk-local", "What is trio?")  # it takes any key


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a Realtime server (default: a local one, offline)")
    url = parser.parse_args().url
    if url and not (os.environ.get("API_KEY") or os.environ.get("OPENAI_API_KEY")):
        parser.error("--url needs a key in API_KEY (or OPENAI_API_KEY)")
    trio.run(main, url)
