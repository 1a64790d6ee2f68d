"""Codec throughput: trio_realtime against the openai SDK's beta realtime client and bare orjson.

The stream is one realistic spoken turn as a server sends it: speech started/stopped, 100
``response.audio.delta`` events of 100 ms PCM16 at 24 kHz (4,800 bytes, 6,400 base64
characters each), 50 ``response.audio_transcript.delta`` events interleaved with them, and a
``response.done`` with usage. Decoding is measured three ways in one run:

* ``trio_realtime.decode`` (typed attrs events, strict validation, unknown fields kept);
* the SDK's ``AsyncRealtimeConnection.parse_event`` (pydantic models, what its ``recv`` runs);
* bare ``orjson.loads`` (untyped dicts; the floor).

Encoding is measured on the hot client event, an ``input_audio_buffer.append`` of 100 ms:
``trio_realtime.encode`` against the SDK's send paths and bare ``orjson.dumps``. The SDK's
documented method, ``connection.input_audio_buffer.append(audio=...)``, runs a TypedDict param
through ``async_maybe_transform`` + ``json.dumps``; its fast public path,
``connection.send(InputAudioBufferAppendEvent(...))``, serialises a pydantic model with
``to_json``: measured on one model built beforehand (its best case) and built per append (what
an application streaming audio does), with ours measured both ways too. The headline ratio is
against the SDK's fastest path.

Run: ``python benchmarks/bench_codec.py [--seconds 1.0] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

import trio_realtime as rt

TARGET_VS_SDK = 10.0
TARGET_VS_ORJSON = 0.5


def _ids(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(
        rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=21)
    )


def realistic_stream(seed: int = 0) -> list[bytes]:
    """One spoken turn as JSON frames (bytes, as a WebSocket library hands them over)."""
    rng = random.Random(seed)
    resp, item, user = _ids("resp_", rng), _ids("item_", rng), _ids("item_", rng)
    frames: list[dict[str, Any]] = [
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": _ids("event_", rng),
            "audio_start_ms": 700,
            "item_id": user,
        },
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": _ids("event_", rng),
            "audio_end_ms": 2200,
            "item_id": user,
        },
    ]
    words = [
        "sure",
        "thing",
        "here",
        "is",
        "what",
        "I",
        "found",
        "about",
        "the",
        "weather",
        "today",
        "it",
        "looks",
        "sunny",
    ]
    for i in range(100):
        audio = base64.b64encode(rng.randbytes(4800)).decode()
        common = {"response_id": resp, "item_id": item, "output_index": 0, "content_index": 0}
        frames.append(
            {
                "type": "response.audio.delta",
                "event_id": _ids("event_", rng),
                **common,
                "delta": audio,
            }
        )
        if i % 2 == 0:
            delta = words[(i // 2) % len(words)] + " "
            frames.append(
                {
                    "type": "response.audio_transcript.delta",
                    "event_id": _ids("event_", rng),
                    **common,
                    "delta": delta,
                }
            )
    frames.append(
        {
            "type": "response.done",
            "event_id": _ids("event_", rng),
            "response": {
                "id": resp,
                "object": "realtime.response",
                "status": "completed",
                "status_details": None,
                "output": [
                    {
                        "id": item,
                        "object": "realtime.item",
                        "type": "message",
                        "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "audio", "transcript": " ".join(words)}],
                    }
                ],
                "conversation_id": _ids("conv_", rng),
                "modalities": ["text", "audio"],
                "voice": "alloy",
                "output_audio_format": "pcm16",
                "temperature": 0.8,
                "max_output_tokens": "inf",
                "metadata": None,
                "usage": {
                    "total_tokens": 275,
                    "input_tokens": 127,
                    "output_tokens": 148,
                    "input_token_details": {
                        "cached_tokens": 0,
                        "text_tokens": 119,
                        "audio_tokens": 8,
                    },
                    "output_token_details": {"text_tokens": 36, "audio_tokens": 112},
                },
            },
        }
    )
    return [orjson.dumps(frame) for frame in frames]


def best_rate(fn: Callable[[], int], seconds: float, repeats: int = 5) -> float:
    """Items per CPU-second of ``fn`` (which returns how many items it processed), best of
    repeats. CPU time of this thread (``time.thread_time``), so a busy machine's preemptions
    are not counted as the contender's time."""
    best = 0.0
    gc.collect()
    for _ in range(repeats):
        done, start = 0, time.thread_time()
        while (elapsed := time.thread_time() - start) < seconds / repeats:
            done += fn()
        best = max(best, done / elapsed)
    return best


def sdk_parse_event() -> Callable[[bytes], Any]:
    from openai.resources.beta.realtime.realtime import AsyncRealtimeConnection

    connection = AsyncRealtimeConnection.__new__(
        AsyncRealtimeConnection
    )  # parse_event needs no socket
    return connection.parse_event


def decode_rates(frames: list[bytes], seconds: float) -> dict[str, float]:
    parse = sdk_parse_event()
    decode, loads = rt.decode, orjson.loads
    for frame in frames:  # the same stream must be valid for everyone
        assert not isinstance(decode(frame), rt.UnknownEvent)
        parse(frame)

    def ours() -> int:
        for frame in frames:
            decode(frame)
        return len(frames)

    def sdk() -> int:
        for frame in frames:
            parse(frame)
        return len(frames)

    def bare() -> int:
        for frame in frames:
            loads(frame)
        return len(frames)

    return {
        "trio_realtime": best_rate(ours, seconds),
        "openai_sdk": best_rate(sdk, seconds),
        "orjson": best_rate(bare, seconds),
    }


