"""Seeded fuzzing of the reference server over real sockets: events, frames, upgrade requests.

Rules these tests follow: one seed per run (``TRIO_REALTIME_FUZZ_SEED`` overrides it), a fixed
number of cases, a deadline per case and per run, the real server on loopback. Each case is
sent, followed by a *probe* (an event of an unknown type, whose ``error`` echoes the probe's
``event_id``), so the answer to the case is everything the server sends before the probe's
error: proof that the case was handled and that the same connection is still served.

* **Events** (text frames whose JSON, or bytes, were mutated): the probe must be answered;
  anything that is not an object with a known ``type`` must get an ``error``; a payload that
  is not UTF-8 must get close 1007.
* **Frames** (mutated WebSocket framing): wsproto, an independent RFC 6455 implementation,
  reads the same bytes and says what must happen: a protocol error with its close code,
  a close the server must echo, or messages the server must answer (then the probe).
* **Upgrade requests** (mutated HTTP): every one gets an HTTP answer (101 or an error
  status) or, cut short, a quiet close.

After a close the next case gets a new connection. No exception may escape the server:
``open_local_server`` raises any it recorded, and ``errors`` must stay empty. The counts are
printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import base64
import collections
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import trio
from fuzz_mutations import dumps, mutate_bytes, mutated_message
from raw_wire import (
    RawConnection,
    frame,
    raw_connection,
    text,
    upgrade_request,
    upgraded,
)
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed

from trio_realtime._wire._frames import CLOSE, ControlFrame, parse_close
from trio_realtime.testing import open_local_server

SEED = int(os.environ.get("TRIO_REALTIME_FUZZ_SEED", "20261207"))
EVENT_CASES = 2000
FRAME_CASES = 1000
REQUEST_CASES = 300
MAX_MESSAGE = 64 * 1024
CASE_DEADLINE = 5.0
RUN_DEADLINE = 120.0

CLIENT_TYPES = frozenset(
    {
        "session.update",
        "transcription_session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "output_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.delete",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "response.create",
        "response.cancel",
    }
)
_AUDIO = base64.b64encode(bytes(2400)).decode()  # 50 ms of pcm16 silence
CORPUS: list[dict[str, Any]] = [
    {
        "type": "session.update",
        "event_id": "evt_1",
        "session": {
            "instructions": "Be brief.",
            "voice": "alloy",
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 200},
            "input_audio_transcription": {"model": "whisper-1"},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "temperature": 0.8,
            "max_response_output_tokens": 50,
        },
    },
    {
        "type": "transcription_session.update",
        "session": {"input_audio_transcription": {"model": "gpt-4o-transcribe"}},
    },
    {"type": "input_audio_buffer.append", "event_id": "evt_2", "audio": _AUDIO},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear", "event_id": "evt_3"},
    {"type": "output_audio_buffer.clear"},
    {
        "type": "conversation.item.create",
        "previous_item_id": None,
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hello"}],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    },
    {"type": "conversation.item.delete", "item_id": "item_1"},
    {"type": "conversation.item.retrieve", "item_id": "item_1"},
    {
        "type": "conversation.item.truncate",
        "item_id": "item_1",
        "content_index": 0,
        "audio_end_ms": 100,
    },
    {
        "type": "response.create",
        "response": {
            "modalities": ["text"],
            "instructions": "Say hi.",
            "conversation": "none",
            "metadata": {"k": "v"},
            "input": [],
        },
    },
    {"type": "response.cancel", "response_id": "resp_1"},
]


class Tally(collections.Counter[str]):
    """Outcome counts, and the cases that went wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.wrong: list[str] = []

    def fail(self, what: str) -> None:
        self.wrong.append(what)


@asynccontextmanager
async def session(port: int, rng: random.Random) -> AsyncIterator[RawConnection]:
    target = rng.choice(["/v1/realtime?model=gpt-realtime", "/v1/realtime?intent=transcription"])
    async with upgraded(port, upgrade_request(target)) as conn:
        first = await conn.event()
        assert first["type"].endswith("session.created"), first
        yield conn


async def answer(
    conn: RawConnection, probe_id: str
) -> tuple[str, list[dict[str, Any]], int | None]:
    """What the server sent before the probe's error: ``("probe", events, None)``, or
    ``("close", events, code)``, or ``("eof", events, None)``."""
    events: list[dict[str, Any]] = []
    while True:
        item = await conn.next_frame()
        if item is None:
            return "eof", events, None
        if isinstance(item, ControlFrame):
            if item.opcode == CLOSE:
                code, _reason = parse_close(item.payload)
                await conn.send(frame(0x8, item.payload[:2]))
                return "close", events, code
            continue  # a pong
        event = orjson.loads(item)
        if event.get("type") == "error" and event["error"].get("event_id") == probe_id:
            return "probe", events, None
        events.append(event)


