"""Where a received event's CPU goes, and an append's: ours against the limits and the SDK.

Two kinds of figures, side by side, in CPU microseconds (``time.thread_time``, so time the
process spends preempted on a busy machine is not counted):

**End to end**, from the load harness in the standard workload's halves (``trio-realtime
bench --scenario receive`` and ``--scenario send``, N sessions, each client in its own
process, medians of the repeats): the client process's CPU over the window divided by the
events it received (each session sent one append, then only received) or by the appends it
sent (to the load server in ``--sink`` mode, which sends nothing back). The clients: ours
(conversation kept, and ``--no-conversation``), bare trio-websocket and bare asyncio
websockets with orjson, untyped (the limits on each event loop), and the openai SDK
(``send(model)`` and, for appends, ``input_audio_buffer.append()``). The harness's own costs
(the meter reading a clock and a stamp per event, the pacing timer per append) are in every
client's figure alike.

**Stages**, each measured alone in this process on the same events (the load server's mix:
audio deltas, transcript deltas and each response's lifecycle events), one operation at a
time as the workload does it (one event per socket read):

* receive: wait for the socket and wake the reader (trio: ``wait_readable``; asyncio: a
  protocol's ``data_received`` resolving a future a task awaits, the transport's read
  included), the read system call, the WebSocket framing (ours, wsproto as trio-websocket
  uses it, websockets' sans-I/O protocol), the decode (ours to typed events; ``orjson``; the
  SDK's ``parse_event``), the conversation state (ours), and the hand-off to the
  application's task (bare trio: a trio memory channel; ours hands nothing over, since the
  application's reader reads the socket the receiver lends it);
* append: base64 of 100 ms of PCM16, the encode (ours of a fresh event; ``orjson.dumps``;
  the SDK's model built and ``to_json``'d; its documented param path), the framing with the
  client's mask, and the write system call.

What the stages do not cover (scheduling and task switches beyond the ones measured, the
session's own bookkeeping, the harness's meter and timers) is the remainder: end to end
minus the stages. Under each table, from the same harness runs: the kernel's share of the
end-to-end CPU, the event loop's passes (trio: run-loop iterations; asyncio: selector
calls) and the process's sleeps (voluntary context switches: each wait for I/O or a timer
that found nothing ready) per event or append. One trio checkpoint (a task switch through
the scheduler) is printed for scale.

Run: ``python benchmarks/bench_breakdown.py [--sessions 150] [--warmup 3] [--window 10]
[--repeats 3] [--json PATH] [--results [--provisional WHY]] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

import orjson

import trio_realtime as rt
from trio_realtime._bench._load_frames import LoadStream, audio_payloads, finish
from trio_realtime._bench._load_wire import text_frame
from trio_realtime._wire._frames import FrameReader, encode_frame

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _breakdown.kernel import asyncio_wait, per_op, syscalls, trio_switches, trio_wait

CLIENTS_RECEIVE: Final = ("ours", "ours-untracked", "bare-trio", "bare-asyncio", "openai-sdk-send")
CLIENTS_SEND: Final = ("ours", "bare-trio", "bare-asyncio", "openai-sdk-send", "openai-sdk-append")
LABELS: Final = {
    "ours": "trio_realtime",
    "ours-untracked": "untracked",
    "bare-trio": "bare trio-websocket",
    "bare-asyncio": "bare asyncio websockets",
    "openai-sdk-send": "SDK send(model)",
    "openai-sdk-append": "SDK append()",
}


def the_mix(ticks: int = 50) -> list[str]:
    """The load server's events over one 5 s response: deltas and the lifecycle events."""
    stream = LoadStream(audio_payloads(), ticks)
    return [finish(prefix, 1.0) for k in range(ticks) for prefix in stream.tick(k)]


# --- the stages --------------------------------------------------------------------------------


