"""The speech engine's quality and cost: word error rate, real-time factor, concurrent sessions.

Needs the ``speech`` extra. One command, one table per part, and a JSON report::

    python benchmarks/bench_speech.py --json speech.json
    python benchmarks/bench_speech.py --recordings DIR --json speech.json   # + real speech
    python benchmarks/bench_speech.py --quick                               # smoke, ~20 s

**1. Word error rate** of the recogniser (pocketsphinx's bundled en-US model, run exactly as
the engine runs it: a recogniser process fed 100 ms chunks of 24 kHz PCM16, 300 ms of silence
before the speech as VAD's prefix padding gives it, 200 ms after) on:

* the 30 sentences of :data:`SENTENCES`, spoken by each eSpeak NG variant the engine's voices
  use (the engine's own TTS: this measures the voice as much as the recogniser, since
  pocketsphinx was trained on human speech). These sentences were not used to choose the
  variants or to write the tests;
* real recordings, with ``--recordings DIR`` (every ``NAME.wav`` with a ``NAME.txt``
  transcript): for example the five LibriVox utterances (public domain, read speech) in
  pocketsphinx's own source distribution (BSD), which its wheel does not ship::

      pip download --no-deps --no-binary :all: pocketsphinx==5.1.1 -d /tmp/ps
      tar xzf /tmp/ps/pocketsphinx-5.1.1.tar.gz -C /tmp/ps
      python benchmarks/bench_speech.py --recordings \\
          /tmp/ps/pocketsphinx-5.1.1/test/data/librivox

* a natural synthetic voice, with ``--piper MODEL.onnx`` (piper-tts and a voice, not part of
  the extra), to show how much of the error is eSpeak NG's robotic voice.

WER is ``(substitutions + deletions + insertions) / reference words`` over the whole set,
lower case, punctuation removed. Two figures: *first turn* (every utterance starts from the
engine's prior cepstral means, as a session's first turn does) and *in a session* (the means
carried from one utterance to the next, as a session's later turns are).

**2. Real-time factor** per stream: recogniser CPU seconds per second of audio (measured in the
recogniser process), from the same runs, one stream at a time.

**3. Concurrent sessions.** For each N of ``--sessions``, a fresh ``trio-realtime serve
--engine speech --recognisers N`` process, then N transcription sessions (server VAD, the
protocol defaults) streaming spoken sentences at real time: one warm-up turn, then ``--turns``
measured turns each, sessions staggered evenly over one turn. A turn's latency runs from the
moment the client sent the last chunk of its speech to the arrival of its
``...transcription.completed``; it includes VAD's 500 ms of silence before ``speech_stopped``
(the latency after ``speech_stopped`` is shown too). N *holds* when every turn got its
transcript and the 95th percentile is within 1 s. The machine load during each step is
reported (other processes' CPU, from /proc): on a shared machine, repeat.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import trio

import trio_realtime as rt
from trio_realtime.audio import read_wav, silence, to_protocol

SENTENCES = (
    "Could you read me the news headlines this morning?",
    "I need a taxi to the airport at noon.",
    "Please add eggs and butter to my shopping list.",
    "What is the capital city of Spain?",
    "Play some quiet music in the living room.",
    "How long does it take to drive to the beach?",
    "Tell me a joke about computers.",
    "Cancel my dentist appointment for tomorrow.",
    "Is it going to be sunny on the weekend?",
    "The train to Boston leaves from platform four.",
    "My sister is coming to visit next month.",
    "Turn the volume down a little.",
    "Where did I park the car?",
    "Order a large pizza with mushrooms.",
    "Read my last email from the bank.",
    "The museum opens at ten in the morning.",
    "Find a good restaurant near the river.",
    "Lock the front door before you leave.",
    "How do you spell the word necessary?",
    "I left my keys on the kitchen table.",
    "Start a timer for twenty minutes.",
    "What did the doctor say about my test?",
    "Call my mother on her mobile phone.",
    "The garden needs water every evening.",
    "Show me the pictures from our holiday.",
    "Which team won the football match last night?",
    "Please speak more slowly.",
    "We are running out of coffee.",
    "Translate good night into French.",
    "Close all the windows upstairs.",
)
#: Realtime voices whose eSpeak NG variants differ (see trio_realtime.server._speech._voice).
VOICE_ROWS = ("alloy", "ash", "coral", "ballad", "echo", "verse")
CHUNK_MS = 100
LEAD_MS = 300
TAIL_MS = 200
TURN_SILENCE_MS = 1500
LATENCY_BUDGET_MS = 1000.0


# --- word error rate -----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (hyphens split words)."""
    return re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, start=1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (ref != hyp))
            previous, row[j] = row[j], current
    return row[len(hypothesis)]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


