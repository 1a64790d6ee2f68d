"""Running ``trio-realtime`` client commands as a user does, for the CLI tests.

Rules these tests follow:

* The command runs as a real subprocess, ``python -m trio_realtime ...``, in ``tmp_path``,
  with real WAV files and a real server: the embedded one (no ``--url``), or one the test
  runs with :func:`trio_realtime.testing.open_local_server` in its own trio run, reached
  over loopback with ``--url``.
* The environment is the test process's without any API key, so no test can reach a real
  service by accident; a test that needs a key sets ``API_KEY`` itself.
* Every run has a deadline (:data:`DEADLINE`), and most use ``--fast``: only one test per
  command paces audio at real time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np
import trio

from trio_realtime.audio import array_to_pcm16, pcm16_to_float, resample, silence, speech_like
from trio_realtime.audio import write_wav as write_pcm_wav

DEADLINE = 30.0
"""Seconds any one command may take in a test."""


@attrs.frozen
class Result:
    """What a command did: its exit status and its output streams, decoded."""

    status: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """The stdout lines."""
        return self.stdout.splitlines()


def environment(**extra: str) -> dict[str, str]:
    """The test process's environment without API keys, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("API_KEY", "OPENAI_API_KEY")}
    env.update(extra)
    return env


async def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, deadline: float = DEADLINE
) -> Result:
    """Run ``python -m trio_realtime ARGS`` in ``cwd`` and collect what it printed."""
    with trio.fail_after(deadline):
        done = await trio.run_process(
            [sys.executable, "-m", "trio_realtime", *args],
            cwd=cwd,
            env=dict(env) if env is not None else environment(),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode())


async def reap(process: trio.Process) -> None:
    """Kill ``process`` if it still runs, wait for it and close its output pipes: shielded, so
    that a test failing or timing out leaves no process or pipe behind."""
    if process.returncode is None:
        process.kill()
    with trio.CancelScope(shield=True):
        await process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                await pipe.aclose()


def speech_pcm(segments: tuple[int, ...] = (1500,), gap_ms: int = 800, seed: int = 1) -> bytes:
    """24 kHz PCM16: speech-like bursts of the given lengths, separated by ``gap_ms`` pauses."""
    pieces = []
    for index, ms in enumerate(segments):
        if index:
            pieces.append(silence(gap_ms))
        pieces.append(speech_like(ms, seed=seed + index))
    return b"".join(pieces)


def write_wav(path: Path, pcm24k: bytes, *, rate: int = 24000, channels: int = 1) -> Path:
    """Write 24 kHz mono PCM16 as a WAV file at ``rate`` with ``channels`` (resampled, copied)."""
    samples = pcm16_to_float(pcm24k)
    if rate != 24000:
        samples = resample(samples, 24000, rate)
    if channels > 1:
        samples = np.stack([samples * (0.5 + 0.5 / c) for c in range(1, channels + 1)], axis=1)
    write_pcm_wav(path, array_to_pcm16(samples), rate, channels)
    return path


def assert_one_line_error(result: Result, status: int, *fragments: str) -> str:
    """The command failed with ``status`` and one stderr line containing ``fragments``."""
    assert result.status == status, result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("trio-realtime ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]