def receive_stages(seconds: float) -> dict[str, dict[str, float]]:
    """Per-event costs of each receive stage, by client (µs)."""
    from openai.resources.beta.realtime.realtime import AsyncRealtimeConnection
    from websockets.protocol import Protocol, Side
    from wsproto.connection import Connection, ConnectionType

    texts = the_mix()
    raw = [t.encode() for t in texts]
    frames = [text_frame(t) for t in texts]
    n = len(frames)
    audio_frame = frames[next(i for i, t in enumerate(texts) if '"response.audio.delta"' in t)]
    sys_us = syscalls(audio_frame, seconds)
    trio_wait_us = trio_wait(audio_frame, seconds, sys_us["send"], sys_us["recv"])
    asyncio_wait_us = asyncio_wait(audio_frame, seconds, sys_us["send"])
    switches = trio_switches(seconds)

    reader = FrameReader(64 * 1024 * 1024)

    def ours_framing() -> int:
        for frame in frames:
            reader.feed(frame)
        return n

    wsproto = Connection(ConnectionType.CLIENT)

    def wsproto_framing() -> int:
        for frame in frames:
            wsproto.receive_data(frame)
            for _ in wsproto.events():
                pass
        return n

    websockets = Protocol(Side.CLIENT, max_size=None)

    def websockets_framing() -> int:
        for frame in frames:
            websockets.receive_data(frame)
            websockets.events_received()
        return n

    decode = rt.decode

    def ours_decode() -> int:
        for text in texts:
            decode(text)
        return n

    loads = orjson.loads

    def orjson_decode() -> int:
        for data in raw:
            loads(data)
        return n

    parse = AsyncRealtimeConnection.parse_event

    def sdk_decode() -> int:
        for data in raw:
            parse(None, data)  # type: ignore[arg-type]
        return n

    events = [decode(t) for t in texts]

    def conversation() -> int:
        conv = rt.Conversation(keep_audio_seconds=0)
        for event in events:
            conv.apply(event)  # type: ignore[arg-type]
        return n

    framing = {
        "ours": per_op(ours_framing, seconds),
        "wsproto": per_op(wsproto_framing, seconds),
        "websockets": per_op(websockets_framing, seconds),
    }
    decoding = {
        "ours": per_op(ours_decode, seconds),
        "orjson": per_op(orjson_decode, seconds),
        "sdk": per_op(sdk_decode, seconds),
    }
    conv_us = per_op(conversation, seconds)
    trio_side = {"wait": trio_wait_us, "read": sys_us["recv"]}
    return {
        # Ours hands nothing over: the application's reader reads the lent socket itself.
        "ours": trio_side
        | {
            "framing": framing["ours"],
            "decode": decoding["ours"],
            "conversation": conv_us,
            "handoff": 0.0,
        },
        "ours-untracked": trio_side
        | {"framing": framing["ours"], "decode": decoding["ours"], "handoff": 0.0},
        "bare-trio": trio_side
        | {
            "framing": framing["wsproto"],
            "decode": decoding["orjson"],
            "handoff": switches["handoff"],
        },
        "bare-asyncio": {
            "wait": asyncio_wait_us,
            "framing": framing["websockets"],
            "decode": decoding["orjson"],
        },
        "openai-sdk-send": {
            "wait": asyncio_wait_us,
            "framing": framing["websockets"],
            "decode": decoding["sdk"],
        },
        "_scale": {"checkpoint": switches["checkpoint"]},
    }


