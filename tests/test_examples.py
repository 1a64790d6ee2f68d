"""The examples run as a user would run them: offline, or with ``--url`` and a key in the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trio_realtime.testing import open_local_server

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_quickstart_example_answers_offline() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "You said: What is trio?"
    assert lines[1].startswith("[completed, ")


def _run(example: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("API_KEY", "OPENAI_API_KEY")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / example), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **env},
    )


@pytest.mark.parametrize("example", ["quickstart.py", "voice_agent.py"])
def test_url_without_a_value_or_without_a_key_is_a_usage_error(example: str) -> None:
    no_value = _run(example, "--url")
    assert no_value.returncode == 2
    assert "error: argument --url: expected one argument" in no_value.stderr
    no_key = _run(example, "--url", "ws://127.0.0.1:9/v1/realtime")
    assert no_key.returncode == 2
    assert "--url needs a key in API_KEY (or OPENAI_API_KEY)" in no_key.stderr
    assert "Traceback" not in no_value.stderr + no_key.stderr


async def test_with_url_the_quickstart_sends_the_key_from_the_environment() -> None:
    async with open_local_server(api_keys=["sk-from-the-environment"]) as server:
        for variable in ("API_KEY", "OPENAI_API_KEY"):
            done = await trio.to_thread.run_sync(
                lambda v=variable: _run(
                    "quickstart.py", "--url", server.url, **{v: "sk-from-the-environment"}
                )
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.splitlines()[0] == "You said: What is trio?"
