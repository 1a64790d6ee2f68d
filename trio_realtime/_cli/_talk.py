"""``trio-realtime talk``: speak a WAV file to a speech-to-speech session, save what comes back.

::

    trio-realtime talk                       # the bundled example, embedded server
    trio-realtime talk question.wav --out answer.wav --url wss://api.openai.com/v1/realtime

The file (any WAV: rate, width and channels are converted to 24 kHz mono PCM16) is streamed
at real time (``--fast``: as fast as possible) in 100 ms appends, followed by enough silence
for server VAD to end the turn; with ``--manual`` VAD is off and the client commits the audio
and asks for a response itself. The session transcribes the user's audio (``whisper-1``) and
answers with audio and its transcript. Printed, in order: a ``you:`` line per user turn, an
``assistant:`` line per reply (both streaming as deltas arrive), and each turn's latencies,
then where the reply audio was saved and the token usage.

Latencies are measured on trio's clock from the end of the user's speech to the arrival of the
first audio delta, the first transcript delta and ``response.done`` (and the user's transcript);
the end of speech is when the client sent the audio that server VAD's ``audio_end_ms`` points
at, or the commit (see :mod:`trio_realtime._session._replay` for the exact definitions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

import attrs
import trio

from .._core._audio import PCM16, duration_ms, from_protocol, silence, to_protocol
from .._core._conversation import Conversation
from .._core._events._client import InputAudioBufferCommit, ResponseCreate
from .._core._events._objects import InputAudioTranscription, Session
from .._core._unset import UNSET
from .._session._pump import AudioStream
from .._session._replay import TurnTimer
from ._common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SESSION,
    EXIT_USAGE,
    add_server_arguments,
    check_output_path,
    connect_to,
    fail,
    load_input,
    open_target,
    run_trio,
    save_wav,
)
from ._console import Console, OrderedLines, show_progress
from ._report import ConversationView, describe_usage
from ._session import LiveSession, trailing_silence_ms

__all__ = ["configure", "reply_audio", "run"]

DEFAULT_MODEL: Final = "gpt-4o-realtime-preview"
TRANSCRIPTION_MODEL: Final = "whisper-1"
#: How long server VAD may take to notice the end of speech after the trailing silence.
_VAD_GRACE: Final = 2.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``talk``'s arguments."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="a WAV file (any rate, width, channels); default: the bundled example",
    )
    parser.add_argument(
        "--example", action="store_true", help="use the bundled example (the default without FILE)"
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="where to save the reply audio (24 kHz mono WAV); default: FILE-reply.wav next "
        "to FILE, or reply.wav for the example",
    )
    parser.add_argument(
        "--manual",
        action="store_true",
        help="turn server VAD off: commit the whole file as one turn and ask for a response",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="send the audio as fast as possible, not at real time (and the embedded server "
        "answers unpaced)",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"the model ({DEFAULT_MODEL})")
    parser.add_argument("--voice", help="the assistant's voice (the server's default)")
    parser.add_argument("--instructions", help="system instructions for the assistant")
    add_server_arguments(parser)


def _out_path(args: argparse.Namespace, name: str) -> str:
    if args.out is not None:
        return str(args.out)
    if args.file is None:
        return "reply.wav"
    path = Path(args.file)
    return str(path.with_name(f"{path.stem}-reply.wav"))


def reply_audio(conversation: Conversation) -> bytes:
    """Every assistant message's audio, in conversation order, as 24 kHz mono PCM16."""
    pieces = []
    for item in conversation.items:
        if item.role != "assistant" or not item.audio:
            continue
        fmt = item.audio_format or "pcm16"
        if fmt == PCM16.name:
            pieces.append(item.audio)
        else:
            samples, rate = from_protocol(item.audio, fmt)
            pieces.append(to_protocol(samples, rate, PCM16))
    return b"".join(pieces)


def run(args: argparse.Namespace) -> int:
    """Run ``talk``; returns the exit status."""
    if args.example and args.file is not None:
        print("trio-realtime talk: give FILE or --example, not both", file=sys.stderr)
        return EXIT_USAGE
    console = Console(sys.stdout, sys.stderr, quiet=args.quiet)
    return run_trio("talk", lambda: _talk(args, console))


