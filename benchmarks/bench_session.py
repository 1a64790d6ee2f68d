"""Session throughput: trio_realtime sessions against the openai SDK's beta realtime client.

Two peers run in processes of their own for the whole run:

* the **reference server** (``trio-realtime serve --port 0``; the default engine streams
  replies as fast as possible). On this 2-core machine kind it spends more CPU per event sent
  than a fast client spends receiving it, so it can set the pace;
* a **replay peer** (asyncio + websockets): it records one response of the workload from the
  reference server at start-up and replays it, with fresh ids, in one socket write per
  ``response.create``; everything the client sends it reads and drops. It costs almost
  nothing per event, so against it the *client* is the bottleneck.

Every client runs in a fresh subprocess, so ``time.process_time()`` there is the client's CPU
and nothing else; the peer's CPU over the same window comes from ``/proc/<pid>/stat``, and
the rest of the machine's (other users' processes: the noise) from ``/proc/stat``.

**receive**: typed events delivered to the application per second. Each session creates one
user message of 500 characters, then asks for one response after another, each out of band
(``conversation: "none"``, so neither side's state grows from response to response) with
``modalities: ["audio", "text"]``. The simulated engine answers ``"You said: <text>"`` with
60 ms of audio per character: about 380 events per response, 306 of them
``response.audio.delta`` (100 ms of pcm16, about 6.6 KB of JSON) and 64
``response.audio_transcript.delta``. The application only counts events (``async for``).

**pump**: audio seconds sent per wall second. Each session turns server VAD off (the server
just buffers) and sends 10 s blocks of speech-like pcm16 in 100 ms appends as fast as the
socket takes them, clearing the server's buffer after each block: ``session.stream_audio(pcm,
realtime=False)`` against the SDK's two ways of appending in a loop (the base64 encoding
included, as the application must do it for the SDK): its public fast path, ``await
connection.send(InputAudioBufferAppendEvent(type=..., audio=b64))``, and its documented
method, ``await connection.input_audio_buffer.append(audio=b64)``.

Contenders, in the same run against the same peers: ``trio_realtime`` (conversation tracking
on, the default), ``trio_realtime`` with ``track_conversation=False``, and the SDK's
``AsyncOpenAI(...).beta.realtime.connect(model=...)`` (``async for event in connection``)
appending each of its two ways (``openai_sdk_send``, ``openai_sdk_append``; they receive alike).
Every ratio is ours over the SDK at its best: the better of its two variants, per figure.
Each runs with 1 and with 8 concurrent sessions in one client process. After a warm-up, one
window is measured; each scenario runs ``--repeats`` times (contenders interleaved, in a
rotating order) and the tables show the medians.

Run: ``python benchmarks/bench_session.py [--seconds 2] [--repeats 3] [--sessions 1,8]
[--json PATH] [--quick] [--profile DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from _session_bench.workload import KEY, MODEL, RESPONSE, USER_ITEM, USER_TEXT

TARGET_VS_SDK: Final = 1.5
KINDS: Final = ("trio_realtime", "trio_realtime_untracked", "openai_sdk_send", "openai_sdk_append")
SDK_KINDS: Final = ("openai_sdk_send", "openai_sdk_append")
CHUNK_MS: Final = 100
BLOCK_MS: Final = 10_000
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
_STOP_GRACE: Final = 10.0


def machine_busy_seconds() -> float:
    """CPU time all cores have spent busy so far (every process), from ``/proc/stat``."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _CLK_TCK  # all but idle and iowait


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


# --- the client side (runs in its own subprocess) ----------------------------------------------


class Tally:
    """What the sessions of one client process share: counters and the stop flag."""

    def __init__(self, sessions: int) -> None:
        self.units = 0.0  # events (receive) or audio milliseconds (pump)
        self.responses = 0
        self.stop = False
        self.waiting = sessions
        self.audio_ms: Callable[[], float] | None = None  # trio_realtime pumps: from statistics()

    def measured(self) -> float:
        return self.audio_ms() if self.audio_ms is not None else self.units


