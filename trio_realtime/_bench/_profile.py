"""``--profile PATH``: where a worker's CPU goes, by component, from its cProfile dump.

Builtins (``len``, ``dict.get``, base64...) are charged to the component that called them.
cProfile inflates cheap calls more than expensive ones, so read the shares as a map of where
time goes, not as exact costs; the exact per-event costs come from the harness's own CPU
figures with and without a layer (``--baseline``, ``--no-conversation``).
"""

from __future__ import annotations

import pstats
from typing import Final

__all__ = ["COMPONENTS", "component_of", "summarize"]

#: Components, in report order, each with path fragments identifying its functions.
COMPONENTS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("harness (meter, pacing)", ("trio_realtime/_bench/",)),
    ("codec (decode, encode)", ("trio_realtime/_core/_codec", "<trio_realtime codec", "orjson")),
    ("events (attrs classes)", ("trio_realtime/_core/_events",)),
    ("conversation state", ("trio_realtime/_core/_conversation",)),
    ("other sans-I/O core", ("trio_realtime/_core/",)),
    ("WebSocket and socket I/O (ours)", ("trio_realtime/_wire/",)),
    ("session layer", ("trio_realtime/_session/",)),
    ("trio-websocket, wsproto, h11", ("trio_websocket/", "wsproto/", "h11/")),
    ("socket system calls", ("of '_socket.socket'",)),
    ("epoll wait", ("of 'select.epoll'",)),
    (
        "trio scheduler, channels, timers",
        (
            "trio/",
            "trio.",
            "outcome",
            "sniffio/",
            "contextlib.py",
            "contextvars",
            "of 'generator'",
        ),
    ),
    ("asyncio, websockets (peer)", ("asyncio/", "websockets/")),
    ("openai SDK, pydantic (peer)", ("openai/", "pydantic", "json/")),
)


def component_of(filename: str, function: str) -> str:
    """The component a profiled function belongs to (``other`` if none matches)."""
    where = f"{filename}:{function}"
    for name, fragments in COMPONENTS:
        if any(fragment in where for fragment in fragments):
            return name
    return "other"


def summarize(path: str, top: int = 15) -> str:
    """Own time by component, then the ``top`` functions by own time, as text."""
    stats = pstats.Stats(path)
    table = stats.stats  # type: ignore[attr-defined]
    by_component: dict[str, float] = {}
    rows = []
    total = 0.0
    for (filename, line, function), (_cc, calls, tottime, _cum, callers) in table.items():
        total += tottime
        rows.append((tottime, calls, f"{filename.split('site-packages/')[-1]}:{line}({function})"))
        component = component_of(filename, function)
        if component == "other" and callers:
            # Builtins (len, next, dict.get, base64...) count for whoever called them.
            for (c_file, _c_line, c_function), caller in callers.items():
                name = component_of(c_file, c_function)
                by_component[name] = by_component.get(name, 0.0) + caller[2]
            continue
        by_component[component] = by_component.get(component, 0.0) + tottime
    lines = [f"own time by component ({total:.2f} s profiled):"]
    for name, seconds in sorted(by_component.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {100 * seconds / max(total, 1e-9):5.1f} %  {name}")
    lines.append(f"top {top} functions by own time:")
    for tottime, calls, where in sorted(rows, reverse=True)[:top]:
        lines.append(f"  {tottime:7.3f} s {calls:>9} calls  {where}")
    return "\n".join(lines)
