"""Twenty lines of trio-realtime: a text turn, against any server (default: an embedded one)."""

import sys

import trio

import trio_realtime as rt
from trio_realtime.testing import open_local_server


async def ask(url: str, question: str) -> None:
    async with rt.connect(model="gpt-4o-realtime-preview", url=url, api_key="sk-local") as session:
        await session.update_session(rt.Session(modalities=["text"], turn_detection=None))
        await session.wait_for(rt.SessionUpdated, timeout=10)
        await session.create_item(rt.ConversationItem.user_text(question))
        reply = await session.create_response()  # a handle on this response
        async for delta in reply:
            print(delta.delta, end="", flush=True)
        result = await reply.done()
        print(f"\n[{result.status}, {result.usage.total_tokens if result.usage else 0} tokens]")


async def main() -> None:
    if "--url" in sys.argv:
        await ask(sys.argv[sys.argv.index("--url") + 1], "What is trio?")
    else:
        async with open_local_server() as server:  # offline: the local reference server
            await ask(server.url, "What is trio?")


if __name__ == "__main__":
    trio.run(main)
