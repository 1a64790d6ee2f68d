"""Seeded fuzzing of the client with mutated server events: each one delivered, none costly.

Rules these tests follow: one seed per run (``TRIO_REALTIME_FUZZ_SEED`` overrides it), a fixed
number of cases. The events to mutate are a realistic stream: whole sessions of the reference
server's protocol core (VAD turns with transcripts, spoken, text and tool replies, truncation,
deletion, retrieval), made without a socket by ``server_helpers.Harness``. Each event is
mutated (its JSON, or its bytes) or passed as it is, in order, so mutated indexes and ids
meet a conversation that has real items.

* **Sans-I/O** (the bulk, for speed): each frame goes the way the session's receiver takes
  it: ``decode`` (a :class:`~trio_realtime.DecodeFailure` when it fails), the recorder, the
  :class:`~trio_realtime.Conversation`, and the barge-in decision on ``speech_started``.
  Nothing may raise, and the memory one event allocates is bounded (``tracemalloc``).
* **On the wire**: a scripted server sends mutated frames to a real session, which must
  yield every one, as an event or a ``DecodeFailure``, and end normally at the close.

The counts are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import collections
import io
import os
import random
import tracemalloc
from typing import Any

import orjson
import trio
from fake_server import ServerConnection, client, fake_server
from fuzz_mutations import mutated_message
from server_helpers import FakeEngine, Harness, audio_reply, call_reply

import trio_realtime as rt
from trio_realtime import Conversation, decode
from trio_realtime._core._playback import Playback
from trio_realtime._core._recording import Recorder
from trio_realtime.audio import silence, speech_like
from trio_realtime.server import PlannedText

SEED = int(os.environ.get("TRIO_REALTIME_FUZZ_SEED", "20261207"))
SANS_IO_CASES = 2400
WIRE_CASES = 2500
MUTATION_RATE = 0.6
#: What one event may allocate beyond this many times its own size.
EVENT_BUDGET = 512 * 1024
EVENT_BUDGET_PER_BYTE = 16


def session_stream() -> list[bytes]:
    """Every server event of a few realistic turns, as wire JSON."""
    replies = iter(
        [
            (audio_reply("Sure, here you go.", ms=600),),
            (PlannedText(text="A text answer."),),
            (call_reply(),),
            (audio_reply("And more.", ms=300), PlannedText(text="with text")),
        ]
        * 3
    )
    engine = FakeEngine(outputs=lambda _request: next(replies), transcript="hello there")
    h = Harness(engine=engine, send_conversation_created=True)
    h.update(input_audio_transcription={"model": "whisper-1"})
    speech = speech_like(900, seed=1) + silence(700)
    for chunk in range(0, len(speech), 4800):
        h.append(speech[chunk : chunk + 4800])
    h.run_until_idle()
    h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "and now?"}],
            },
        }
    )
    for _ in range(3):
        h.send({"type": "response.create"})
        h.run_until_idle()
    items = [e["item"]["id"] for e in h.log if e["type"] == "conversation.item.created"]
    h.send({"type": "conversation.item.retrieve", "item_id": items[0]})
    assistant = [e for e in h.log if e["type"] == "response.audio.done"]
    if assistant:
        item_id = assistant[0]["item_id"]
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 100,
            }
        )
    h.send({"type": "conversation.item.delete", "item_id": items[-1]})
    h.send({"type": "no.such.event", "event_id": "evt_x"})
    return [orjson.dumps(event) for event in h.log]


def mutated(rng: random.Random, wire: bytes) -> str | bytes:
    """A mutated frame: its text (from mutated JSON or bytes), or as a binary frame."""
    payload = mutated_message(rng, orjson.loads(wire))
    if rng.random() < 0.05:
        return payload  # a binary frame
    return payload.decode("utf-8", "replace")


class Receiver:
    """What the session's receiver does with a frame, without the session."""

    def __init__(self) -> None:
        self.conversation = Conversation(keep_audio_seconds=5)
        self.playback = Playback(self.conversation)
        self.recorder = Recorder(io.BytesIO(), secrets=["sk-fuzz-0123456789abcdef"])
        self.counts: collections.Counter[str] = collections.Counter()

    def receive(self, frame: str | bytes) -> object:
        event: Any
        try:
            event = decode(frame)
        except rt.ProtocolError as exc:
            event = rt.DecodeFailure(raw=frame, error=exc)
        self.recorder.record("server", getattr(event, "type", ""), frame)
        if isinstance(event, rt.ServerEvent | rt.UnknownEvent):
            self.conversation.apply(event)
        if isinstance(event, rt.InputAudioBufferSpeechStarted):
            for item in self.conversation.items[-3:]:
                self.playback.played(item.id, 50.0)
            self.playback.barge_in(event)
        return event


