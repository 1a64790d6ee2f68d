"""``bench_session.py``'s replay peer: one recorded response, replayed at almost no CPU cost.

It runs in a process of its own (``bench_session.py --replay-peer URL``), so that against it
the client under test is the bottleneck.
"""

from __future__ import annotations

import json

from .workload import KEY, MODEL, RESPONSE, USER_ITEM

__all__ = ["replay_peer"]


def _frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame, as a server sends it."""
    data = text.encode()
    n = len(data)
    if n < 126:
        head = bytes([0x81, n])
    elif n < 1 << 16:
        head = bytes([0x81, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 127]) + n.to_bytes(8, "big")
    return head + data


async def _record(url: str) -> tuple[str, str, bytes, str, str]:
    """One response of the receive workload from the reference server, as raw frames."""
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}
    async with connect(
        f"{url}?model={MODEL}", additional_headers=headers, max_size=None, compression=None
    ) as ws:
        created = str(await ws.recv())
        await ws.send(json.dumps({"type": "conversation.item.create", "item": USER_ITEM}))
        item_created = str(await ws.recv())
        await ws.send(json.dumps({"type": "response.create", "response": RESPONSE}))
        frames = []
        while not frames or json.loads(frames[-1])["type"] != "response.done":
            frames.append(str(await ws.recv()))
    response_id = json.loads(frames[0])["response"]["id"]
    item_id = next(e["item"]["id"] for e in map(json.loads, frames) if "item" in e)
    return created, item_created, b"".join(map(_frame, frames)), response_id, item_id


async def replay_peer(server_url: str) -> None:
    """Serve recorded frames at almost no CPU cost per event, so the client sets the pace.

    Each ``response.create`` gets the recorded response in one socket write (bypassing
    websockets' send path, which would cost microseconds per frame), with fresh response and
    item ids of the same length so every response is a new one. Everything else is read
    and dropped: audio appends, ``session.update``, ``input_audio_buffer.clear``.
    """
    import asyncio

    from websockets.asyncio.server import ServerConnection, serve

    created, item_created, blob, response_id, item_id = await _record(server_url)
    old_response, old_item, count = response_id.encode(), item_id.encode(), 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal count
        await ws.send(created)
        async for message in ws:
            kind = json.loads(message)["type"]
            if kind == "conversation.item.create":
                await ws.send(item_created)
            elif kind == "response.create":
                count += 1
                tag = f"{count:08d}".encode()
                fresh = blob.replace(old_response, old_response[:-8] + tag)
                ws.transport.write(fresh.replace(old_item, old_item[:-8] + tag))

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}/v1/realtime", flush=True)
        await asyncio.Future()