def send_stages(seconds: float) -> dict[str, dict[str, float]]:
    """Per-append costs of each send stage, by client (µs)."""
    from openai._utils import async_maybe_transform
    from openai.types.beta.realtime import InputAudioBufferAppendEvent, RealtimeClientEventParam
    from websockets.protocol import Protocol, Side
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import TextMessage

    from trio_realtime.audio import speech_like

    pcm = speech_like(100)
    audio = base64.b64encode(pcm).decode()
    text = rt.encode(rt.InputAudioBufferAppend(audio=audio))
    payload = text.encode()
    batch = 100

    def b64() -> int:
        for _ in range(batch):
            base64.b64encode(pcm).decode()
        return batch

    encode, append = rt.encode, rt.InputAudioBufferAppend

    def ours_encode() -> int:
        for _ in range(batch):
            encode(append(audio=audio))
        return batch

    dumps = orjson.dumps

    def orjson_encode() -> int:
        for _ in range(batch):
            dumps({"type": "input_audio_buffer.append", "audio": audio})
        return batch

    def sdk_model() -> int:
        for _ in range(batch):
            InputAudioBufferAppendEvent(type="input_audio_buffer.append", audio=audio).to_json(
                use_api_names=True, exclude_defaults=True, exclude_unset=True
            )
        return batch

    loop = asyncio.new_event_loop()
    param = {"type": "input_audio_buffer.append", "audio": audio}

    async def sdk_param_batch() -> None:
        for _ in range(batch):
            json.dumps(await async_maybe_transform(param, RealtimeClientEventParam))

    def sdk_param() -> int:
        loop.run_until_complete(sdk_param_batch())
        return batch

    def ours_framing() -> int:
        for _ in range(batch):
            encode_frame(1, payload)
        return batch

    wsproto = Connection(ConnectionType.CLIENT)

    def wsproto_framing() -> int:
        for _ in range(batch):
            wsproto.send(TextMessage(data=text))
        return batch

    websockets = Protocol(Side.CLIENT, max_size=None)

    def websockets_framing() -> int:
        for _ in range(batch):
            websockets.send_text(payload)
            websockets.data_to_send()
        return batch

    try:
        b64_us = per_op(b64, seconds)
        encoding = {
            "ours": per_op(ours_encode, seconds),
            "orjson": per_op(orjson_encode, seconds),
            "sdk_model": per_op(sdk_model, seconds),
            "sdk_param": per_op(sdk_param, seconds),
        }
    finally:
        loop.close()
    framing = {
        "ours": per_op(ours_framing, seconds),
        "wsproto": per_op(wsproto_framing, seconds),
        "websockets": per_op(websockets_framing, seconds),
    }
    write = syscalls(encode_frame(1, payload), seconds)["send"]
    common = {"base64": b64_us, "write": write}
    return {
        "ours": common | {"encode": encoding["ours"], "framing": framing["ours"]},
        "bare-trio": common | {"encode": encoding["orjson"], "framing": framing["wsproto"]},
        "bare-asyncio": common | {"encode": encoding["orjson"], "framing": framing["websockets"]},
        "openai-sdk-send": common
        | {"encode": encoding["sdk_model"], "framing": framing["websockets"]},
        "openai-sdk-append": common
        | {"encode": encoding["sdk_param"], "framing": framing["websockets"]},
    }


# --- end to end, from the harness ------------------------------------------------------------


#: What the harness measures per event (or append) besides the CPU: the kernel's share,
#: trips through the event loop, and how often the process slept (voluntary switches).
_COUNTS: Final = ("system", "passes", "sleeps")