async def _talk(args: argparse.Namespace, console: Console) -> int:
    name, pcm = load_input(args.file, console.message)
    out = _out_path(args, name)
    check_output_path(out, "reply audio")
    if args.record is not None:
        check_output_path(args.record, "recording")
    seconds = duration_ms(len(pcm), PCM16) / 1000
    async with (
        open_target(args.url, realistic=not args.fast, engine=args.engine) as target,
        connect_to(target, model=args.model, record=args.record, dialect=args.dialect) as session,
    ):
        console.info(f"talk: {name} ({seconds:.2f} s) to {target.description}")
        if target.engine_note is not None:
            console.info(target.engine_note)
        timer = TurnTimer()
        lines = OrderedLines(console)
        view = ConversationView(lines, timer, session.conversation)
        live = LiveSession(session, console, timer, [view])
        state = _Progress(name, seconds, live)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.read)
            nursery.start_soon(show_progress, console, state.render)
            await _configure(live, args)
            state.phase = "speaking"
            tail = (
                b"" if args.manual else silence(trailing_silence_ms(session.conversation.session))
            )
            state.stream = await live.send_audio(pcm + tail, realtime=not args.fast)
            await state.stream.wait()
            state.phase = "waiting for the reply"
            await _end_turn(live, args)
            await live.wait_until(
                lambda: _settled(live, session.conversation),
                within=args.timeout,
                what="reply",
            )
            nursery.cancel_scope.cancel()
        view.close()
    audio = reply_audio(session.conversation)
    save_wav(out, audio, "reply audio")
    console.line(f"reply audio: {duration_ms(len(audio), PCM16) / 1000:.2f} s saved to {out}")
    console.line(describe_usage(session.conversation.usage_totals))
    return EXIT_SESSION if live.errors else EXIT_OK


async def _configure(live: LiveSession, args: argparse.Namespace) -> None:
    """Ask for audio and text out, the user's audio transcribed, and VAD (or not)."""
    config = Session(
        modalities=["audio", "text"],
        input_audio_format="pcm16",
        output_audio_format="pcm16",
        input_audio_transcription=InputAudioTranscription(model=TRANSCRIPTION_MODEL),
        turn_detection=None if args.manual else UNSET,
        voice=args.voice if args.voice is not None else UNSET,
        instructions=args.instructions if args.instructions is not None else UNSET,
    )
    await live.configure(config, within=args.timeout, what="session.updated")


async def _end_turn(live: LiveSession, args: argparse.Namespace) -> None:
    """Make sure the audio sent became a turn with a response coming."""
    conversation = live.session.conversation
    await live.sync(transcription=False, within=args.timeout)
    if not args.manual and conversation.user_speaking:
        # VAD may lag behind the audio on a remote server: give it a moment before stepping in.
        await live.wait_for_condition(
            lambda: not conversation.user_speaking, within=_VAD_GRACE, what="end of speech"
        )
    if args.manual or conversation.user_speaking:
        live.timer.sent(trio.current_time(), await live.session.send(InputAudioBufferCommit()))
        live.timer.sent(trio.current_time(), await live.session.send(ResponseCreate()))
        await live.sync(transcription=False, within=args.timeout)
    if not live.timer.turns:
        fail(
            EXIT_SESSION,
            "the server heard no speech in the audio (server VAD); try --manual",
        )


def _settled(live: LiveSession, conversation: Conversation) -> bool:
    """Nothing is in progress, and the last turn is answered with every transcript in."""
    if conversation.active_response is not None:
        return False
    if live.errors:
        return True  # something went wrong: stop as soon as nothing is in progress
    turns = live.timer.turns
    return (
        bool(turns)
        and turns[-1].response_done is not None
        and all(t.input_transcript_done is not None for t in turns if t.item_id is not None)
    )


@attrs.define
class _Progress:
    """What the progress line shows."""

    name: str
    seconds: float
    live: LiveSession
    phase: str = "configuring"
    stream: AudioStream | None = None

    def render(self) -> str:
        sent = self.stream.audio_ms_sent / 1000 if self.stream is not None else 0.0
        return (
            f"{self.name}: {min(sent, self.seconds):.1f}/{self.seconds:.1f} s sent, "
            f"{self.phase}, {self.live.events} events received"
        )
