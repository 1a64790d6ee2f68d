"""Speech for the speech-engine tests, the same on every run.

eSpeak NG's output depends on what it spoke before in the same process (its voicing state
carries over from one utterance to the next), so audio made inside the test process would
change with the order and selection of tests, and a recogniser's transcript with it. Each call
here synthesises in a fresh process instead: the same sentences always give the same bytes.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import sys

_CODE = (
    "import base64, json, sys\n"
    "from trio_realtime.server._speech._voice import Voice\n"
    "voice, fmt, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n"
    "speaker = Voice()\n"
    "print(json.dumps([base64.b64encode(speaker.speak(t, voice, fmt)).decode() for t in texts]))\n"
)


@functools.cache
def spoken(texts: tuple[str, ...], voice: str = "alloy", fmt: str = "pcm16") -> tuple[bytes, ...]:
    """``texts`` spoken by the engine's ``voice`` in protocol format ``fmt``, in order."""
    done = subprocess.run(
        [sys.executable, "-c", _CODE, voice, fmt, json.dumps(list(texts))],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return tuple(base64.b64decode(b) for b in json.loads(done.stdout))
