"""``trio-realtime replay``: a recorded session rebuilt offline, or re-sent to a server.

::

    trio-realtime talk --record session.jsonl
    trio-realtime replay session.jsonl                 # transcripts, latencies, usage
    trio-realtime replay session.jsonl --json          # the same as one JSON object
    trio-realtime replay session.jsonl --send          # re-send to an embedded server
    trio-realtime replay session.jsonl --send --url wss://... --speed 2

**Offline** (the default) the recording (see :mod:`trio_realtime._core._recording`) is fed through a
:class:`~trio_realtime.Conversation` and a :class:`~trio_realtime.TurnTimer`, exactly as the live
session was: it prints every item's text or transcript, each turn's latencies as measured at
recording time, the token usage, and the server errors. ``--json`` prints one JSON object::

    {"recording": PATH, "url": URL, "model": M, "intent": I, "started_at": UNIX_TIME,
     "events": N, "decode_failures": N, "duration_s": S, "items": [{"id", "type", "role", "status", "text",
     "transcript", "input_transcript", "audio_ms", "name", "arguments", "output"}, ...],
     "turns": [{"item_id", "response_id", "trigger", "end_of_speech", "audio_end_ms",
     "first_input_transcript", "input_transcript_done", "first_audio", "first_text",
     "response_done", "response_status"}, ...], "usage": {...}, "errors": [...],
     "anomalies": N}

Turn times are seconds (``end_of_speech`` on the recording's clock, the others after it).

**With --send** the recording's client events are sent again, in a new session with the same
model (or intent), with their original timing relative to the first (``--speed X`` scales it,
``--fast`` sends them as fast as possible), and the new session is shown live as ``talk``
shows one; it ends once the server has answered as often as it did in the recording.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import attrs
import orjson
import trio

from .._core._conversation import Conversation
from .._core._events import ErrorDetails
from .._core._events._server import ErrorEvent
from .._core._recording import Recording, read_recording
from .._core._unset import UNSET
from .._session._replay import (
    TurnLatency,
    TurnTimer,
    conversation_from_recording,
    recorded_target,
    resend_recording,
    turn_latencies,
)
from ._common import (
    EXIT_CODES_HELP,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_SESSION,
    EXIT_USAGE,
    add_server_arguments,
    check_output_path,
    connect_to,
    fail,
    open_target,
    positive_float,
    run_trio,
)
from ._console import Console, OrderedLines, show_progress
from ._report import (
    ConversationView,
    describe_item,
    describe_turn,
    describe_usage,
    item_json,
    turn_json,
    usage_json,
)
from ._session import LiveSession

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``replay``'s arguments."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument(
        "recording", metavar="RECORDING", help="a recording (from --record or connect(record=))"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (see the module docstring)"
    )
    parser.add_argument(
        "--send",
        action="store_true",
        help="re-send the recorded client events to a server (embedded unless --url)",
    )
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=1.0,
        metavar="X",
        help="with --send: replay X times faster than recorded (1)",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="with --send: send as fast as possible (and an unpaced embedded server)",
    )
    parser.add_argument("--model", help="with --send: use this model instead of the recorded one")
    add_server_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``replay``; returns the exit status."""
    if not args.send:
        used = [
            flag
            for flag, value in (
                ("--url", args.url),
                ("--record", args.record),
                ("--model", args.model),
                ("--fast", args.fast or None),
                ("--speed", None if args.speed == 1.0 else args.speed),
            )
            if value is not None
        ]
        if used:
            print(f"trio-realtime replay: {', '.join(used)} only go with --send", file=sys.stderr)
            return EXIT_USAGE
    console = Console(sys.stdout, sys.stderr, quiet=args.quiet)
    if args.send:
        return run_trio("replay", lambda: _send(args, console))
    return run_trio("replay", lambda: _offline(args, console))


def load(path: str) -> tuple[Recording, Conversation]:
    """Read and rebuild a recording; any problem with it is exit 3, in one line."""
    try:
        recording = read_recording(path)
        return recording, conversation_from_recording(recording)
    except FileNotFoundError:
        fail(EXIT_INPUT, f"{path}: no such file")
    except IsADirectoryError:
        fail(EXIT_INPUT, f"{path}: is a directory, not a recording")
    except PermissionError:
        fail(EXIT_INPUT, f"{path}: permission denied")
    except OSError as exc:
        fail(EXIT_INPUT, f"{path}: cannot read: {exc.strerror or exc}")
    except ValueError as exc:  # read_recording's messages name the file (and the line)
        message = str(exc)
        fail(EXIT_INPUT, message if message.startswith(path) else f"{path}: {message}")


def _error_json(error: ErrorDetails) -> dict[str, Any]:
    return {k: v for k, v in attrs.asdict(error).items() if v is not UNSET and k != "extra"}


def report_json(
    conversation: Conversation, turns: tuple[TurnLatency, ...], errors: list[ErrorDetails]
) -> dict[str, Any]:
    """The part of the ``--json`` object that describes a session: items, turns, usage, errors."""
    return {
        "items": [item_json(item) for item in conversation.items],
        "turns": [turn_json(turn) for turn in turns],
        "usage": usage_json(conversation.usage_totals),
        "errors": [_error_json(error) for error in errors],
        "anomalies": conversation.anomaly_count,
    }


