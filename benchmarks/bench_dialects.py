"""What the GA dialect's translation costs: decode and encode, GA against beta, same events.

The GA dialect (``connect(dialect="ga")``) decodes GA frames into the same classes as beta
and encodes the same classes as GA frames (``trio_realtime/_core/_dialects``). This measures
what that costs against the beta codec, on the same events:

* **decode, client side**: the standard workload's server stream
  (``benchmarks/standard-workload.md``: the load server's frames, 15 deltas a second and a
  response's nine lifecycle events every 5 s) in beta and in GA; and the frames of whole turns
  as the reference server sends them (a spoken reply to a text item, and a server-VAD turn:
  ``session.updated``, items, ``response.created``, 100 ms audio deltas, transcript deltas,
  the done events, ``response.done``...), lifecycle-heavy, broken down into the streamed
  deltas (only renamed) and the rest (translated shapes). "Same events" leaves out GA's own
  extra events (``conversation.item.done``): that is the translation's cost; the whole-turn
  line keeps them: what a GA client really decodes per turn;
* **encode, client side**: what a session sends in those turns: ``session.update``,
  ``conversation.item.create``, ``response.create`` (translated) and
  ``input_audio_buffer.append`` (identical in both; the session writes it by hand anyway);
* **the reference server**: its GA encode of the turn's events and strict GA decode of the
  client's, against beta.

CPU time of this thread (``time.thread_time``), so other processes on a busy machine do not
count; beta and GA alternate within each round (the order flips every round) and the figure
is per round, so drift in the machine's speed hits both alike. Reported: the median over the
rounds and the spread (min-max) of each ratio GA / beta.

Run: ``python benchmarks/bench_dialects.py [--rounds 9] [--seconds 0.3] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio_realtime as rt
from trio_realtime._bench._load_frames import LoadStream, audio_payloads, finish
from trio_realtime._core._dialects import BETA, GA, Dialect
from trio_realtime.audio import silence, speech_like
from trio_realtime.events import (
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseTextDelta,
)
from trio_realtime.server import ConnectionState, SimulatedEngine

TARGET = 1.10  # GA may cost at most 10 % more than beta
DELTAS = (ResponseAudioDelta, ResponseAudioTranscriptDelta, ResponseTextDelta)


def _client_turns() -> list[rt.ClientEvent]:
    """What an application sends in the measured turns (appends: 100 ms each)."""
    pcm = silence(300) + speech_like(1500, seed=3) + silence(700)
    appends = [
        rt.InputAudioBufferAppend.from_pcm(pcm[i : i + 4800], event_id=f"evt_{i}")
        for i in range(0, len(pcm), 4800)
    ]
    return [
        rt.SessionUpdate(
            session=rt.Session(
                instructions="Be brief.",
                voice="alloy",
                input_audio_format="pcm16",
                output_audio_format="pcm16",
                input_audio_transcription=rt.InputAudioTranscription(model="whisper-1"),
                turn_detection=rt.TurnDetection(type="server_vad", silence_duration_ms=300),
            ),
            event_id="evt_s",
        ),
        rt.ConversationItemCreate(item=rt.ConversationItem.user_text("hello there"), event_id="e"),
        rt.ResponseCreate(
            response=rt.ResponseConfig(modalities=["audio"], metadata={"turn": "1"}),
            event_id="evt_r",
        ),
        *appends,
    ]


def server_frames(dialect: Dialect) -> tuple[list[str], list[str]]:
    """The client's frames and the reference server's answers, in ``dialect``."""
    sent = [dialect.encode(event) for event in _client_turns()]
    state = ConnectionState(
        intent=None,
        model="gpt-realtime",
        now=0.0,
        engine=SimulatedEngine(audio_chunk_ms=100),
        dialect=dialect,
    )
    events = state.open()
    now = 0.0
    for text in sent:
        now += 0.1
        events += state.receive_text(text, now)
    while (deadline := state.next_deadline()) is not None and deadline < 600:
        events += state.advance(deadline)
    return sent, [dialect.encode(event) for event in events]


def standard_stream(dialect: Dialect, responses: int = 3) -> list[str]:
    """The load server's frames for ``responses`` responses of 5 s, stamped, in ``dialect``."""
    stream = LoadStream(audio_payloads(10), 50, seed=7, dialect=dialect)
    return [finish(p, 1000.0 + k / 10) for k in range(50 * responses) for p in stream.tick(k)]


def rate(fn: Callable[[], int], seconds: float) -> float:
    """CPU microseconds per run of ``fn`` (which returns how many items it did, ignored)."""
    runs, start = 0, time.thread_time()
    while (elapsed := time.thread_time() - start) < seconds:
        fn()
        runs += 1
    return elapsed * 1e6 / runs


def decoding(frames: Sequence[str], decode: Callable[[str], Any]) -> Callable[[], int]:
    def run() -> int:
        for frame in frames:
            decode(frame)
        return len(frames)

    return run


def encoding(events: Sequence[Any], encode: Callable[[Any], str]) -> Callable[[], int]:
    def run() -> int:
        for event in events:
            encode(event)
        return len(events)

    return run