async def measure(
    tally: Tally, spec: dict[str, Any], sleep: Callable[[float], Awaitable[None]]
) -> dict[str, float]:
    """Warm up, then measure one window: units, wall, client CPU and server CPU."""
    await sleep(spec["warmup"])
    pid = spec["server_pid"]
    wall0, cpu0, srv0, busy0, units0 = (
        time.perf_counter(),
        time.process_time(),
        server_cpu_seconds(pid),
        machine_busy_seconds(),
        tally.measured(),
    )
    responses0 = tally.responses
    await sleep(spec["seconds"])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    units, server = tally.measured() - units0, server_cpu_seconds(pid) - srv0
    busy = machine_busy_seconds() - busy0
    tally.stop = True
    return {
        "units": units,
        "wall": wall,
        "cpu": cpu,
        "server_cpu": server,
        # Everything else the machine ran meanwhile (other users' processes): the noise.
        "other_cpu": max(busy - cpu - server, 0.0),
        "responses": tally.responses - responses0,
    }


def speech_block() -> bytes:
    from trio_realtime.audio import speech_like

    return speech_like(BLOCK_MS)


def run_trio_client(spec: dict[str, Any]) -> dict[str, float]:
    import trio

    import trio_realtime as rt

    track = spec["kind"] == "trio_realtime"
    tally = Tally(spec["sessions"])
    everyone_ready = trio.Event()
    item = rt.ConversationItem(
        type="message", role="user", content=[rt.ContentPart(**USER_ITEM["content"][0])]
    )
    response = rt.ResponseConfig(**RESPONSE)
    block = speech_block()
    pumping: list[rt.RealtimeSession] = []
    if spec["workload"] == "pump":
        tally.audio_ms = lambda: sum(s.statistics().audio_ms_sent for s in pumping)

    def ready() -> None:
        tally.waiting -= 1
        if tally.waiting == 0:
            everyone_ready.set()

    async def receive(session: rt.RealtimeSession) -> None:
        await session.create_item(item)
        await session.create_response(response)
        async for event in session:
            tally.units += 1
            kind = event.type
            if kind == "response.done":
                tally.responses += 1
                if tally.stop:
                    return
                await session.create_response(response)
            elif kind == "error":
                raise RuntimeError(f"server error: {event!r}")

    async def drain(session: rt.RealtimeSession) -> None:
        async for event in session:
            if event.type == "error":
                raise RuntimeError(f"server error: {event!r}")

    async def pump(session: rt.RealtimeSession) -> None:
        pumping.append(session)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain, session)
            await session.update_session(rt.Session(turn_detection=None))
            while not tally.stop:
                stream = await session.stream_audio(block, realtime=False, chunk_ms=CHUNK_MS)
                await stream.wait()
                await session.clear_audio()
            nursery.cancel_scope.cancel()

    async def one_session() -> None:
        work = receive if spec["workload"] == "receive" else pump
        async with rt.connect(
            model=MODEL, url=spec["url"], api_key=KEY, track_conversation=track
        ) as session:
            ready()
            await work(session)

    async def main() -> dict[str, float]:
        async with trio.open_nursery() as nursery:
            for _ in range(spec["sessions"]):
                nursery.start_soon(one_session)
            with trio.fail_after(30):
                await everyone_ready.wait()
            result = await measure(tally, spec, trio.sleep)
            nursery.cancel_scope.deadline = trio.current_time() + _STOP_GRACE
        return result

    return trio.run(main)