async def recognise_set(pool: Any, prior: str, items: list[tuple[str, bytes]]) -> dict[str, Any]:
    """WER (first turn and in a session) and RTF of ``(reference, 24 kHz pcm16)`` pairs."""
    result: dict[str, Any] = {"utterances": len(items), "words": 0}
    for mode in ("first_turn", "in_session"):
        errors = 0
        cpu = audio = 0.0
        rtfs: list[float] = []
        cmn = prior
        samples = []
        for reference, pcm in items:
            padded = silence(LEAD_MS) + pcm + silence(TAIL_MS)
            recogniser = await pool.acquire()
            try:
                await recogniser.begin("pcm16", prior if mode == "first_turn" else cmn)
                step = CHUNK_MS * 48
                for start in range(0, len(padded), step):
                    await recogniser.feed(padded[start : start + step])
                heard = await recogniser.end()
            finally:
                pool.release(recogniser)
            if heard.cmn is not None:
                cmn = heard.cmn
            ref = words(reference)
            errors += edit_distance(ref, words(heard.text))
            if mode == "first_turn":
                result["words"] += len(ref)
            cpu += heard.cpu_seconds
            audio += heard.audio_ms / 1000
            rtfs.append(heard.cpu_seconds / (heard.audio_ms / 1000))
            if len(samples) < 3:
                samples.append({"said": reference, "heard": heard.text})
        result[f"wer_{mode}"] = errors / max(1, result["words"])
        if mode == "first_turn":
            result["rtf"] = cpu / audio if audio else None
            result["rtf_p50"] = percentile(rtfs, 50)
            result["audio_seconds"] = audio
            result["examples"] = samples
    return result


def trimmed(pcm: bytes, threshold: int = 100) -> bytes:
    """``pcm`` without the silence eSpeak NG puts before and after the words, so the end of
    the audio is the end of speech."""
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)) > threshold)
    if not loud.size:
        return pcm
    return pcm[2 * int(loud[0]) : 2 * (int(loud[-1]) + 1)]


def espeak_items(voice: str, sentences: tuple[str, ...]) -> list[tuple[str, bytes]]:
    from trio_realtime.server._speech._voice import Voice

    speaker = Voice()
    return [(s, trimmed(speaker.speak(s, voice, "pcm16"))) for s in sentences]


def recording_items(directory: Path) -> list[tuple[str, bytes]]:
    items = []
    for wav in sorted(directory.glob("*.wav")):
        text = wav.with_suffix(".txt")
        if not text.is_file():
            continue
        audio = read_wav(wav)
        pcm = to_protocol(audio.mono(), audio.sample_rate, "pcm16")
        items.append((text.read_text().strip(), pcm))
    return items


def piper_items(model: str, sentences: tuple[str, ...]) -> list[tuple[str, bytes]]:
    from piper import PiperVoice  # type: ignore[import-not-found]

    voice = PiperVoice.load(model)
    items = []
    for s in sentences:
        pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(s))
        samples = np.frombuffer(pcm, dtype="<i2")
        items.append((s, to_protocol(samples, voice.config.sample_rate, "pcm16")))
    return items