def contenders() -> dict[str, tuple[int, dict[str, Callable[[], int]]]]:
    """Per measured quantity: how many events (of beta's) it counts per run, and the beta and
    GA contenders (each one run over the whole set)."""
    beta_sent, beta_received = server_frames(BETA)
    ga_sent, ga_received = server_frames(GA)
    decoded = {
        "beta": [BETA.decode_server_event(f) for f in beta_received],
        "ga": [GA.decode_server_event(f) for f in ga_received],
    }
    for events in decoded.values():  # everything must decode to a known class
        assert not [e for e in events if isinstance(e, rt.UnknownEvent)]

    def pick(dialect: str, frames: list[str], keep: Callable[[Any], bool]) -> list[str]:
        return [f for f, e in zip(frames, decoded[dialect], strict=True) if keep(e)]

    def same(event: Any) -> bool:
        return not isinstance(event, rt.ConversationItemDone)

    def delta(event: Any) -> bool:
        return type(event) in DELTAS

    def other(event: Any) -> bool:
        return same(event) and not delta(event)

    sets = {
        "turns, same events": same,
        "turns, deltas": delta,
        "turns, other events": other,
    }
    beta_std, ga_std = standard_stream(BETA), standard_stream(GA)
    ga_std_same = [f for f in ga_std if '"conversation.item.done"' not in f[:40]]
    assert len(ga_std_same) == len(beta_std)
    table: dict[str, tuple[int, dict[str, Callable[[], int]]]] = {
        "decode: standard workload": (
            len(beta_std),
            {
                "beta": decoding(beta_std, BETA.decode_server_event),
                "ga": decoding(ga_std, GA.decode_server_event),
            },
        ),
        "decode: standard workload, same events": (
            len(beta_std),
            {
                "beta": decoding(beta_std, BETA.decode_server_event),
                "ga": decoding(ga_std_same, GA.decode_server_event),
            },
        ),
    }
    for name, keep in sets.items():
        beta_frames = pick("beta", beta_received, keep)
        ga_frames = pick("ga", ga_received, keep)
        assert len(beta_frames) == len(ga_frames), name
        table[f"decode: {name}"] = (
            len(beta_frames),
            {
                "beta": decoding(beta_frames, BETA.decode_server_event),
                "ga": decoding(ga_frames, GA.decode_server_event),
            },
        )
    table["decode: turns, as sent (+item.done)"] = (
        len(beta_received),
        {
            "beta": decoding(beta_received, BETA.decode_server_event),
            "ga": decoding(ga_received, GA.decode_server_event),
        },
    )
    client = _client_turns()
    translated = [e for e in client if not isinstance(e, rt.InputAudioBufferAppend)]
    appends = [e for e in client if isinstance(e, rt.InputAudioBufferAppend)]
    server_events = decoded["beta"]  # the server's own events, encoded either way
    for name, events in (
        ("encode: appends", appends),
        ("encode: session/item/response", translated),
        ("server encode: turns", server_events),
    ):
        table[name] = (
            len(events),
            {"beta": encoding(events, BETA.encode), "ga": encoding(events, GA.encode)},
        )
    table["server decode: client events"] = (
        len(beta_sent),
        {
            "beta": decoding(beta_sent, BETA.decode_client_event),
            "ga": decoding(ga_sent, GA.decode_client_event),
        },
    )
    return table


def measure(rounds: int, seconds: float) -> dict[str, dict[str, Any]]:
    """Per quantity: CPU µs per (beta-counted) event, beta and GA, and the ratio's median and
    spread over the rounds."""
    results: dict[str, dict[str, Any]] = {}
    for name, (count, pair) in contenders().items():
        for fn in pair.values():  # warm: hooks generated, caches filled
            fn()
        per_round: dict[str, list[float]] = {"beta": [], "ga": []}
        ratios = []
        for r in range(rounds):
            gc.collect()
            order = ("beta", "ga") if r % 2 == 0 else ("ga", "beta")
            us = {which: rate(pair[which], seconds) for which in order}
            for which in order:
                per_round[which].append(us[which] / count)
            ratios.append(us["ga"] / us["beta"])
        results[name] = {
            "events": count,
            "beta_us": statistics.median(per_round["beta"]),
            "ga_us": statistics.median(per_round["ga"]),
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds (beta and GA each)")
    parser.add_argument("--seconds", type=float, default=0.3, help="CPU seconds per contender")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    results = measure(args.rounds, args.seconds)
    print(
        f"CPU time of this thread, {args.rounds} rounds, beta and GA alternating; medians, and "
        "the spread (min-max) of the per-round ratio GA / beta. µs per event (per beta event "
        "where GA sends more: the +item.done line)"
    )
    print(f"{'':<38}{'events':>7}{'beta µs':>9}{'GA µs':>9}{'GA / beta':>11}{'spread':>15}")
    for name, r in results.items():
        spread = f"{r['ratio_min']:.3f}-{r['ratio_max']:.3f}"
        print(
            f"{name:<38}{r['events']:>7}{r['beta_us']:>9.2f}{r['ga_us']:>9.2f}"
            f"{r['ratio_median']:>11.3f}{spread:>15}"
        )
    hot = {k: results[k]["ratio_median"] for k in ("decode: standard workload", "encode: appends")}
    worst = max(hot.values())
    verdict = "within" if worst <= TARGET else "OVER"
    print(
        f"a session's hot path (standard workload decode, appends): GA / beta at most "
        f"{worst:.3f}, {verdict} the {TARGET:.2f} target"
    )
    if args.json:
        report = {
            "benchmark": "dialects",
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "rounds": args.rounds,
            "seconds": args.seconds,
            "results": results,
            "target": TARGET,
        }
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
