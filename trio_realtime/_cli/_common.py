"""What every ``trio-realtime`` client subcommand shares: exit codes, errors, the server to talk to.

**Exit codes**, the same for every subcommand, so scripts can rely on them:

====  ==========================================================================================
0     success
1     the session went wrong: the server sent an error, closed the connection, or did not
      answer in time
2     usage error: bad or conflicting arguments (argparse's own code)
3     an input or output file problem: missing, unreadable, not a WAV file, not a recording,
      cannot be written
4     could not connect or authenticate: refused, unreachable, handshake rejected, no API key
      or a rejected one
130   interrupted (Ctrl-C)
====  ==========================================================================================

Each failure prints one line to stderr, ``trio-realtime COMMAND: what went wrong``; API keys
never appear in it.

**The server.** Without ``--url`` a command starts the local reference server inside its own
trio run, on a free loopback port, and stops it at the end: no key, no network. Its engine is
``--engine``: ``simulated`` (the default: deterministic, hears no words) or ``speech`` (real
recognition and synthesis, offline, with the ``speech`` extra); the command says which one
answers. With ``--url`` it connects there with the key from ``API_KEY``
(or ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import attrs
import orjson
import trio

from .._core._audio import (
    PCM16,
    load_wav_for_protocol,
    read_wav,
    silence,
    speech_like,
    to_protocol,
    write_wav,
)
from .._core._errors import AudioFormatError
from .._session._client import connect
from .._session._session import RealtimeSession
from .._wire._errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionRejected,
    ConnectTimeout,
    DialectRefused,
    HandshakeError,
)

if TYPE_CHECKING:
    from ..server._engine_api import Engine

__all__ = [
    "ENGINES",
    "EXAMPLE_NAME",
    "EXIT_CODES_HELP",
    "EXIT_CONNECT",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SESSION",
    "EXIT_USAGE",
    "CliError",
    "Subcommand",
    "Target",
    "add_server_arguments",
    "check_output_path",
    "classify",
    "connect_to",
    "example_pcm",
    "fail",
    "interrupted",
    "load_input",
    "non_negative_float",
    "open_target",
    "positive_float",
    "run_trio",
    "save_wav",
]

EXIT_OK: Final = 0
EXIT_SESSION: Final = 1
EXIT_USAGE: Final = 2
EXIT_INPUT: Final = 3
EXIT_CONNECT: Final = 4
EXIT_INTERRUPTED: Final = 130

EXIT_CODES_HELP: Final = """\
exit status:
  0    success
  1    the session went wrong (a server error, a dropped connection, no answer in time)
  2    usage error
  3    input or output file problem (missing, not a WAV file, not a recording, not writable)
  4    could not connect or authenticate (refused, unreachable, no or rejected API key)
  130  interrupted (Ctrl-C)"""
"""The exit codes, for the ``--help`` epilogs."""

#: The key sent to the embedded server, which accepts any non-empty key.
_EMBEDDED_KEY: Final = "local-reference-server"
_KEY_VARIABLES: Final = ("API_KEY", "OPENAI_API_KEY")

EXAMPLE_NAME: Final = "hello.wav"

#: The embedded server's engines (``--engine``).
ENGINES: Final = ("simulated", "speech")
#: Recogniser processes of the embedded speech engine: a command runs one session.
_EMBEDDED_RECOGNISERS: Final = 2
_SIMULATED_NOTE: Final = (
    "answers come from the simulated engine: it hears no words (a transcript gives the "
    "duration of the speech) and speaks a speech-like signal; --engine speech hears and speaks "
    'for real, offline (pip install "trio-realtime[speech]")'
)
_SPEECH_NOTE: Final = (
    "answers come from the speech engine: pocketsphinx hears (US English), eSpeak NG speaks, "
    "offline"
)


class CliError(Exception):
    """A failure the command reports in one line, with its exit status.

    Attributes:
        status: The exit status (one of the ``EXIT_*`` codes).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def fail(status: int, message: str) -> NoReturn:
    """Raise :class:`CliError`."""
    raise CliError(status, message)