def run_sdk_client(spec: dict[str, Any]) -> dict[str, float]:
    import asyncio
    import base64

    from openai import AsyncOpenAI
    from openai.types.beta.realtime import InputAudioBufferAppendEvent

    tally = Tally(spec["sessions"])
    block = speech_block()
    step = len(block) * CHUNK_MS // BLOCK_MS
    chunks = [block[i : i + step] for i in range(0, len(block), step)]
    b64encode = base64.b64encode
    client = AsyncOpenAI(api_key=KEY, websocket_base_url=spec["url"].removesuffix("/realtime"))

    async def receive(connection: Any) -> None:
        await connection.conversation.item.create(item=USER_ITEM)
        await connection.response.create(response=RESPONSE)
        async for event in connection:
            tally.units += 1
            kind = event.type
            if kind == "response.done":
                tally.responses += 1
                if tally.stop:
                    return
                await connection.response.create(response=RESPONSE)
            elif kind == "error":
                raise RuntimeError(f"server error: {event!r}")

    async def drain(connection: Any) -> None:
        async for event in connection:
            if event.type == "error":
                raise RuntimeError(f"server error: {event!r}")

    async def pump(connection: Any) -> None:
        drainer = asyncio.create_task(drain(connection))
        try:
            await connection.session.update(session={"turn_detection": None})
            documented = spec["kind"] == "openai_sdk_append"
            append, send = connection.input_audio_buffer.append, connection.send
            while not tally.stop:
                for chunk in chunks:
                    if documented:
                        await append(audio=b64encode(chunk).decode())
                    else:
                        await send(
                            InputAudioBufferAppendEvent(
                                type="input_audio_buffer.append", audio=b64encode(chunk).decode()
                            )
                        )
                    tally.units += CHUNK_MS
                await connection.input_audio_buffer.clear()
                # websockets' send need not suspend; let the reader and the timer run.
                await asyncio.sleep(0)
        finally:
            drainer.cancel()
            await asyncio.gather(drainer, return_exceptions=True)

    async def one_session(ready: asyncio.Event) -> None:
        work = receive if spec["workload"] == "receive" else pump
        async with client.beta.realtime.connect(model=MODEL) as connection:
            tally.waiting -= 1
            if tally.waiting == 0:
                ready.set()
            await work(connection)

    async def main() -> dict[str, float]:
        ready = asyncio.Event()
        tasks = [asyncio.create_task(one_session(ready)) for _ in range(spec["sessions"])]
        await asyncio.wait_for(ready.wait(), 30)
        result = await measure(tally, spec, asyncio.sleep)
        await asyncio.wait_for(asyncio.gather(*tasks), _STOP_GRACE)
        return result

    return asyncio.run(main())


def client_main(specs: list[dict[str, Any]]) -> None:
    """The body of a client subprocess: run scenarios in turn, print the results as JSON."""
    results = []
    for spec in specs:
        run = run_sdk_client if spec["kind"] in SDK_KINDS else run_trio_client
        if spec.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            results.append(profiler.runcall(run, spec))
            profiler.dump_stats(spec["profile"])
        else:
            results.append(run(spec))
    print(json.dumps(results), flush=True)


# --- the orchestrator --------------------------------------------------------------------------


