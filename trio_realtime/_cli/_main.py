"""The ``trio-realtime`` command: one subcommand per job, dispatched from :data:`SUBCOMMANDS`.

Each subcommand is a :class:`Subcommand`: a help line, a function that adds its arguments to
its parser, and a function that runs it and returns the exit status. Adding one (``bench``,
say) is adding an entry to :data:`SUBCOMMANDS`; each lives in its own module of this package.

* ``serve``: the local reference server.
* ``transcribe FILE...``: live transcripts of WAV files (:mod:`._transcribe`).
* ``talk [FILE]``: speech to speech, with the reply saved and per-turn latencies
  (:mod:`._talk`); with no FILE it speaks the bundled example.
* ``replay RECORDING``: a recorded session rebuilt offline, or re-sent with ``--send``
  (:mod:`._replay`).

The client commands use an embedded reference server unless given ``--url``.

Exit status, the same for every subcommand (see :mod:`._common`): 0 success; 1 the
session went wrong (server error, dropped connection, no answer in time); 2 usage error;
3 input or output file problem; 4 could not connect or authenticate; 130 interrupted: Ctrl-C
prints one line, ``trio-realtime COMMAND: interrupted``, in every subcommand. ``serve`` exits
0 when stopped by SIGTERM (a service manager) and 1 if it cannot listen.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Literal

import trio

from . import _replay, _talk, _transcribe
from ._bench import BENCH
from ._common import EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_USAGE, Subcommand, interrupted

if TYPE_CHECKING:
    from ..server._engine_api import Engine

__all__ = ["SUBCOMMANDS", "Subcommand", "main"]


# --- serve ---------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


SERVE_GC_THRESHOLD: Final = 10_000
"""``trio-realtime serve``'s first garbage-collector threshold (see :func:`_tuned_gc`)."""