# --- argument types ------------------------------------------------------------------------------


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """``--url``, ``--dialect``, ``--engine``, ``--record``, ``--timeout``, ``--quiet``: the
    options every client command has (``--dialect`` is ``None`` when not given)."""
    parser.add_argument(
        "--url",
        metavar="URL",
        help="connect to this server (ws:// or wss://, e.g. wss://api.openai.com/v1/realtime) "
        "with the key in API_KEY or OPENAI_API_KEY; default: an embedded local reference "
        "server, started for the run (no key, no network)",
    )
    parser.add_argument(
        "--dialect",
        choices=("beta", "ga"),
        help="the protocol's wire shape: beta (OpenAI-Beta: realtime=v1, the default) or ga "
        "(the generally available one, e.g. wss://api.openai.com/v1/realtime); the embedded "
        "server speaks both",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="simulated",
        help="the embedded server's engine: simulated (default; hears no words) or speech "
        '(real recognition and synthesis, offline; pip install "trio-realtime[speech]")',
    )
    parser.add_argument(
        "--record",
        metavar="PATH",
        help="record every event of the session, both ways, to PATH (JSON lines; see "
        "'trio-realtime replay')",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the server's answers once the audio is sent (60)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line and no status messages"
    )


# --- running -------------------------------------------------------------------------------------


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _connect_failure(exc: OSError) -> str:
    # trio.open_tcp_stream raises "all attempts to connect ... failed" with the real reasons
    # (ConnectionRefusedError...) in a group as its cause.
    reasons = _leaves(exc.__cause__) if exc.__cause__ is not None else []
    detail = next(
        (r.strerror for r in reasons if isinstance(r, OSError) and r.strerror), exc.strerror
    )
    return detail or str(exc)


_MAX_REASON: Final = 200


def _refusal(exc: ConnectionRejected) -> str:
    """``HTTP 404 Not Found: Invalid URL (GET /v2/x)``: the status and the server's reason."""
    try:
        status = f"HTTP {exc.status_code} {HTTPStatus(exc.status_code).phrase}"
    except ValueError:
        status = f"HTTP {exc.status_code}"
    reason = _body_reason(exc.body)
    return f"{status}: {reason}" if reason else status


