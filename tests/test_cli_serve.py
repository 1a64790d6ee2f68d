"""``trio-realtime serve``: the reference server as a command.

The server runs as a real subprocess (``python -m trio_realtime._cli._main``), so these tests see
what a user sees: the ``listening on`` line, the exit status after Ctrl-C, and stderr.
"""

from __future__ import annotations

import gc
import re
import signal
import socket
import subprocess
import sys

import attrs
import pytest
import trio
from cli_helpers import reap
from test_server_wire import KEY, error_of, raw_client

from trio_realtime._cli._main import SUBCOMMANDS, main

_LISTENING = re.compile(r"listening on ws://127\.0\.0\.1:(\d+)/v1/realtime\n")


@attrs.frozen
class Port:
    port: int


async def _read_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some()
        if not chunk:
            break
        data += chunk
    return data.decode()


async def test_serve_prints_its_url_serves_with_its_options_and_exits_130_on_ctrl_c() -> None:
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0"]
    command += ["--api-key", KEY, "--session-seconds", "0.5"]
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            assert process.stderr is not None
            line = await _read_line(process.stdout)
            match = _LISTENING.fullmatch(line)
            assert match, line
            server = Port(int(match[1]))
            assert server.port != 0

            headers = [(b"Authorization", b"Bearer sk-not-the-configured-key")]
            async with raw_client(server, headers=headers) as client:
                (refusal,), closed = await client.receive_until_closed()
            assert error_of(refusal)["code"] == "invalid_api_key"
            assert closed.code == 3000

            async with raw_client(server) as client:
                events, closed = await client.receive_until_closed()
            assert events[0]["type"] == "session.created"
            assert error_of(events[-1])["code"] == "session_expired"

            process.send_signal(signal.SIGINT)
            assert await process.wait() == 130
            errors = b""
            while chunk := await process.stderr.receive_some():
                errors += chunk
            assert errors == b"trio-realtime serve: interrupted\n"
        finally:
            await reap(process)


async def test_serve_stops_cleanly_on_sigterm() -> None:
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0"]
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            match = _LISTENING.fullmatch(await _read_line(process.stdout))
            assert match
            async with raw_client(Port(int(match[1]))) as client:
                assert (await client.receive())["type"] == "session.created"
                process.terminate()
                _events, closed = await client.receive_until_closed()
            assert (closed.code, closed.reason) == (1001, "server shutting down")
            assert await process.wait() == 0
        finally:
            await reap(process)


def test_a_busy_port_is_reported_with_exit_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert capsys.readouterr().err.startswith("trio-realtime serve: ")


def test_serving_tunes_the_garbage_collector_only_while_it_runs() -> None:
    before = gc.get_threshold(), gc.get_freeze_count()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port), "--gc-threshold", "5000"]) == 1
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--gc-threshold", "0"])
    assert exited.value.code == 2


def test_no_subcommand_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().err


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--session-seconds", "0"])
    assert exited.value.code == 2


def test_subcommands_are_registered_by_name() -> None:
    assert "serve" in SUBCOMMANDS
    assert SUBCOMMANDS["serve"].help
