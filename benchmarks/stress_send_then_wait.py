"""Send-then-wait races: many short sessions, each asking for an answer the moment it sends.

Each session is the README's first lines: ``connect``, ``update_session(...)``, then
``wait_for(SessionUpdated, timeout=...)``, and in the same session ``request(SessionUpdate)``
and ``request(ConversationItemCreate)``: three answers awaited per session. The reference
server runs in a process of its own (``trio-realtime serve --port 0``), so its answer can
arrive at the client's very next I/O poll, the race a send that checkpoints *after* its
write loses now and then (1-2 % of sessions on ``ws://`` before issue 13). A missed answer
shows as a ``TooSlowError``.

Run: ``python benchmarks/stress_send_then_wait.py [--sessions 2000] [--concurrency 50]
[--timeout 5] [--json PATH]``. Prints one table; exits 1 if any answer was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import trio

import trio_realtime as rt

KEY = "sk-stress"


def start_server() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, line.split("listening on ", 1)[1].strip()


async def one_session(url: str, within: float, counts: dict[str, int]) -> None:
    try:
        async with rt.connect(model="gpt-4o-realtime-preview", url=url, api_key=KEY) as session:
            await session.update_session(rt.Session(instructions="stress", turn_detection=None))
            try:
                await session.wait_for(rt.SessionUpdated, timeout=within)
                counts["wait_for answered"] += 1
            except trio.TooSlowError:
                counts["wait_for missed"] += 1
            if not hasattr(session, "request"):
                return  # a version before request() (to measure its wait_for alone)
            try:
                await session.request(rt.SessionUpdate(session=rt.Session()), timeout=within)
                await session.request(
                    rt.ConversationItemCreate(item=rt.ConversationItem.user_text("hi")),
                    timeout=within,
                )
                counts["request answered"] += 2
            except trio.TooSlowError:
                counts["request missed"] += 1
    except (rt.ConnectionClosed, rt.HandshakeError, OSError) as exc:
        counts[f"failed: {type(exc).__name__}"] = counts.get(f"failed: {type(exc).__name__}", 0) + 1


async def run(url: str, sessions: int, concurrency: int, within: float) -> dict[str, int]:
    counts = {
        "wait_for answered": 0,
        "wait_for missed": 0,
        "request answered": 0,
        "request missed": 0,
    }
    limiter = trio.CapacityLimiter(concurrency)

    async def guarded() -> None:
        async with limiter:
            await one_session(url, within, counts)

    async with trio.open_nursery() as nursery:
        for _ in range(sessions):
            nursery.start_soon(guarded)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    server, url = start_server()
    try:
        start = time.monotonic()
        counts = trio.run(run, url, args.sessions, args.concurrency, args.timeout)
        elapsed = time.monotonic() - start
    finally:
        server.terminate()
        server.wait(10)
    missed = counts["wait_for missed"] + counts["request missed"]
    print(f"{args.sessions} sessions, {args.concurrency} at a time, {elapsed:.1f} s")
    for name, value in counts.items():
        print(f"  {name:<24} {value:>8,}")
    print(f"  {'missed answers':<24} {missed:>8,}")
    report: dict[str, Any] = {
        "sessions": args.sessions,
        "seconds": elapsed,
        **counts,
        "missed": missed,
    }
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
