"""Run the reference server in a child process, for peers that need their own event loop.

The openai SDK's beta realtime client is asyncio; the reference server is trio. They meet
the way they would in production: over a socket, the server in its own process, started
with the real ``trio-realtime serve`` command on a free port.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def server_process(*args: str) -> Iterator[str]:
    """Start ``trio-realtime serve --port 0 ARGS``; yield its ``ws://`` URL; stop it after."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from trio_realtime._cli._main import main; sys.exit(main())",
            "serve",
            "--port",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"ws://\S+", line)
            assert match, f"server did not start: {line!r}"
            yield match.group(0)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                process.kill()
                process.wait()