async def quality(args: argparse.Namespace) -> list[dict[str, Any]]:
    from trio_realtime.server._speech._engine import CMN_PRIOR
    from trio_realtime.server._speech._recogniser import RecogniserPool
    from trio_realtime.server._speech._voice import variant_for

    sentences = SENTENCES[:2] if args.quick else SENTENCES
    voices = VOICE_ROWS[:1] if args.quick else VOICE_ROWS
    sets: list[tuple[str, list[tuple[str, bytes]]]] = [
        (f"eSpeak NG {variant_for(v)} (voice {v})", espeak_items(v, sentences)) for v in voices
    ]
    if args.recordings:
        sets.append((f"real recordings ({args.recordings})", recording_items(args.recordings)))
    if args.piper:
        sets.append(
            (f"piper {Path(args.piper).stem} (not the extra)", piper_items(args.piper, sentences))
        )
    pool = RecogniserPool(1)
    rows = []
    try:
        for name, items in sets:
            row = {"set": name, **await recognise_set(pool, CMN_PRIOR, items)}
            rows.append(row)
            print(
                f"  {name}: WER {row['wer_first_turn']:.3f} first turn, "
                f"{row['wer_in_session']:.3f} in a session; RTF {row['rtf']:.3f}",
                flush=True,
            )
    finally:
        await pool.aclose()
    return rows


# --- machine load --------------------------------------------------------------------------------


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_ticks_of(pid: int) -> int:
    """utime + stime of ``pid`` and its live descendants (found by parent pid), in ticks.

    (``/proc/PID/task/TID/children`` would miss the recognisers: trio spawns them from
    worker threads that exit later.)
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if fields is None:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree = {pid}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(ticks.get(p, 0) for p in tree)


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class LoadMeter:
    """CPU of a server tree, this process and everything else, between start and stop."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._t0 = time.monotonic()
        self._server0 = _cpu_ticks_of(server_pid)
        self._self0 = time.process_time()
        self._busy0, _ = _machine_ticks()

    def stop(self) -> dict[str, float]:
        hz = os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - self._t0
        server = (_cpu_ticks_of(self.server_pid) - self._server0) / hz
        mine = time.process_time() - self._self0
        busy, _ = _machine_ticks()
        machine = (busy - self._busy0) / hz
        return {
            "seconds": wall,
            "server_cpu_percent": 100 * server / wall,
            "client_cpu_percent": 100 * mine / wall,
            "other_cpu_percent": max(0.0, 100 * (machine - server - mine) / wall),
            "loadavg_1min": os.getloadavg()[0],
        }


# --- concurrent sessions -------------------------------------------------------------------------


async def start_server(recognisers: int) -> tuple[trio.Process, str]:
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "trio_realtime",
            "serve",
            "--port",
            "0",
            "--realistic",
            "--engine",
            "speech",
            "--recognisers",
            str(recognisers),
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    data = b""
    with trio.fail_after(120):
        while b"\nengine:" not in data and not data.startswith(b"engine:"):
            chunk = await process.stdout.receive_some(4096)
            if not chunk:
                raise RuntimeError(f"the server did not start: {data!r}")
            data += chunk
    url = data.split(b"listening on ", 1)[1].split()[0].decode()
    return process, url