def test_fuzz_the_client_state_with_mutated_server_events() -> None:
    rng = random.Random(SEED)
    stream = session_stream()
    counts: collections.Counter[str] = collections.Counter()
    worst = 0.0
    anomalies = 0
    tracemalloc.start()
    try:
        while counts["mutated"] < SANS_IO_CASES:
            receiver = Receiver()
            for wire in stream:
                frame: str | bytes = wire.decode()
                if rng.random() < MUTATION_RATE:
                    frame = mutated(rng, wire)
                    counts["mutated"] += 1
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                event = receiver.receive(frame)
                used = tracemalloc.get_traced_memory()[1] - before
                allowed = EVENT_BUDGET + EVENT_BUDGET_PER_BYTE * len(frame)
                assert used <= allowed, (frame[:200], used)
                worst = max(worst, used / allowed)
                kind = type(event).__name__
                counts[
                    "decode failure"
                    if kind == "DecodeFailure"
                    else "unknown event"
                    if kind == "UnknownEvent"
                    else "typed event"
                ] += 1
            anomalies += receiver.conversation.anomaly_count
            receiver.recorder.close()
    finally:
        tracemalloc.stop()
    fed = sum(counts.values()) - counts["mutated"]
    print(
        f"\nclient fuzz (sans-I/O), seed {SEED}: {fed} events fed, {counts['mutated']} of them"
        f" mutated; delivered as {counts['typed event']} typed events,"
        f" {counts['unknown event']} unknown events, {counts['decode failure']} decode"
        f" failures; {anomalies} anomalies recorded; the costliest event used {worst:.0%} of"
        " its memory budget"
    )
    assert counts["mutated"] >= SANS_IO_CASES
    assert counts["decode failure"] > 0
    assert counts["typed event"] > 0


async def test_fuzz_a_real_session_with_mutated_server_frames() -> None:
    rng = random.Random(SEED + 1)
    stream = session_stream()
    frames: list[str | bytes] = [stream[0].decode()]  # session.created, as it is
    mutations = 0
    while len(frames) < WIRE_CASES:
        for wire in stream[1:]:
            if rng.random() < MUTATION_RATE:
                frames.append(mutated(rng, wire))
                mutations += 1
            else:
                frames.append(wire.decode())

    async def script(conn: ServerConnection) -> None:
        for frame in frames:
            await conn.send(frame)
        await conn.close(1000, "done")

    received: list[Any] = []
    with trio.fail_after(60):
        async with (
            fake_server(script) as server,
            client(server, handle_interruptions=False) as session,
        ):
            async for event in session:
                received.append(event)
    kinds = collections.Counter(
        "decode failure"
        if isinstance(e, rt.DecodeFailure)
        else "unknown event"
        if isinstance(e, rt.UnknownEvent)
        else "typed event"
        for e in received
    )
    print(
        f"\nclient fuzz (wire), seed {SEED + 1}: {len(frames)} frames sent, {mutations}"
        f" mutated; delivered as {dict(kinds)}"
    )
    assert len(received) == len(frames)
    assert session.conversation is not None
