"""``import trio_realtime`` stays light: numpy, the server and the harness load only when used.

Research code imports the package for its events and codec; the reference server, the
benchmark harness and the numpy-based audio tools cost more to import than the rest together,
so they load on first use. Checked in a fresh interpreter (this process has imported them all).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "trio_realtime.server", "trio_realtime._bench", "trio_websocket")


def _fresh(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_package_loads_no_numpy_server_or_harness() -> None:
    loaded = _fresh(
        "import json, sys, trio_realtime\n"
        f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    assert loaded == dict.fromkeys(HEAVY, False)


def test_the_codec_and_the_audio_tools_work_from_a_fresh_import() -> None:
    result = _fresh(
        "import json, sys\n"
        "import trio_realtime as rt\n"
        # The converter's hooks are generated on first use, nested classes included.
        "vad = rt.converter.structure({'type': 'server_vad', 'silence_duration_ms': 300},"
        " rt.TurnDetection)\n"
        'event = rt.decode(\'{"type":"session.updated","event_id":"e",'
        '"session":{"turn_detection":null}}\')\n'
        "before = 'numpy' in sys.modules\n"
        "tone = rt.audio.tone(10)\n"  # the attribute imports trio_realtime.audio, and numpy
        "print(json.dumps({'vad': vad.silence_duration_ms, 'event': type(event).__name__,"
        " 'numpy_before': before, 'numpy_after': 'numpy' in sys.modules, 'tone': len(tone)}))"
    )
    assert result == {
        "vad": 300,
        "event": "SessionUpdated",
        "numpy_before": False,
        "numpy_after": True,
        "tone": 480,
    }