class Child:
    """A child process that prints ``listening on ws://...`` and serves until terminated."""

    def __init__(self, command: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"ws://\S+", line)
        if not match:
            self.close()
            raise RuntimeError(f"{command[2:4]} did not start: {line!r}")
        self.url = match.group(0)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def run_client(specs: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Run scenarios (of one contender) in a fresh client process; their raw results."""
    command = [sys.executable, os.path.abspath(__file__), "--client", json.dumps(specs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"client {specs[0]['kind']} failed:\n{done.stderr[-3000:]}")
    results: list[dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def derive(workload: str, raw: dict[str, float]) -> dict[str, float]:
    """Rates from one measured window."""
    wall, units = raw["wall"], raw["units"]
    out = {
        "client_cpu_percent": 100 * raw["cpu"] / wall,
        "server_cpu_percent": 100 * raw["server_cpu"] / wall,
        "other_cpu_percent": 100 * raw["other_cpu"] / wall,
    }
    if workload == "receive":
        out["events_per_second"] = units / wall
        out["cpu_us_per_event"] = 1e6 * raw["cpu"] / max(units, 1)
        out["events_per_cpu_second"] = units / max(raw["cpu"], 1e-9)
        out["events_per_response"] = units / max(raw["responses"], 1)
    else:
        appends = units / CHUNK_MS
        out["audio_seconds_per_second"] = units / 1000 / wall
        out["appends_per_second"] = appends / wall
        out["cpu_us_per_append"] = 1e6 * raw["cpu"] / max(appends, 1)
        out["audio_seconds_per_cpu_second"] = units / 1000 / max(raw["cpu"], 1e-9)
    return out


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _columns(workload: str) -> tuple[str, str, str, str]:
    if workload == "receive":
        return "events/s", "events_per_second", "CPU µs/event", "cpu_us_per_event"
    return "audio s/s", "audio_seconds_per_second", "CPU µs/append", "cpu_us_per_append"


def ratios(results: dict[str, dict[str, Any]], scenario: str) -> dict[str, Any]:
    """Ours over the SDK at its best in one scenario: rate over the SDK variant with the higher
    rate, CPU efficiency (its cost / ours) against the variant with the lower cost."""
    _, rate, _, cost = _columns(scenario.split("/")[0])
    sdk = {kind: results[f"{scenario}/{kind}"]["median"] for kind in SDK_KINDS}
    fastest = max(SDK_KINDS, key=lambda kind: sdk[kind][rate])
    cheapest = min(SDK_KINDS, key=lambda kind: sdk[kind][cost])
    out: dict[str, Any] = {"sdk_best_rate": fastest, "sdk_best_cost": cheapest}
    for kind, name in (("trio_realtime", "tracked"), ("trio_realtime_untracked", "untracked")):
        ours = results[f"{scenario}/{kind}"]["median"]
        out[f"{name}_{rate}"] = ours[rate] / sdk[fastest][rate]
        out[f"{name}_cpu_efficiency"] = sdk[cheapest][cost] / ours[cost]
    return out


_TITLES: Final = {
    "receive/server": "receive from the reference server: typed events delivered per second",
    "receive/replay": "receive from the replay peer (client-bound): typed events delivered per second",
    "pump/server": "pump to the reference server: audio seconds sent per wall second",
    "pump/replay": "pump to the replay peer (client-bound): audio seconds sent per wall second",
}


def print_table(
    results: dict[str, dict[str, Any]], sessions: list[int], repeats: int, seconds: float
) -> None:
    runs = f"median of {repeats} run{'s' * (repeats > 1)}, {seconds:g} s windows"
    for section in _TITLES:
        rate_title, rate, cost_title, cost = _columns(section.split("/")[0])
        print(f"{_TITLES[section]} ({runs})")
        print(
            f"{'sessions':>8}  {'client':<26}{rate_title:>11}{cost_title:>14}"
            f"{'client CPU':>12}{'server CPU':>12}{'other CPU':>11}"
        )
        for n in sessions:
            for kind in KINDS:
                m = results[f"{section}/{n}/{kind}"]["median"]
                print(
                    f"{n:>8}  {kind:<26}{m[rate]:>11,.0f}{m[cost]:>14.1f}"
                    f"{m['client_cpu_percent']:>11.0f}%{m['server_cpu_percent']:>11.0f}%"
                    f"{m['other_cpu_percent']:>10.0f}%"
                )
            r = ratios(results, f"{section}/{n}")
            target = f"  (target >= {TARGET_VS_SDK}x)" if section.startswith("receive") else ""
            print(
                f"{'':>8}  ours/SDK at its best ({r['sdk_best_rate']}) {rate_title}: "
                f"{r[f'tracked_{rate}']:.2f}x tracked, {r[f'untracked_{rate}']:.2f}x untracked"
                f"{target}; CPU per unit {r['tracked_cpu_efficiency']:.2f}x / "
                f"{r['untracked_cpu_efficiency']:.2f}x less (vs {r['sdk_best_cost']})"
            )
        print()
    print(
        "CPU columns are % of one core over the window: the client process, the serving process\n"
        "(reference server or replay peer), and everything else on the machine (other users: the\n"
        "noise). A server near 100% sets the pace; the replay peer costs almost nothing per\n"
        "event, so there the client is the bottleneck."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measured window per scenario")
    parser.add_argument("--warmup", type=float, default=0.8, help="warm-up before each window")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario (median shown)")
    parser.add_argument("--sessions", default="1,8", help="concurrent sessions, comma-separated")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 session, short windows")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--results", action="store_true", help="commit-ready results in benchmarks/results/"
    )
    parser.add_argument("--provisional", metavar="WHY", help="mark those results provisional")
    parser.add_argument("--profile", metavar="DIR", help="cProfile each client into DIR/*.prof")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run one client
    parser.add_argument("--replay-peer", help=argparse.SUPPRESS)  # internal: the replay peer
    args = parser.parse_args(argv)
    if args.client:
        client_main(json.loads(args.client))
        return 0
    if args.replay_peer:
        import asyncio

        from _session_bench.replay_peer import replay_peer

        asyncio.run(replay_peer(args.replay_peer))
        return 0
    if args.quick:
        args.seconds, args.warmup, args.repeats, args.sessions = 0.25, 0.15, 1, "1"
    sessions = [int(n) for n in args.sessions.split(",")]
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)

    runs: dict[str, list[dict[str, float]]] = {}
    server = Child([sys.executable, "-m", "trio_realtime", "serve", "--port", "0"])
    try:
        me = os.path.abspath(__file__)
        peer = Child([sys.executable, me, "--replay-peer", server.url])
        try:
            plan: list[tuple[str, dict[str, Any]]] = []
            for repeat in range(args.repeats):
                for section in _TITLES:
                    workload, target = section.split("/")
                    child = server if target == "server" else peer
                    for n in sessions:
                        # Rotate the order so no contender always runs first (or last).
                        turn = repeat % len(KINDS)
                        for kind in KINDS[turn:] + KINDS[:turn]:
                            key = f"{section}/{n}/{kind}"
                            name = key.replace("/", "-")
                            spec = {
                                "kind": kind,
                                "workload": workload,
                                "sessions": n,
                                "url": child.url,
                                "server_pid": child.process.pid,
                                "warmup": args.warmup,
                                "seconds": args.seconds,
                                "profile": args.profile
                                and os.path.join(args.profile, f"{name}.prof"),
                            }
                            plan.append((key, spec))
            # A fresh process per scenario keeps the figures clean; a smoke run shares one
            # process per contender instead, to start Python (and import openai) less often.
            batches = (
                [[p for p in plan if p[1]["kind"] == kind] for kind in KINDS]
                if args.quick
                else [[p] for p in plan]
            )
            for batch in batches:
                raws = run_client([spec for _, spec in batch])
                for (key, spec), raw in zip(batch, raws, strict=True):
                    runs.setdefault(key, []).append(derive(spec["workload"], raw))
        finally:
            peer.close()
    finally:
        server.close()

    results = {key: {"median": median_of(r), "runs": r} for key, r in runs.items()}
    print_table(results, sessions, args.repeats, args.seconds)
    if args.json or args.results:
        report = {
            "benchmark": "session",
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "settings": {
                "seconds": args.seconds,
                "warmup": args.warmup,
                "repeats": args.repeats,
                "sessions": sessions,
                "chunk_ms": CHUNK_MS,
                "user_text_chars": len(USER_TEXT),
            },
            "results": results,
            "ratios": {
                section: {str(n): ratios(results, f"{section}/{n}") for n in sessions}
                for section in _TITLES
            },
            "targets": {"receive_events_per_second_vs_sdk": TARGET_VS_SDK},
        }
        if args.json:
            with open(args.json, "w") as out:
                json.dump(report, out, indent=2)
        if args.results:
            from _results import write_result

            command = ["python", "benchmarks/bench_session.py", *(argv or sys.argv[1:])]
            path = write_result("session", report, command=command, provisional=args.provisional)
            print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