async def one_session(
    url: str,
    index: int,
    n: int,
    turns: list[tuple[str, bytes]],
    turn_s: float,
    out: list[dict[str, Any]],
) -> None:
    """Stream ``turns`` (the first a warm-up) at real time; record each turn's latency."""
    sent_end: list[float] = []  # when the last chunk of each turn's speech went out
    stopped: dict[str, float] = {}
    order: list[str] = []
    completed: dict[str, tuple[float, str]] = {}
    all_done = trio.Event()
    async with rt.connect(intent="transcription", url=url, api_key="bench") as session:
        await session.update_transcription_session(
            rt.TranscriptionSession(
                input_audio_transcription=rt.InputAudioTranscription(model="gpt-4o-transcribe")
            )
        )
        await session.wait_for(rt.TranscriptionSessionUpdated, timeout=30)

        async def read() -> None:
            async for event in session:
                now = trio.current_time()
                if isinstance(event, rt.InputAudioBufferSpeechStopped):
                    stopped[event.item_id] = now
                elif isinstance(event, rt.InputAudioBufferCommitted):
                    order.append(event.item_id)
                elif isinstance(event, rt.InputAudioTranscriptionCompleted):
                    completed[event.item_id] = (now, event.transcript)
                    if len(completed) >= len(turns):
                        all_done.set()
                        return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await trio.sleep(turn_s * index / n)  # sessions spread evenly over one turn
            step = CHUNK_MS * 48
            start = trio.current_time()
            sent = 0
            for _text, pcm in turns:
                audio = pcm + silence(TURN_SILENCE_MS)
                for offset in range(0, len(audio), step):
                    await trio.sleep_until(start + sent * CHUNK_MS / 1000)
                    await session.append_audio(audio[offset : offset + step])
                    sent += 1
                    if offset < len(pcm) <= offset + step:
                        sent_end.append(trio.current_time())
            with trio.move_on_after(10):
                await all_done.wait()
            nursery.cancel_scope.cancel()
    for k, (text, _pcm) in enumerate(turns):
        item = order[k] if k < len(order) else None
        done = completed.get(item) if item is not None else None
        out.append(
            {
                "session": index,
                "turn": k,
                "warmup": k == 0,
                "said": text,
                "heard": done[1] if done else None,
                "latency_ms": (done[0] - sent_end[k]) * 1000
                if done and k < len(sent_end)
                else None,
                "after_stopped_ms": (done[0] - stopped[item]) * 1000
                if done and item in stopped
                else None,
            }
        )


async def concurrency(args: argparse.Namespace) -> list[dict[str, Any]]:
    from trio_realtime.server._speech._voice import VOICES, Voice

    speaker = Voice()
    voices = sorted(set(VOICES))
    rows = []
    for n in args.sessions:
        process, url = await start_server(n)
        try:
            turns_of: list[list[tuple[str, bytes]]] = []
            for i in range(n):
                chosen = [SENTENCES[(i * 7 + k) % len(SENTENCES)] for k in range(args.turns + 1)]
                voice = voices[i % len(voices)]
                turns_of.append([(s, trimmed(speaker.speak(s, voice, "pcm16"))) for s in chosen])
            longest = max(len(p) for turns in turns_of for _, p in turns) / 48_000
            turn_s = longest + TURN_SILENCE_MS / 1000
            results: list[dict[str, Any]] = []
            meter = LoadMeter(process.pid)
            with trio.fail_after(60 + turn_s * (args.turns + 3)):
                async with trio.open_nursery() as nursery:
                    for i in range(n):
                        nursery.start_soon(one_session, url, i, n, turns_of[i], turn_s, results)
            load = meter.stop()
        finally:
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
        measured = [r for r in results if not r["warmup"]]
        latencies = [r["latency_ms"] for r in measured if r["latency_ms"] is not None]
        after = [r["after_stopped_ms"] for r in measured if r["after_stopped_ms"] is not None]
        missing = sum(r["heard"] is None for r in measured)
        errors = sum(edit_distance(words(r["said"]), words(r["heard"] or "")) for r in measured)
        total = sum(len(words(r["said"])) for r in measured)
        p95 = percentile(latencies, 95)
        row = {
            "sessions": n,
            "recognisers": n,
            "turns": len(measured),
            "missing": missing,
            "latency_ms": {
                p: percentile(latencies, q) for p, q in (("p50", 50), ("p95", 95), ("max", 100))
            },
            "after_speech_stopped_ms": {
                p: percentile(after, q) for p, q in (("p50", 50), ("p95", 95), ("max", 100))
            },
            "wer": errors / max(1, total),
            "holds": missing == 0 and p95 is not None and p95 <= LATENCY_BUDGET_MS,
            "load": load,
            "turn_results": results,
        }
        rows.append(row)
        lat = row["latency_ms"]
        print(
            f"  N={n}: latency p50 {fmt(lat['p50'])} p95 {fmt(lat['p95'])} max {fmt(lat['max'])} ms, "
            f"missing {missing}, WER {row['wer']:.3f}, server CPU {load['server_cpu_percent']:.0f}%, "
            f"other load {load['other_cpu_percent']:.0f}% -> {'holds' if row['holds'] else 'does not hold'}",
            flush=True,
        )
    return rows


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