def summary(
    path: str,
    recording: Recording,
    conversation: Conversation,
    turns: tuple[TurnLatency, ...],
) -> dict[str, Any]:
    """The ``--json`` object for a recording (see the module docstring)."""
    model, intent = recorded_target(recording)
    times = [e.t for e in recording.events]
    errors = [e.event.error for e in recording.events if isinstance(e.event, ErrorEvent)]
    return {
        "recording": path,
        "url": recording.header.get("url"),
        "model": model,
        "intent": intent,
        "started_at": recording.header.get("started_at"),
        "events": len(recording.events),
        "decode_failures": recording.decode_failures,
        "duration_s": round(max(times) - min(times), 6) if times else 0.0,
        **report_json(conversation, turns, errors),
    }


def describe(conversation: Conversation, turns: tuple[TurnLatency, ...]) -> list[str]:
    """The conversation's lines, each answered turn's latencies after its reply.

    A turn with a response is described after the response's last item; one without (a
    transcription session's) after its user item; any other at the end.
    """
    after: dict[str, list[str]] = {}
    ends: dict[str, str] = {}  # response id -> id of its last item in the conversation
    for item in conversation.items:
        if item.response_id is not None:
            ends[item.response_id] = item.id
    leftover = []
    for number, turn in enumerate(turns, start=1):
        line = describe_turn(number, turn)
        anchor = ends.get(turn.response_id or "") or (None if turn.response_id else turn.item_id)
        if anchor is None:
            leftover.append(line)
        else:
            after.setdefault(anchor, []).append(line)
    lines = []
    for item in conversation.items:
        text = describe_item(item)
        if text is not None:
            lines.append(text)
        lines.extend(after.pop(item.id, ()))
    return lines + [line for rest in after.values() for line in rest] + leftover


async def _offline(args: argparse.Namespace, console: Console) -> int:
    recording, conversation = load(args.recording)
    turns = turn_latencies(recording)
    data = summary(args.recording, recording, conversation, turns)
    if args.json:
        console.line(orjson.dumps(data).decode())
        return EXIT_OK
    console.line(
        f"recording: {args.recording}: {data['events']} events over {data['duration_s']:.2f} s, "
        f"{data['url'] or 'no URL'}"
    )
    for line in describe(conversation, turns):
        console.line(line)
    if conversation.responses:
        console.line(describe_usage(conversation.usage_totals))
    for error in data["errors"]:
        console.line(f"server error: {error.get('code') or error.get('type')}: {error['message']}")
    if conversation.anomaly_count:
        console.line(f"anomalies: {conversation.anomaly_count} events could not be placed")
    if recording.decode_failures:
        console.line(
            f"decode failures: {recording.decode_failures} frames could not be decoded "
            "(skipped, as the live session skipped them)"
        )
    return EXIT_OK


async def _send(args: argparse.Namespace, console: Console) -> int:
    recording, original = load(args.recording)
    model, intent = recorded_target(recording)
    if args.model is not None:
        model, intent = args.model, None
    if model is None and intent is None:
        fail(
            EXIT_INPUT,
            f"{args.recording}: the recording does not say which model it used; pass --model",
        )
    if args.record is not None:
        check_output_path(args.record, "recording")
    expected = sum(1 for response in original.responses if response.done)
    transcripts = any(item.input_transcript is not None for item in original.items)
    outgoing = sum(1 for e in recording.events if e.direction == "client")
    speed = math.inf if args.fast else args.speed
    async with (
        open_target(args.url, realistic=not args.fast, engine=args.engine) as target,
        connect_to(
            target,
            model=model,
            intent=intent,
            record=args.record,
            dialect=args.dialect or recording.header.get("dialect"),
        ) as session,
    ):
        pace = "as fast as possible" if math.isinf(speed) else f"at {speed:g}x speed"
        console.info(
            f"replay: re-sending {outgoing} client events of {args.recording} {pace} "
            f"to {target.description}"
        )
        if target.engine_note is not None:
            console.info(target.engine_note)
        timer = TurnTimer()
        lines = OrderedLines(console)
        conversation = session.conversation
        view = ConversationView(lines, timer, conversation)
        live = LiveSession(session, console, timer, [] if args.json else [view])
        sent = [0]

        def on_sent(t: float, event: Any) -> None:
            timer.sent(t, event)
            sent[0] += 1

        def progress() -> str:
            return f"re-sent {sent[0]}/{outgoing} events, {live.events} events received"

        def settled() -> bool:
            done = sum(1 for response in conversation.responses if response.done)
            turns = timer.turns
            return (
                conversation.active_response is None
                and done >= expected
                and (
                    not transcripts
                    or all(t.input_transcript_done is not None for t in turns if t.item_id)
                )
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.read)
            nursery.start_soon(show_progress, console, progress)
            await resend_recording(recording, session, speed=speed, on_sent=on_sent)
            await live.sync(transcription=intent is not None, within=args.timeout)
            await live.wait_until(settled, within=args.timeout, what="answers like the recording's")
            nursery.cancel_scope.cancel()
    if args.json:
        data = {
            "recording": args.recording,
            "url": target.url,
            "model": model,
            "intent": intent,
            "sent_events": sent[0],
            "events": live.events,
            **report_json(conversation, timer.turns, live.errors),
        }
        console.line(orjson.dumps(data).decode())
    else:
        view.close()
        if conversation.responses:
            console.line(describe_usage(conversation.usage_totals))
    return EXIT_SESSION if live.errors else EXIT_OK