@contextlib.contextmanager
def _tuned_gc(threshold: int) -> Iterator[None]:
    """Tune the garbage collector for a server holding many connections, while serving.

    Each open connection keeps a few hundred tracked objects (tasks, coroutines, cancel
    scopes, WebSocket state), and every frame of a streaming session allocates more, some of
    them alive when a young collection runs. With Python's default threshold (700) those
    survivors reach the oldest generation so fast that it is collected every few seconds,
    and a full collection stops the event loop for about 0.25 s per thousand connections:
    every session's audio and replies stall (benchmarks/bench_server_load.py measured 1,200
    connections, 200 of them streaming: a 250-320 ms pause every 4-11 s). A larger first
    threshold makes young collections rarer, so far fewer objects are promoted and full
    collections become rare; the objects that exist once the server is imported are frozen
    out of collection altogether. Both are undone on exit (``main`` may run in a process
    that goes on, such as a test).
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(threshold, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def _model_list(text: str) -> frozenset[str] | Literal["any"]:
    """``--models``: comma-separated names, or ``any``."""
    if text.strip().lower() == "any":
        return "any"
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError("give model names separated by commas, or 'any'")
    return names


def _dialect_list(text: str) -> tuple[str, ...]:
    """``--dialects``: ``beta``, ``ga`` or both, comma-separated."""
    names = tuple(dict.fromkeys(name.strip().lower() for name in text.split(",") if name.strip()))
    if not names or not set(names) <= {"beta", "ga"}:
        raise argparse.ArgumentTypeError("give beta, ga or beta,ga")
    return names


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535 (0 picks a free port), got {text}")
    return value


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "exit status: 0 stopped by SIGTERM, 1 cannot listen, 2 usage error, "
        "130 interrupted (Ctrl-C)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port to bind; 0 picks a free one (8765)"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="accept this key (repeatable); without any, every non-empty key is accepted",
    )
    parser.add_argument(
        "--models",
        type=_model_list,
        metavar="NAMES",
        help="accept these ?model= names, comma-separated, or 'any' for any non-empty name "
        "(default: the beta API's realtime and transcription models and opeai/AudioLLM/Voice2; "
        "others get invalid_model and close 4000)",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="pace replies like the live service (300 ms to first delta, reply audio "
        "streamed ahead of playback, see --audio-speed)",
    )
    parser.add_argument(
        "--audio-speed",
        type=_positive_float,
        metavar="X",
        help="with --realistic, generate reply audio X times faster than real time "
        "(default 3, as the live service streamed replies ahead of playback; 1 is real time)",
    )
    parser.add_argument(
        "--engine",
        choices=("simulated", "speech"),
        default="simulated",
        help="what answers: simulated (default; deterministic, hears no words) or speech "
        "(pocketsphinx hears, eSpeak NG speaks, offline; needs the speech extra: "
        'pip install "trio-realtime[speech]")',
    )
    parser.add_argument(
        "--recognisers",
        type=_positive_int,
        default=4,
        metavar="N",
        help="--engine speech: utterances recognised at once, one process of about 100 MB "
        "each (4); more sessions speaking at once wait their turn",
    )
    parser.add_argument(
        "--session-seconds",
        type=_positive_float,
        metavar="N",
        help="end sessions with session_expired after N seconds (1800)",
    )
    parser.add_argument(
        "--dialects",
        type=_dialect_list,
        default=("beta", "ga"),
        metavar="NAMES",
        help="the wire shapes served, comma-separated: beta, ga (default: both; the beta "
        "marker, header or subprotocol, picks beta, its absence GA). A GA-only server answers "
        "beta with beta_api_shape_disabled and close 4000, as OpenAI's endpoint does",
    )
    parser.add_argument(
        "--strict-beta-header",
        action="store_true",
        help="refuse clients that do not send OpenAI-Beta: realtime=v1 (= --dialects beta)",
    )
    parser.add_argument(
        "--drop-tcp",
        action="store_true",
        help="fault mode: end connections without a WebSocket close frame",
    )
    parser.add_argument(
        "--gc-threshold",
        type=_positive_int,
        default=SERVE_GC_THRESHOLD,
        metavar="N",
        help=f"allocations between young garbage collections ({SERVE_GC_THRESHOLD}; Python's "
        "default is 700): with many connections, full collections (pauses) become rare",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log connections (-vv: debug)"
    )


def _serve_engine(
    args: argparse.Namespace, simulated: Engine
) -> contextlib.AbstractAsyncContextManager[Engine]:
    """The engine ``serve`` runs (the speech engine is imported only when chosen)."""
    if args.engine == "speech":
        from ..server._speech import open_speech_engine

        settings = {} if args.audio_speed is None else {"audio_realtime_factor": args.audio_speed}
        return open_speech_engine(
            recognisers=args.recognisers,
            preload=args.recognisers,
            realistic=args.realistic,
            **settings,
        )
    return contextlib.nullcontext(simulated)


def _run_serve(args: argparse.Namespace) -> int:
    from ..server import DEFAULT_MODELS, ServerOptions, SimulatedEngine, serve

    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    models = args.models
    settings: dict[str, Any] = {
        "allowed_models": DEFAULT_MODELS if models is None else None if models == "any" else models
    }
    if args.session_seconds is not None:
        settings["session_seconds"] = args.session_seconds
    options = ServerOptions(**settings)
    if args.audio_speed is not None and not args.realistic:
        print("trio-realtime serve: --audio-speed needs --realistic", file=sys.stderr)
        return 2
    if args.strict_beta_header and "beta" not in args.dialects:
        print("trio-realtime serve: --strict-beta-header serves beta only", file=sys.stderr)
        return 2
    engine = (
        SimulatedEngine.realistic(
            **({} if args.audio_speed is None else {"audio_realtime_factor": args.audio_speed})
        )
        if args.realistic
        else SimulatedEngine()
    )
    if args.engine == "speech":
        from ..server._speech import missing_packages

        missing = missing_packages()
        if missing:
            print(
                f"trio-realtime serve: --engine speech needs {', '.join(missing)}: "
                'pip install "trio-realtime[speech]"',
                file=sys.stderr,
            )
            return 2

    async def run() -> None:
        async with _serve_engine(args, engine) as answering, trio.open_nursery() as nursery:
            handle = await nursery.start(
                partial(
                    serve,
                    args.host,
                    args.port,
                    api_keys=args.api_key,
                    engine=answering,
                    options=options,
                    dialects=args.dialects,
                    strict_beta_header=args.strict_beta_header,
                    drop_tcp=args.drop_tcp,
                )
            )
            print(f"listening on {handle.url}", flush=True)
            if args.engine == "speech":
                print(
                    f"engine: speech (pocketsphinx hears, eSpeak NG speaks; "
                    f"{args.recognisers} recognisers)",
                    flush=True,
                )
            # SIGTERM (a service manager, ``Popen.terminate``) stops the server as Ctrl-C does:
            # open connections get a 1001 close; the exit status is 0 (Ctrl-C: 130).
            with trio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()

    status = 0
    try:
        with _tuned_gc(args.gc_threshold):
            trio.run(run, restrict_keyboard_interrupt_to_checkpoints=True)  # see run_trio
    except* KeyboardInterrupt:
        status = EXIT_INTERRUPTED  # reported once, below, whatever else ended with it
    except* OSError as group:  # e.g. the address is in use
        for exc in group.exceptions:
            print(f"trio-realtime serve: {exc}", file=sys.stderr)
        status = 1
    if status == EXIT_INTERRUPTED:
        print("trio-realtime serve: interrupted", file=sys.stderr)
    return status


# --- dispatch ------------------------------------------------------------------------------------

SUBCOMMANDS: Final[dict[str, Subcommand]] = {
    "serve": Subcommand(
        help="run the local reference server (the Realtime API over WebSocket, beta and GA)",
        configure=_configure_serve,
        run=_run_serve,
    ),
    "transcribe": Subcommand(
        help="transcribe WAV files live (a transcription session)",
        configure=_transcribe.configure,
        run=_transcribe.run,
    ),
    "talk": Subcommand(
        help="speak a WAV file to a speech-to-speech session; save the reply, show latencies",
        configure=_talk.configure,
        run=_talk.run,
    ),
    "replay": Subcommand(
        help="rebuild a recorded session offline, or re-send it to a server (--send)",
        configure=_replay.configure,
        run=_replay.run,
    ),
    "bench": BENCH,
}
"""The subcommands, by name, in the order ``--help`` lists them."""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="trio-realtime",
        description="Tools for the Realtime API (beta protocol v1, and GA with --dialect ga), "
        "built on trio.\n\n"
        "The client commands (transcribe, talk, replay --send) talk to a local reference\n"
        "server started for the run, or with --url to any server, with the key in API_KEY\n"
        "(or OPENAI_API_KEY).",
        epilog=f"{EXIT_CODES_HELP}\n\nexample:\n  trio-realtime talk    "
        "# the bundled example, offline: transcripts, latencies, reply.wav",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parsers = {}
    for name, command in SUBCOMMANDS.items():
        parsers[name] = commands.add_parser(name, help=command.help, description=command.help)
        command.configure(parsers[name])
    return parser, parsers


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``trio-realtime`` with ``argv`` (default: the process's arguments).

    Returns:
        The exit status: 0 on success (SIGTERM included, for ``serve``), 1 for a failed
        session, 2 for a usage error, 3 for a file problem, 4 for a connection or
        authentication problem, 130 when interrupted (Ctrl-C).
    """
    parser, parsers = _parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(words)
    if unknown:
        # The subcommand's usage for its own arguments (`talk a.wav b.wav`), the top level's
        # for what comes before the subcommand's name.
        before = words[: words.index(args.command)] if args.command in words else words
        wrong = parsers[args.command] if args.command and not set(unknown) & set(before) else parser
        wrong.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return SUBCOMMANDS[args.command].run(args)
    except BaseException as exc:
        # Ctrl-C outside a command's own handling (before or after its trio run, or in the
        # harness) is reported the same way: one line, exit 130, no traceback.
        if not interrupted(exc):
            raise
        print(f"trio-realtime {args.command}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