def encode_rates(seconds: float) -> dict[str, float]:
    from openai._models import construct_type_unchecked
    from openai._utils import async_maybe_transform
    from openai.types.beta.realtime import InputAudioBufferAppendEvent, RealtimeClientEventParam

    audio = base64.b64encode(random.Random(1).randbytes(4800)).decode()
    event = rt.InputAudioBufferAppend(audio=audio, event_id="evt_1")
    param = {"type": "input_audio_buffer.append", "audio": audio, "event_id": "evt_1"}
    model = construct_type_unchecked(value=param, type_=InputAudioBufferAppendEvent)
    encode, dumps, batch = rt.encode, orjson.dumps, 200

    def ours() -> int:
        for _ in range(batch):
            encode(event)
        return batch

    def sdk_model() -> int:
        for _ in range(batch):
            model.to_json(use_api_names=True, exclude_defaults=True, exclude_unset=True)
        return batch

    append_event = rt.InputAudioBufferAppend

    def ours_built() -> int:
        for _ in range(batch):
            encode(append_event(audio=audio))
        return batch

    def sdk_model_built() -> int:
        for _ in range(batch):
            InputAudioBufferAppendEvent(type="input_audio_buffer.append", audio=audio).to_json(
                use_api_names=True, exclude_defaults=True, exclude_unset=True
            )
        return batch

    def bare() -> int:
        for _ in range(batch):
            dumps(param).decode()
        return batch

    async def sdk_param_batch() -> None:
        for _ in range(batch):
            json.dumps(await async_maybe_transform(param, RealtimeClientEventParam))

    loop = asyncio.new_event_loop()
    try:

        def sdk_param() -> int:
            loop.run_until_complete(sdk_param_batch())
            return batch

        return {
            "trio_realtime": best_rate(ours, seconds),
            "trio_realtime_built": best_rate(ours_built, seconds),
            "openai_sdk_param": best_rate(sdk_param, seconds),
            "openai_sdk_model": best_rate(sdk_model, seconds),
            "openai_sdk_model_built": best_rate(sdk_model_built, seconds),
            "orjson": best_rate(bare, seconds),
        }
    finally:
        loop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per contender")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--results", action="store_true", help="commit-ready results in benchmarks/results/"
    )
    parser.add_argument("--provisional", metavar="WHY", help="mark those results provisional")
    args = parser.parse_args(argv)

    frames = realistic_stream()
    decoded = decode_rates(frames, args.seconds)
    encoded = encode_rates(args.seconds)

    print(
        f"decode: one spoken turn of {len(frames)} events ({sum(map(len, frames)) / 1e3:.0f} kB), best of 5"
    )
    print(f"{'decoder':<28}{'events/s':>12}{'µs/event':>10}")
    for name, rate in decoded.items():
        print(f"{name:<28}{rate:>12,.0f}{1e6 / rate:>10.2f}")
    vs_sdk = decoded["trio_realtime"] / decoded["openai_sdk"]
    vs_orjson = decoded["trio_realtime"] / decoded["orjson"]
    print(f"trio_realtime / openai_sdk  {vs_sdk:>8.1f}x   (target >= {TARGET_VS_SDK:.0f}x)")
    print(f"trio_realtime / orjson      {vs_orjson:>8.2f}x   (target >= {TARGET_VS_ORJSON})")
    print()
    print("encode: input_audio_buffer.append of 100 ms PCM16 (6,400 base64 chars)")
    print(f"{'encoder':<28}{'events/s':>12}{'µs/event':>10}")
    for name, rate in encoded.items():
        print(f"{name:<28}{rate:>12,.0f}{1e6 / rate:>10.2f}")
    sdk_paths = ("openai_sdk_param", "openai_sdk_model", "openai_sdk_model_built")
    fastest = max(sdk_paths, key=encoded.__getitem__)
    enc_vs_sdk = encoded["trio_realtime"] / encoded[fastest]
    enc_vs_built = encoded["trio_realtime_built"] / encoded["openai_sdk_model_built"]
    enc_vs_param = encoded["trio_realtime"] / encoded["openai_sdk_param"]
    print(f"trio_realtime / SDK's fastest path ({fastest}) {enc_vs_sdk:>6.2f}x")
    print(f"built per append: trio_realtime / openai_sdk_model {enc_vs_built:>6.2f}x")
    print(f"trio_realtime / openai_sdk_param (documented method) {enc_vs_param:>6.0f}x")

    if args.json or args.results:
        report = {
            "benchmark": "codec",
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "events_per_turn": len(frames),
            "decode_events_per_second": decoded,
            "encode_events_per_second": encoded,
            "ratios": {
                "decode_vs_sdk": vs_sdk,
                "decode_vs_orjson": vs_orjson,
                "encode_vs_sdk_fastest": enc_vs_sdk,
                "encode_sdk_fastest_path": fastest,
                "encode_built_vs_sdk_model_built": enc_vs_built,
                "encode_vs_sdk_param": enc_vs_param,
            },
            "targets": {"decode_vs_sdk": TARGET_VS_SDK, "decode_vs_orjson": TARGET_VS_ORJSON},
        }
        if args.json:
            with open(args.json, "w") as out:
                json.dump(report, out, indent=2)
        if args.results:
            from _results import write_result

            command = ["python", "benchmarks/bench_codec.py", *(argv or sys.argv[1:])]
            path = write_result("codec", report, command=command, provisional=args.provisional)
            print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