def harness(
    scenario: str, extra: list[str], args: argparse.Namespace
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Median CPU µs per event (``receive``) or per append (``send``) by client, from one
    ``trio-realtime bench`` run; and by client the medians of its system CPU µs, scheduler
    passes and sleeps per event (or append)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        command = [
            sys.executable, "-m", "trio_realtime", "bench", "--scenario", scenario,
            "--sessions", str(args.sessions), "--warmup", str(args.warmup),
            "--window", str(args.window), "--repeats", str(args.repeats), "-q",
            "--json", out, *extra,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
        report = json.loads(Path(out).read_text())
    per: dict[str, list[float]] = {}
    counts: dict[str, dict[str, list[float]]] = {}
    count = "appends" if scenario == "send" else "events"
    for run in report["runs"]:
        n = run[count]
        if run["cpu_s"] is None or not n:
            continue
        per.setdefault(run["client"], []).append(1e6 * run["cpu_s"] / n)
        usage, stalls = run.get("usage"), run.get("stalls")
        if usage and stalls:
            figures = counts.setdefault(run["client"], {key: [] for key in _COUNTS})
            figures["system"].append(1e6 * usage["system_s"] / n)
            figures["passes"].append(stalls["passes_ms"]["count"] / n)
            figures["sleeps"].append(usage["voluntary_switches"] / n)
    medians = {client: statistics.median(values) for client, values in per.items()}
    count_medians = {
        client: {key: statistics.median(values) for key, values in figures.items()}
        for client, figures in counts.items()
    }
    return medians, count_medians


# --- the tables ------------------------------------------------------------------------------

_RECEIVE_ROWS: Final = (
    ("wait", "wait for the socket, wake the reader"),
    ("read", "read system call (one frame)"),
    ("framing", "WebSocket framing"),
    ("decode", "decode (typed events / dicts / pydantic)"),
    ("conversation", "conversation state"),
    ("handoff", "hand-off to the application task (ours: none, it reads the lent socket)"),
)
_SEND_ROWS: Final = (
    ("base64", "base64 of 100 ms PCM16"),
    ("encode", "encode the append event"),
    ("framing", "WebSocket framing and mask"),
    ("write", "write system call"),
)


def table(
    title: str,
    clients: tuple[str, ...],
    end_to_end: dict[str, float],
    stages: dict[str, dict[str, float]],
    rows: tuple[tuple[str, str], ...],
    counts: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """One breakdown table as data: header, rows of strings."""

    def cell(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    out_rows = [["end to end (harness)", *(cell(end_to_end.get(c)) for c in clients)]]
    for key, name in rows:
        out_rows.append([f"  {name}", *(cell(stages[c].get(key)) for c in clients)])
    remainder = []
    for c in clients:
        total = end_to_end.get(c)
        remainder.append(None if total is None else total - sum(stages[c].values()))
    out_rows.append(
        ["  remainder: scheduling, bookkeeping, the harness's meter", *map(cell, remainder)]
    )
    if counts:
        figures = [counts.get(c, {}) for c in clients]
        out_rows += [
            ["of end to end: system (kernel) CPU µs", *(cell(f.get("system")) for f in figures)],
            ["event-loop passes (count)", *(cell(f.get("passes"), 2) for f in figures)],
            [
                "sleeps: waits for I/O or a timer (count)",
                *(cell(f.get("sleeps"), 2) for f in figures),
            ],
        ]
    return {"title": title, "header": ["CPU µs", *(LABELS[c] for c in clients)], "rows": out_rows}


def print_table(t: dict[str, Any]) -> None:
    widths = [
        max(len(str(r[i])) for r in [t["header"], *t["rows"]]) for i in range(len(t["header"]))
    ]
    print(t["title"])
    for row in [t["header"], *t["rows"]]:
        print(
            row[0].ljust(widths[0])
            + "".join(str(c).rjust(w + 2) for c, w in zip(row[1:], widths[1:], strict=True))
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=150, help="sessions per client (150)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3, help="harness runs per client (3)")
    parser.add_argument("--seconds", type=float, default=0.2, help="CPU per stage round (0.2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 sessions, 1 s")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--results", action="store_true", help="commit-ready results in benchmarks/results/"
    )
    parser.add_argument("--provisional", metavar="WHY", help="mark those results provisional")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.warmup, args.window, args.repeats, args.seconds = 10, 0.5, 1.0, 1, 0.02

    receive = receive_stages(args.seconds)
    send = send_stages(args.seconds)
    e2e_receive, counts_receive = harness(
        "receive", ["--peer", "openai-sdk-send", "--baseline"], args
    )
    untracked, untracked_counts = harness("receive", ["--no-conversation"], args)
    e2e_receive["ours-untracked"] = untracked["ours"]
    if "ours" in untracked_counts:
        counts_receive["ours-untracked"] = untracked_counts["ours"]
    e2e_send, counts_send = harness("send", ["--peer", "openai-sdk", "--baseline"], args)

    where = f"{args.sessions} sessions, medians of {args.repeats} runs of {args.window:g} s"
    tables = [
        table(
            f"Per event received, CPU µs (end to end: --scenario receive, {where})",
            CLIENTS_RECEIVE,
            e2e_receive,
            receive,
            _RECEIVE_ROWS,
            counts_receive,
        ),
        table(
            f"Per append sent, CPU µs (end to end: --scenario send, {where})",
            CLIENTS_SEND,
            e2e_send,
            send,
            _SEND_ROWS,
            counts_send,
        ),
    ]
    for t in tables:
        print_table(t)
    print(
        f"For scale: one trio checkpoint (a task switch) {receive['_scale']['checkpoint']:.2f} µs"
    )
    report = {
        "benchmark": "breakdown",
        "settings": vars(args) | {"json": None},
        "end_to_end": {"receive": e2e_receive, "send": e2e_send},
        "counts": {"receive": counts_receive, "send": counts_send},
        "stages": {"receive": receive, "send": send},
        "tables": tables,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.results:
        from _results import write_result

        command = ["python", "benchmarks/bench_breakdown.py", *(argv or sys.argv[1:])]
        path = write_result("breakdown", report, command=command, provisional=args.provisional)
        print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