# --- report --------------------------------------------------------------------------------------


def print_tables(report: dict[str, Any]) -> None:
    print()
    print("1. word error rate (pocketsphinx en-US, as the engine runs it)")
    print(
        f"  {'set':<52} {'utts':>4} {'words':>5} {'WER 1st turn':>12} {'WER session':>11} {'RTF':>6}"
    )
    for row in report["quality"]:
        print(
            f"  {row['set']:<52} {row['utterances']:>4} {row['words']:>5} "
            f"{row['wer_first_turn']:>12.3f} {row['wer_in_session']:>11.3f} {row['rtf']:>6.3f}"
        )
    print()
    print("2. real-time factor per stream: recogniser CPU s per audio s (above, column RTF)")
    rtfs = [row["rtf"] for row in report["quality"] if row["rtf"] is not None]
    if rtfs:
        print(f"  mean over sets {sum(rtfs) / len(rtfs):.3f}")
    if report["concurrency"]:
        print()
        print(
            f"3. concurrent transcription sessions, latency end of speech -> completed (budget {LATENCY_BUDGET_MS:.0f} ms)"
        )
        print(
            f"  {'N':>3} {'turns':>5} {'miss':>4} {'p50':>6} {'p95':>6} {'max':>6} {'stop->done p95':>14} {'WER':>6} {'server%':>7} {'other%':>6}  holds"
        )
        for row in report["concurrency"]:
            lat, after, load = row["latency_ms"], row["after_speech_stopped_ms"], row["load"]
            print(
                f"  {row['sessions']:>3} {row['turns']:>5} {row['missing']:>4} {fmt(lat['p50']):>6} "
                f"{fmt(lat['p95']):>6} {fmt(lat['max']):>6} {fmt(after['p95']):>14} {row['wer']:>6.3f} "
                f"{load['server_cpu_percent']:>7.0f} {load['other_cpu_percent']:>6.0f}  "
                f"{'yes' if row['holds'] else 'no'}"
            )
        held = [row["sessions"] for row in report["concurrency"] if row["holds"]]
        print(f"  most concurrent sessions holding the budget: {max(held) if held else 0}")


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--recordings", type=Path, help="a directory of NAME.wav + NAME.txt")
    parser.add_argument("--piper", help="also score this piper voice (MODEL.onnx)")
    parser.add_argument(
        "--sessions", type=_sizes, default=[1, 2, 4, 6, 8, 10], help="N to try (1,2,4,6,8,10)"
    )
    parser.add_argument("--turns", type=int, default=3, help="measured turns per session (3)")
    parser.add_argument("--no-concurrency", action="store_true", help="skip part 3")
    parser.add_argument("--no-quality", action="store_true", help="skip parts 1 and 2")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few sentences, N=1")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument(
        "--results", action="store_true", help="commit-ready results in benchmarks/results/"
    )
    parser.add_argument("--provisional", metavar="WHY", help="mark those results provisional")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.turns = [1], 1
    from trio_realtime.server._speech import missing_packages

    if missing_packages():
        print(
            f"needs {', '.join(missing_packages())}: pip install 'trio-realtime[speech]'",
            file=sys.stderr,
        )
        return 2
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_before": os.getloadavg(),
    }
    report["quality"] = []
    if not args.no_quality:
        print("1-2. recognition quality and cost", flush=True)
        report["quality"] = trio.run(quality, args)
    report["concurrency"] = []
    if not args.no_concurrency:
        print("3. concurrent sessions", flush=True)
        report["concurrency"] = trio.run(concurrency, args)
    report["loadavg_after"] = os.getloadavg()
    print_tables(report)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(f"\nJSON report: {args.json}")
    if args.results:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _results import write_result

        compact = {
            **report,
            "concurrency": [
                {k: v for k, v in step.items() if k != "turn_results"}
                for step in report["concurrency"]
            ],
        }
        command = ["python", "benchmarks/bench_speech.py", *(argv or sys.argv[1:])]
        path = write_result("speech", compact, command=command, provisional=args.provisional)
        print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
