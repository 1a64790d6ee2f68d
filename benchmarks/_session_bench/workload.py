"""What ``bench_session.py``'s sessions say, shared by its clients and its replay peer."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["KEY", "MODEL", "RESPONSE", "USER_ITEM", "USER_TEXT"]

MODEL: Final = "gpt-4o-realtime-preview"
KEY: Final = "sk-bench-session"  # the local server accepts any non-empty key
#: 500 characters, so the reply is "You said: " + 500 characters (the engine's max_echo_chars).
USER_TEXT: Final = ("the quick brown fox jumps over the lazy dog " * 12)[:500]
USER_ITEM: Final[dict[str, Any]] = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": USER_TEXT}],
}
RESPONSE: Final[dict[str, Any]] = {"conversation": "none", "modalities": ["audio", "text"]}