def _body_reason(body: bytes) -> str:
    """The reason a refusal's body gives, on one short line ("" if it gives none).

    The OpenAI shape ``{"error": {"message": ...}}`` and a plain ``{"message": ...}`` or
    ``{"error": "..."}`` give their message; an HTML page its title; text its first line.
    """
    text = body.decode("utf-8", "replace").strip()
    try:
        data = orjson.loads(text) if text.startswith("{") else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        found = error.get("message") if isinstance(error, dict) else error
        text = found if isinstance(found, str) else str(data.get("message") or "")
    elif text.startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = title[1] if title else ""
    line = "".join(c for c in " ".join(text.split()) if c.isprintable())  # one plain line
    line = re.sub(r"(?i)bearer\s+\S+", "Bearer [redacted]", line)
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C: a ``KeyboardInterrupt``, bare or anywhere in a group."""
    return any(isinstance(leaf, KeyboardInterrupt) for leaf in _leaves(exc))


def classify(exc: BaseException) -> tuple[int, str] | None:
    """The exit status and message for ``exc``, or ``None`` for a bug (let it propagate)."""
    if interrupted(exc):
        return EXIT_INTERRUPTED, "interrupted"
    leaves = [leaf for leaf in _leaves(exc) if not isinstance(leaf, trio.Cancelled)] or [exc]
    first = leaves[0]
    if isinstance(first, CliError):
        return first.status, str(first)
    if isinstance(first, AuthenticationError):
        code = first.error.code if first.error is not None else None
        detail = f" ({code})" if isinstance(code, str) else ""
        return EXIT_CONNECT, f"the server rejected the API key{detail}"
    if isinstance(first, ConnectionRejected):
        return EXIT_CONNECT, f"the server refused the connection: {_refusal(first)}"
    if isinstance(first, ConnectTimeout):
        return EXIT_CONNECT, "timed out connecting to the server"
    if isinstance(first, HandshakeError):
        return EXIT_CONNECT, f"the WebSocket handshake failed: {first}"
    if isinstance(first, DialectRefused):  # before the session began: a connect problem
        return EXIT_CONNECT, f"the server refused the connection: {first}"
    if isinstance(first, ConnectionClosed):
        return EXIT_SESSION, f"the session ended: {first}"
    if isinstance(first, OSError):  # inputs are read before connecting; this is the network
        return EXIT_CONNECT, f"cannot connect: {_connect_failure(first)}"
    return None


def run_trio(command: str, main: Callable[[], Awaitable[int]]) -> int:
    """Run ``main`` under :func:`trio.run`; turn known failures into a message and a status.

    Ctrl-C arrives at the main task's next checkpoint, never in the middle of a frame: a
    ``KeyboardInterrupt`` raised between two statements of library code (a context manager's
    exit, a task being spawned) can leave a nursery half-exited, which trio reports as an
    internal error instead of the exit status 130.
    """
    try:
        return trio.run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    except BaseException as exc:
        verdict = classify(exc)
        if verdict is None:
            raise
        status, message = verdict
        print(f"trio-realtime {command}: {message}", file=sys.stderr, flush=True)
        return status


# --- the server ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Target:
    """The server a command talks to.

    Attributes:
        url: The endpoint, without a query.
        api_key: The key to send (never printed).
        description: What to call it in messages.
        embedded: Whether it is the local server started for this run.
        engine_note: For the embedded server, one line saying which engine answers.
    """

    url: str
    api_key: str = attrs.field(repr=False)
    description: str
    embedded: bool
    engine_note: str | None = None


@asynccontextmanager
async def open_target(
    url: str | None,
    *,
    realistic: bool,
    engine: str = "simulated",
    environ: Mapping[str, str] = os.environ,
) -> AsyncIterator[Target]:
    """The server to use: ``url`` with the key from the environment, or an embedded one.

    The embedded server is :func:`trio_realtime.server.serve` on ``127.0.0.1`` port 0 in this
    trio run, with the ``engine`` named (``simulated`` or ``speech``), paced like the live
    service if ``realistic`` (else as fast as possible); it is cancelled when the block exits.

    Raises:
        CliError: ``url`` given but no key in ``API_KEY`` or ``OPENAI_API_KEY`` (exit 4);
            ``engine`` with ``url``, or ``speech`` without the ``speech`` extra (exit 2).
    """
    if url is not None and engine != "simulated":
        fail(EXIT_USAGE, f"--engine {engine} applies to the embedded server, not to --url")
    if url is not None:
        key = next((environ[name] for name in _KEY_VARIABLES if environ.get(name)), None)
        if key is None:
            fail(EXIT_CONNECT, f"no API key for {url}: set API_KEY (or OPENAI_API_KEY)")
        yield Target(url=url, api_key=key, description=url, embedded=False)
        return
    pacing = "paced like the live service" if realistic else "unpaced"
    async with _open_engine(engine, realistic) as answering:
        from ..server import serve

        async with trio.open_nursery() as nursery:
            handle = await nursery.start(partial(serve, "127.0.0.1", 0, engine=answering))
            try:
                yield Target(
                    url=handle.url,
                    api_key=_EMBEDDED_KEY,
                    description=f"the embedded reference server at {handle.url} "
                    f"({engine} engine, {pacing})",
                    embedded=True,
                    engine_note=_SPEECH_NOTE if engine == "speech" else _SIMULATED_NOTE,
                )
            finally:
                nursery.cancel_scope.cancel()


@asynccontextmanager
async def _open_engine(name: str, realistic: bool) -> AsyncIterator[Engine]:
    """The embedded server's engine; the speech engine is imported only when asked for."""
    if name != "speech":
        from ..server import SimulatedEngine

        yield SimulatedEngine.realistic() if realistic else SimulatedEngine()
        return
    from ..server._speech import missing_packages, open_speech_engine

    missing = missing_packages()
    if missing:
        fail(
            EXIT_USAGE,
            f'--engine speech needs {", ".join(missing)}: pip install "trio-realtime[speech]"',
        )
    async with open_speech_engine(recognisers=_EMBEDDED_RECOGNISERS, realistic=realistic) as speech:
        yield speech