def probe(number: int) -> tuple[str, bytes]:
    probe_id = f"probe_{number}"
    return probe_id, text(orjson.dumps({"type": "fuzz.probe", "event_id": probe_id}))


def oracle(data: bytes) -> tuple[str, int | None]:
    """What RFC 6455 says of ``data`` (client frames), per wsproto: ``("fail", code)``,
    ``("close", code)`` (a close frame first), or ``("ok", None)``."""
    reader = FrameProtocol(client=False, extensions=[])
    reader.receive_bytes(data)
    try:
        for received in reader.received_frames():
            if received.opcode is Opcode.CLOSE:
                code, _reason = received.payload
                return "close", int(code)
    except ParseFailed as exc:
        return "fail", int(exc.code)
    return "ok", None


def expects_error(payload: bytes) -> bool:
    """Whether a text message with this payload must get an ``error`` event."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return True
    kind = value.get("type") if isinstance(value, dict) else None
    return not (isinstance(kind, str) and kind in CLIENT_TYPES)


# --- Mutated frames ----------------------------------------------------------------------------


def mutated_frame(rng: random.Random, payload: bytes) -> tuple[str, bytes, int | None]:
    """A mutation of the frame carrying ``payload``: its name, its bytes, and the close code
    the server must send when the oracle cannot say (1009: wsproto has no size limit)."""
    kind = rng.randrange(12)
    if kind == 0:
        return "reserved bits", frame(0x1, payload, rsv=rng.randrange(1, 8)), None
    if kind == 1:
        opcode = rng.randrange(16)
        body = payload if opcode < 8 else payload[: rng.choice([0, 2, 125, 126, 200])]
        return f"opcode {opcode:#x}", frame(opcode, body), None
    if kind == 2:
        return "unmasked", frame(0x1, payload, masked=False), None
    if kind == 3:
        return "not final", frame(0x1, payload, fin=False), None
    if kind == 4:  # valid fragments, with control frames between them
        cuts = sorted(rng.sample(range(1, max(2, len(payload))), k=min(3, len(payload) - 1)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        frames = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            frames.append(frame(0x1 if index == 0 else 0x0, piece, fin=last))
            if not last and rng.random() < 0.5:
                frames.append(frame(rng.choice([0x9, 0xA]), os.urandom(rng.randrange(0, 20))))
        return "fragments", b"".join(frames), None
    if kind == 5:
        return (
            "bad UTF-8",
            frame(0x1, payload + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"])),
            None,
        )
    if kind == 6:
        length_bytes = rng.choice([2, 8])
        return "long length form", frame(0x1, payload, length_bytes=length_bytes), None
    if kind == 7:
        declared = rng.choice([MAX_MESSAGE + 1, 2**31, 2**40])
        return "over the size limit", frame(0x1, b"", length=declared)[:14], 1009
    if kind == 8:
        code = rng.choice([1000, 1001, 1002, 1003, 1005, 1006, 1015, 999, 2999, 3000, 4999, 5000])
        reason = rng.choice([b"", b"bye", b"\xff\xfe", b"x" * 123, b"x" * 124])
        body = code.to_bytes(2, "big") + reason if rng.random() < 0.9 else b"\x03"
        return "close frame", frame(0x8, body[:125] if rng.random() < 0.8 else body), None
    if kind == 9:
        return "ping", frame(0x9, os.urandom(rng.choice([0, 1, 125, 126]))), None
    if kind == 10:
        return "binary", frame(0x2, payload), None
    return "pong", frame(0xA, os.urandom(rng.randrange(0, 30))) + frame(0x1, payload), None


# --- The runs ----------------------------------------------------------------------------------


async def fuzz_connection_cases(
    port: int, rng: random.Random, tally: Tally, cases: int, *, frames: bool
) -> None:
    """``cases`` mutated events (or frames), on one connection until one closes it."""
    number = 0
    while number < cases:
        async with session(port, rng) as conn:
            while number < cases:
                number += 1
                event = rng.choice(CORPUS)
                probe_id, probe_frame = probe(number)
                if frames:
                    payload = dumps(event).encode()
                    name, data, must_close = mutated_frame(rng, payload)
                    expected = ("fail", must_close) if must_close else oracle(data + probe_frame)
                    to_send = data if must_close else data + probe_frame
                else:
                    payload = mutated_message(rng, event)
                    name, data = "event", frame(0x1, payload)
                    expected = oracle(data + probe_frame)
                    to_send = data + probe_frame
                await conn.send(to_send)
                with trio.move_on_after(CASE_DEADLINE) as waited:
                    outcome, events, code = await answer(conn, probe_id)
                if waited.cancelled_caught:
                    tally.fail(f"{name}: no answer within {CASE_DEADLINE} s")
                    break
                _judge(tally, name, payload, expected, outcome, events, code, frames=frames)
                if outcome != "probe":
                    break  # the connection is over: the next case gets a new one


def _judge(
    tally: Tally,
    name: str,
    payload: bytes,
    expected: tuple[str, int | None],
    outcome: str,
    events: list[dict[str, Any]],
    code: int | None,
    *,
    frames: bool,
) -> None:
    kind, expected_code = expected
    errors = [e for e in events if e.get("type") == "error"]
    prefix = "frame" if frames else "event"
    if outcome == "eof":
        tally.fail(f"{name}: TCP ended without a close frame (expected {expected})")
    elif kind in ("fail", "close"):
        if (outcome, code) != ("close", expected_code):
            tally.fail(f"{name}: {outcome} {code}, expected close {expected_code}")
        tally[f"{prefix}: closed {code}"] += 1
    elif outcome != "probe":
        tally.fail(f"{name}: {outcome} {code}, expected an answer")
    elif not frames and expects_error(payload) and not errors:
        tally.fail(f"event {payload[:80]!r}: no error")
    elif errors:
        tally[f"{prefix}: answered with error {errors[0]['error'].get('code')}"] += 1
    elif events:
        tally[f"{prefix}: accepted, answered with events"] += 1
    else:
        tally[f"{prefix}: accepted, nothing to answer"] += 1


async def fuzz_requests(port: int, rng: random.Random, tally: Tally, cases: int) -> None:
    for _ in range(cases):
        request = upgrade_request(rng.choice(["/v1/realtime?model=m", "/v1/realtime", "/x"]))
        head, _, _ = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        kind = rng.randrange(4)
        if kind == 0:
            del lines[rng.randrange(1, len(lines))]
        elif kind == 1:
            at = rng.randrange(1, len(lines))
            lines[at] = mutate_bytes(rng, lines[at])
        elif kind == 2:
            lines.insert(rng.randrange(1, len(lines) + 1), mutate_bytes(rng, b"X-Extra: value"))
        else:
            lines[0] = mutate_bytes(rng, lines[0])
        data = b"\r\n".join(lines) + b"\r\n\r\n"
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        async with raw_connection(port) as conn:
            await conn.send(data)
            await conn.stream.send_eof()
            with trio.move_on_after(CASE_DEADLINE):
                answer_bytes = await conn.http_answer()
                status = answer_bytes[9:12].decode("latin-1") if answer_bytes else "none"
                if answer_bytes and not answer_bytes.startswith(b"HTTP/1.1 "):
                    tally.fail(f"request {data[:60]!r}: answer {answer_bytes[:40]!r}")
                tally[f"request: HTTP {status}" if answer_bytes else "request: closed quietly"] += 1
                continue
            tally.fail(f"request {data!r}: no answer within {CASE_DEADLINE} s")


async def test_fuzz_the_server_with_mutated_events_frames_and_requests() -> None:
    rng = random.Random(SEED)
    tally = Tally()
    with trio.fail_after(RUN_DEADLINE):
        async with open_local_server(max_message_size=MAX_MESSAGE) as server:
            await fuzz_connection_cases(server.port, rng, tally, EVENT_CASES, frames=False)
            await fuzz_connection_cases(server.port, rng, tally, FRAME_CASES, frames=True)
            await fuzz_requests(server.port, rng, tally, REQUEST_CASES)
            for info in server.connections:
                await info.wait_ended()
            assert server.errors == ()
    print(f"\nserver fuzz, seed {SEED}:")
    for outcome, count in sorted(tally.items()):
        print(f"  {count:5d}  {outcome}")
    assert tally.wrong == []
    assert sum(n for k, n in tally.items() if not k.startswith("request")) >= 2000
    assert sum(n for k, n in tally.items() if k.startswith("event")) == EVENT_CASES
