"""Token accounting (section 9): a documented estimate, usage objects and rate limits.

The reference server has no tokenizer; it counts with a fixed, documented estimate so usage
is deterministic and obeys the invariants of section 9:

* **text**: ``ceil(characters / 4)`` tokens per piece of text: each text part, each
  transcript the model produces, each function call's arguments, each function output, the
  instructions, and each tool (its JSON);
* **audio**: ``ceil(milliseconds / 50)`` tokens per audio part (20 tokens a second);
* **input** is the whole context of the response: instructions, tools and every context item
  (audio parts count as audio only, their transcripts are not input), so it grows turn by
  turn; **output** is what was actually streamed, so cancelled and cut responses report
  what they sent;
* **cached** input is always 0 (the server keeps no prompt cache), which keeps cached ≤ input;
  ``total = input + output``, ``input = text + audio``, ``output = text + audio``.

Rate limits are two token buckets refilled continuously over a minute (``requests`` and
``tokens``): ``remaining`` is what the bucket holds after this response (never below 0) and
``reset_seconds`` the time until it is full again. They are reported, never enforced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

import orjson

from .._core._codec import converter
from .._core._events import RateLimit, TokenDetails, Tool, Usage
from ._items import StoredItem

__all__ = [
    "AUDIO_MS_PER_TOKEN",
    "TEXT_CHARS_PER_TOKEN",
    "RateLimits",
    "audio_tokens",
    "context_tokens",
    "make_usage",
    "text_tokens",
]

TEXT_CHARS_PER_TOKEN: Final = 4
AUDIO_MS_PER_TOKEN: Final = 50


def text_tokens(chars: int) -> int:
    """Tokens for ``chars`` characters of text: ``ceil(chars / 4)``."""
    return -(-chars // TEXT_CHARS_PER_TOKEN)


def audio_tokens(ms: float) -> int:
    """Tokens for ``ms`` milliseconds of audio: ``ceil(ms / 50)``."""
    # The epsilon absorbs float noise in durations computed from byte counts.
    return max(0, math.ceil(ms / AUDIO_MS_PER_TOKEN - 1e-9))


def _item_tokens(item: StoredItem) -> tuple[int, int]:
    if item.type == "function_call":
        return text_tokens(len(item.arguments or "")), 0
    if item.type == "function_call_output":
        return text_tokens(len(item.output or "")), 0
    text = audio = 0
    for part in item.parts:
        if part.type in ("input_text", "text"):
            text += text_tokens(len(part.text or ""))
        else:
            audio += audio_tokens(part.audio_ms)
    return text, audio


def context_tokens(
    items: Iterable[StoredItem], instructions: str, tools: Iterable[Tool]
) -> tuple[int, int]:
    """``(text, audio)`` input tokens of a response's context."""
    text = text_tokens(len(instructions))
    for tool in tools:
        text += text_tokens(len(orjson.dumps(converter.unstructure(tool, Tool))))
    audio = 0
    for item in items:
        t, a = _item_tokens(item)
        text += t
        audio += a
    return text, audio


def make_usage(input_text: int, input_audio: int, output_text: int, output_audio: int) -> Usage:
    """The ``usage`` of ``response.done``, in the shape of the spec example (section 9)."""
    input_tokens = input_text + input_audio
    output_tokens = output_text + output_audio
    return Usage(
        total_tokens=input_tokens + output_tokens,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        input_token_details=TokenDetails(
            cached_tokens=0,
            text_tokens=input_text,
            audio_tokens=input_audio,
            extra={"cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0}},
        ),
        output_token_details=TokenDetails(text_tokens=output_text, audio_tokens=output_audio),
    )


class RateLimits:
    """Per-connection ``requests`` and ``tokens`` buckets for ``rate_limits.updated``.

    Args:
        requests_per_minute: Size of the requests bucket.
        tokens_per_minute: Size of the tokens bucket.
        now: The connection's start, on the caller's clock.
    """

    __slots__ = ("_requests", "_time", "_tokens", "requests_per_minute", "tokens_per_minute")

    def __init__(self, requests_per_minute: int, tokens_per_minute: int, now: float) -> None:
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._requests = float(requests_per_minute)
        self._tokens = float(tokens_per_minute)
        self._time = now

    def record(self, now: float, tokens: int) -> list[RateLimit]:
        """Charge one response of ``tokens`` tokens at ``now``; the entries to report."""
        elapsed = max(0.0, now - self._time)
        self._time = max(self._time, now)
        out = []
        for name, limit, level, cost in (
            ("requests", self.requests_per_minute, self._requests, 1),
            ("tokens", self.tokens_per_minute, self._tokens, tokens),
        ):
            rate = limit / 60.0
            level = min(float(limit), level + elapsed * rate) - cost
            if name == "requests":
                self._requests = level
            else:
                self._tokens = level
            out.append(
                RateLimit(
                    name=name,
                    limit=limit,
                    remaining=max(0, math.floor(level)),
                    reset_seconds=round((limit - level) / rate, 3) if rate > 0 else 0.0,
                )
            )
        return out