def connect_to(
    target: Target,
    *,
    model: str | None = None,
    intent: str | None = None,
    record: str | None = None,
    dialect: str | None = None,
) -> AbstractAsyncContextManager[RealtimeSession]:
    """:func:`trio_realtime.connect` to ``target`` in ``dialect`` (beta if ``None``); a bad
    URL is a usage error (exit 2)."""
    try:
        return connect(
            model=model,
            intent=intent,
            url=target.url,
            api_key=target.api_key,
            record=record,
            dialect="ga" if dialect == "ga" else "beta",
        )
    except ValueError as exc:
        fail(EXIT_USAGE, str(exc))


# --- files ---------------------------------------------------------------------------------------


def example_pcm() -> bytes:
    """The bundled example's audio: 3 s of 24 kHz PCM16, a speech-like burst between pauses.

    ``trio_realtime/examples/hello.wav`` holds exactly this (a test checks it); it is rebuilt
    from this definition if the file is missing from an installation.
    """
    return silence(250) + speech_like(2500, seed=7) + silence(250)


def _bundled_example() -> Path | None:
    path = resources.files("trio_realtime").joinpath("examples", EXAMPLE_NAME)
    return Path(str(path)) if path.is_file() else None


def load_input(path: str | None, warn: Callable[[str], None]) -> tuple[str, bytes]:
    """Read an audio file for the protocol (24 kHz mono PCM16); ``None`` is the example.

    A file cut short (its header announces more audio than it holds: a recorder stopped
    with Ctrl-C, an interrupted copy) is used as far as it goes, and ``warn`` gets one line
    saying so: refusing it would throw away audio that is usually fine.

    Returns:
        The name to show and the audio.

    Raises:
        CliError: The file is missing, unreadable or not a WAV file this library reads
            (exit 3); the message is one line and names the file.
    """
    if path is None:
        bundled = _bundled_example()
        if bundled is None:  # an installation without package data: the same signal
            return EXAMPLE_NAME, example_pcm()
        return EXAMPLE_NAME, load_wav_for_protocol(bundled)
    try:
        wav = read_wav(path)
        if wav.missing_ms:
            warn(
                f"warning: {path} is cut short: its header announces "
                f"{(wav.duration_ms + wav.missing_ms) / 1000:.2f} s of audio, the file holds "
                f"{wav.duration_ms / 1000:.2f} s; using what is there"
            )
        return path, to_protocol(wav.mono(), wav.sample_rate, PCM16)
    except FileNotFoundError:
        fail(EXIT_INPUT, f"{path}: no such file")
    except IsADirectoryError:
        fail(EXIT_INPUT, f"{path}: is a directory, not an audio file")
    except PermissionError:
        fail(EXIT_INPUT, f"{path}: permission denied")
    except AudioFormatError as exc:
        fail(EXIT_INPUT, str(exc))
    except OSError as exc:
        fail(EXIT_INPUT, f"{path}: cannot read: {exc.strerror or exc}")


def check_output_path(path: str, what: str) -> None:
    """Fail now (exit 3), not after the session, if ``path`` cannot be written.

    The file is really opened for writing (appending, so an existing file is untouched) and
    a file this check created is removed again: permission bits do not tell (root may write
    anywhere by them, yet not into ``/proc``; a read-only mount refuses everyone).
    """
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        fail(EXIT_INPUT, f"cannot write the {what} to {path}: it is a directory")
    if not parent.is_dir():
        fail(EXIT_INPUT, f"cannot write the {what} to {path}: no such directory {parent}")
    existed = target.exists()
    try:
        with open(target, "ab"):
            pass
    except OSError as exc:
        fail(EXIT_INPUT, f"cannot write the {what} to {path}: {exc.strerror or exc}")
    if not existed:
        with contextlib.suppress(OSError):
            target.unlink()


def save_wav(path: str, pcm16: bytes, what: str) -> None:
    """Write 24 kHz mono PCM16 to ``path``; a failure is exit 3."""
    try:
        write_wav(path, pcm16, 24000)
    except OSError as exc:
        fail(EXIT_INPUT, f"cannot write the {what} to {path}: {exc.strerror or exc}")


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
