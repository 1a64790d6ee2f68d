"""The ``trio-realtime`` command: one subcommand per job, dispatched from :data:`SUBCOMMANDS`.

Each subcommand is a :class:`Subcommand`: a help line, a function that adds its arguments to
its parser, and a function that runs it and returns the exit status. Adding one (``transcribe``,
``talk``, ``replay``, ``bench``) is adding an entry to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

import attrs
import trio

__all__ = ["SUBCOMMANDS", "Subcommand", "main"]


@attrs.frozen(kw_only=True)
class Subcommand:
    """One ``trio-realtime`` subcommand.

    Attributes:
        help: One line for ``trio-realtime --help``.
        configure: Adds the subcommand's arguments to its parser.
        run: Runs it with the parsed arguments; returns the exit status.
    """

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --- serve ---------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to bind; 0 picks a free one (8765)"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="accept this key (repeatable); without any, every non-empty key is accepted",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="pace replies like the live service (300 ms to first delta, audio at real time)",
    )
    parser.add_argument(
        "--session-seconds",
        type=_positive_float,
        metavar="N",
        help="end sessions with session_expired after N seconds (1800)",
    )
    parser.add_argument(
        "--strict-beta-header",
        action="store_true",
        help="refuse clients that do not send OpenAI-Beta: realtime=v1",
    )
    parser.add_argument(
        "--drop-tcp",
        action="store_true",
        help="fault mode: end connections without a WebSocket close frame",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log connections (-vv: debug)"
    )


def _run_serve(args: argparse.Namespace) -> int:
    from .server import ServerOptions, SimulatedEngine, serve

    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    options = (
        ServerOptions()
        if args.session_seconds is None
        else ServerOptions(session_seconds=args.session_seconds)
    )
    engine = SimulatedEngine.realistic() if args.realistic else SimulatedEngine()

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                partial(
                    serve,
                    args.host,
                    args.port,
                    api_keys=args.api_key,
                    engine=engine,
                    options=options,
                    strict_beta_header=args.strict_beta_header,
                    drop_tcp=args.drop_tcp,
                )
            )
            print(f"listening on {handle.url}", flush=True)
            # SIGTERM (a service manager, ``Popen.terminate``) stops the server as Ctrl-C does:
            # open connections get a 1001 close, and the exit status is 0.
            with trio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()

    status = 0
    try:
        trio.run(run)
    except* KeyboardInterrupt:
        pass  # Ctrl-C is how this command is meant to stop
    except* OSError as group:  # e.g. the address is in use
        for exc in group.exceptions:
            print(f"trio-realtime serve: {exc}", file=sys.stderr)
        status = 1
    return status


# --- dispatch ------------------------------------------------------------------------------------

SUBCOMMANDS: Final[dict[str, Subcommand]] = {
    "serve": Subcommand(
        help="run the local reference server (Realtime API beta v1 over WebSocket)",
        configure=_configure_serve,
        run=_run_serve,
    ),
}
"""The subcommands, by name, in the order ``--help`` lists them."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trio-realtime",
        description="Tools for the Realtime API beta protocol v1, built on trio.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in SUBCOMMANDS.items():
        command.configure(commands.add_parser(name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``trio-realtime`` with ``argv`` (default: the process's arguments).

    Returns:
        The exit status: 0 on success (Ctrl-C included, for servers), 1 on failure, 2 for a
        usage error.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return SUBCOMMANDS[args.command].run(args)


if __name__ == "__main__":
    raise SystemExit(main())
