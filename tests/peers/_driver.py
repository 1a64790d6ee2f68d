"""What every peer driver shares: arguments, the scenarios' checks, the result lines.

A driver runs inside a peer client's own virtual environment (no trio_realtime there) as
``python drive_X.py URL AUDIO``: ``URL`` is the reference server's ``ws://…/v1/realtime`` and
``AUDIO`` a file of 24 kHz mono PCM16 (speech, then silence) for the audio turn. It prints
one ``RESULT {json}`` line per scenario (``text``, ``audio``, ``tool``) and exits 0, whatever
the scenarios did; ``run.py`` reads the lines.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

MODEL = "gpt-4o-realtime-preview"
KEY = "sk-peer-conformance"
TEXT = "hello peers"
TEXT_REPLY = "You said: hello peers"
TOOL_ASK = "What is the weather? get_weather city=Paris"
TOOL_REPLY = 'get_weather returned: {"city": "Paris", "sky": "sunny"}'
TOOL_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
SCENARIO_SECONDS = 30.0


def weather(city: str) -> str:
    """The tool every driver registers: a JSON string the simulated model repeats."""
    return json.dumps({"city": city, "sky": "sunny"})


def arguments() -> tuple[str, bytes]:
    """``(url, audio)`` from the command line."""
    return sys.argv[1], Path(sys.argv[2]).read_bytes()


def report(scenario: str, ok: bool, detail: str) -> None:
    print("RESULT " + json.dumps({"scenario": scenario, "ok": ok, "detail": detail}), flush=True)


class Failed(Exception):
    """A scenario's check failed; the message says which."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


async def run_scenarios(scenarios: dict[str, Callable[[], Awaitable[str]]]) -> None:
    """Run each scenario with a deadline and report it."""
    for name, scenario in scenarios.items():
        try:
            detail = await asyncio.wait_for(scenario(), SCENARIO_SECONDS)
        except Failed as exc:
            report(name, False, str(exc))
        except Exception as exc:  # a peer's failure is a result, not a crash
            last = traceback.format_exception(exc)[-1].strip()
            report(name, False, f"{type(exc).__name__}: {last[:300]}")
        else:
            report(name, True, detail)
