"""Ctrl-C in every subcommand: one line, ``trio-realtime COMMAND: interrupted``, and exit 130.

Each command runs as a real subprocess in its own process group, and the test sends SIGINT to
the whole group, as a terminal does on Ctrl-C, once the command says it is under way (a ready
line, never a guessed sleep). Nothing may follow on stderr but that one line: no traceback,
from the command or from a child process (the harness's servers and workers), and no child
outlives the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import trio
from cli_helpers import DEADLINE, environment, reap
from waiting import wait_until

from trio_realtime._core._recording import Recorder
from trio_realtime.events import InputAudioBufferCommit, SessionUpdate

pytestmark = pytest.mark.slow  # real time: each command is interrupted mid-run

INTERRUPTED = 130


def _default_sigint() -> None:
    # A test run started in the background of a non-interactive shell ignores SIGINT, and
    # children inherit that; a terminal's user would have the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _processes_marked(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (the command and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


async def interrupt(*args: str, ready: bytes, cwd: Path) -> tuple[int, str]:
    """Run ``trio-realtime ARGS``, Ctrl-C it once ``ready`` is printed; its status and stderr."""
    marker = f"TRIO_REALTIME_TEST_RUN={uuid.uuid4().hex}"
    name, _, value = marker.partition("=")
    output = bytearray()
    errors = bytearray()
    with trio.fail_after(DEADLINE):
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "trio_realtime", *args],
            cwd=cwd,
            env=environment(**{name: value}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        try:

            async def collect(stream: trio.abc.ReceiveStream, into: bytearray) -> None:
                async for chunk in stream:
                    into.extend(chunk)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(collect, process.stdout, output)
                nursery.start_soon(collect, process.stderr, errors)
                await wait_until(lambda: ready in output or ready in errors)
                os.killpg(process.pid, signal.SIGINT)  # the terminal's Ctrl-C
                status = await process.wait()
        finally:
            await reap(process)
        await wait_until(lambda: not _processes_marked(marker))  # no child left behind
    return status, errors.decode(errors="replace")


def assert_interrupted(status: int, errors: str, command: str) -> None:
    assert status == INTERRUPTED, errors
    assert "Traceback" not in errors, errors
    lines = errors.splitlines()
    assert lines[-1] == f"trio-realtime {command}: interrupted", errors
    assert sum("interrupted" in line for line in lines) == 1, errors


async def test_talk(tmp_path: Path) -> None:
    status, errors = await interrupt("talk", ready=b"talk: hello.wav", cwd=tmp_path)
    assert_interrupted(status, errors, "talk")
    assert not (tmp_path / "reply.wav").exists()


async def test_transcribe(tmp_path: Path) -> None:
    status, errors = await interrupt("transcribe", ready=b"transcribe: 1 file", cwd=tmp_path)
    assert_interrupted(status, errors, "transcribe")


async def test_replay_send(tmp_path: Path) -> None:
    # A recording whose second client event comes 60 s after the first: the re-send is
    # under way, waiting for it, when Ctrl-C comes.
    times = iter([0.0, 0.0, 60.0])
    recorder = Recorder.open(tmp_path / "long.jsonl", clock=lambda: next(times))
    recorder.record("client", SessionUpdate.type, '{"type":"session.update","session":{}}')
    recorder.record("client", InputAudioBufferCommit.type, '{"type":"input_audio_buffer.commit"}')
    recorder.close()
    status, errors = await interrupt(
        "replay",
        "long.jsonl",
        "--send",
        "--model",
        "gpt-4o-realtime-preview",
        ready=b"replay: re-sending",
        cwd=tmp_path,
    )
    assert_interrupted(status, errors, "replay")


async def test_serve(tmp_path: Path) -> None:
    status, errors = await interrupt("serve", "--port", "0", ready=b"listening on", cwd=tmp_path)
    assert_interrupted(status, errors, "serve")


async def test_bench_stops_its_server_and_workers(tmp_path: Path) -> None:
    status, errors = await interrupt(
        "bench",
        "--sessions",
        "2",
        "--warmup",
        "0.5",
        "--window",
        "60",
        "--retries",
        "0",
        ready=b"[ours 2]",  # the progress line: the server and a worker are running
        cwd=tmp_path,
    )
    assert_interrupted(status, errors, "bench")
