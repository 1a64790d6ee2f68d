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
* **cached** input is the part of the context that repeats a recent response's context from
  its start (:class:`PromptCache`), so it is a subset of input; ``total = input + output``,
  ``input = text + audio``, ``output = text + audio``.

**Prompt caching** [inf], modelled on OpenAI's prompt caching (exact prefix matches only,
prompts of at least 1,024 tokens, hits in steps of 128 tokens, entries kept for minutes of
inactivity). A context is a sequence of segments: the instructions, each tool, each content
part of each item (and each function call or output), in order, each with its tokens. The
cached prefix of a response is the longest run of leading segments equal to those of one of
the connection's last :data:`CACHE_ENTRIES` contexts used within :data:`CACHE_TTL_SECONDS`;
below :data:`CACHE_MIN_TOKENS` nothing is cached, above it the count is rounded down to a
multiple of :data:`CACHE_BLOCK_TOKENS` (the text and audio split follows the segments, text
first where a block ends inside a segment). So a conversation that grows turn by turn reads
most of its context from the cache, while a changed instruction, a deleted or truncated item
or an out-of-band ``input`` starts over from the first difference.

Rate limits are two token buckets refilled continuously over a minute (``requests`` and
``tokens``): ``remaining`` is what the bucket holds after this response (never below 0) and
``reset_seconds`` the time until it is full again. They are reported, never enforced.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Final

import attrs
import orjson

from .._core._codec import converter
from .._core._events import RateLimit, TokenDetails, Tool, Usage
from ._items import StoredItem

__all__ = [
    "AUDIO_MS_PER_TOKEN",
    "CACHE_BLOCK_TOKENS",
    "CACHE_ENTRIES",
    "CACHE_MIN_TOKENS",
    "CACHE_TTL_SECONDS",
    "TEXT_CHARS_PER_TOKEN",
    "InputTokens",
    "PromptCache",
    "RateLimits",
    "Segment",
    "audio_tokens",
    "context_segments",
    "make_usage",
    "text_tokens",
]

TEXT_CHARS_PER_TOKEN: Final = 4
AUDIO_MS_PER_TOKEN: Final = 50
CACHE_MIN_TOKENS: Final = 1024
CACHE_BLOCK_TOKENS: Final = 128
CACHE_TTL_SECONDS: Final = 300.0
CACHE_ENTRIES: Final = 4


def text_tokens(chars: int) -> int:
    """Tokens for ``chars`` characters of text: ``ceil(chars / 4)``."""
    return -(-chars // TEXT_CHARS_PER_TOKEN)


def audio_tokens(ms: float) -> int:
    """Tokens for ``ms`` milliseconds of audio: ``ceil(ms / 50)``."""
    # The epsilon absorbs float noise in durations computed from byte counts.
    return max(0, math.ceil(ms / AUDIO_MS_PER_TOKEN - 1e-9))


@attrs.frozen
class Segment:
    """One piece of a response's context, as the prompt cache compares them.

    Attributes:
        key: What the piece is: equal keys mean equal content.
        text: Its text tokens.
        audio: Its audio tokens.
    """

    key: tuple[object, ...]
    text: int = 0
    audio: int = 0


def _item_segments(item: StoredItem) -> Iterable[Segment]:
    if item.type == "function_call":
        args = item.arguments or ""
        yield Segment(("call", item.id, item.call_id, item.name, args), text_tokens(len(args)))
    elif item.type == "function_call_output":
        out = item.output or ""
        yield Segment(("output", item.id, item.call_id, out), text_tokens(len(out)))
    else:
        for index, part in enumerate(item.parts):
            if part.type in ("input_text", "text"):
                text = part.text or ""
                yield Segment((item.id, index, part.type, text), text_tokens(len(text)))
            else:  # audio: what the model hears is the audio, however long it now is
                ms = part.audio_ms
                yield Segment((item.id, index, part.type, ms), audio=audio_tokens(ms))


def context_segments(
    items: Iterable[StoredItem], instructions: str, tools: Iterable[Tool]
) -> list[Segment]:
    """A response's context in order: instructions, tools, then every item's pieces.

    Input tokens count the whole context: instructions, tools and every item (audio parts
    count as audio only; their transcripts are not input).
    """
    segments = [Segment(("instructions", instructions), text_tokens(len(instructions)))]
    for tool in tools:
        dumped = orjson.dumps(converter.unstructure(tool, Tool)).decode()
        segments.append(Segment(("tool", dumped), text_tokens(len(dumped))))
    for item in items:
        segments.extend(_item_segments(item))
    return segments


@attrs.frozen
class InputTokens:
    """A response's input tokens, and how many of them came from the prompt cache.

    Attributes:
        text: Text input tokens.
        audio: Audio input tokens.
        cached_text: Cached text tokens (≤ ``text``).
        cached_audio: Cached audio tokens (≤ ``audio``).
    """

    text: int
    audio: int
    cached_text: int = 0
    cached_audio: int = 0

    @property
    def total(self) -> int:
        """All input tokens."""
        return self.text + self.audio


@attrs.define(eq=False)
class _CacheEntry:
    keys: tuple[tuple[object, ...], ...]
    used: float


class PromptCache:
    """One connection's recent contexts, for ``cached_tokens`` (see the module docstring)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: deque[_CacheEntry] = deque(maxlen=CACHE_ENTRIES)

    def charge(self, segments: Sequence[Segment], now: float) -> InputTokens:
        """The input tokens of a response over ``segments`` starting at ``now``; the
        context is then remembered for later responses."""
        keys = tuple(segment.key for segment in segments)
        live = [e for e in self._entries if now - e.used <= CACHE_TTL_SECONDS]
        matched, best = 0, None
        for entry in live:
            n = _common_prefix(entry.keys, keys)
            if n > matched:
                matched, best = n, entry
        if best is not None:
            best.used = now
        text = sum(segment.text for segment in segments)
        audio = sum(segment.audio for segment in segments)
        cached_text, cached_audio = _cached_split(segments[:matched])
        self._remember(keys, now, live)
        return InputTokens(text, audio, cached_text, cached_audio)

    def _remember(
        self, keys: tuple[tuple[object, ...], ...], now: float, live: list[_CacheEntry]
    ) -> None:
        for entry in live:
            if entry.keys == keys:
                entry.used = now
                return
        self._entries.clear()
        self._entries.extend(live)
        self._entries.append(_CacheEntry(keys, now))  # the oldest falls out


def _common_prefix(a: Sequence[object], b: Sequence[object]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _cached_split(prefix: Sequence[Segment]) -> tuple[int, int]:
    """``(text, audio)`` cached tokens of a matched prefix: at least
    :data:`CACHE_MIN_TOKENS`, rounded down to whole :data:`CACHE_BLOCK_TOKENS`."""
    total = sum(segment.text + segment.audio for segment in prefix)
    if total < CACHE_MIN_TOKENS:
        return 0, 0
    budget = total - total % CACHE_BLOCK_TOKENS
    text = audio = 0
    for segment in prefix:
        take_text = min(segment.text, budget)
        budget -= take_text
        take_audio = min(segment.audio, budget)
        budget -= take_audio
        text += take_text
        audio += take_audio
        if budget == 0:
            break
    return text, audio


def make_usage(tokens: InputTokens, output_text: int, output_audio: int) -> Usage:
    """The ``usage`` of ``response.done``, in the shape of the spec example (section 9)."""
    output_tokens = output_text + output_audio
    cached = tokens.cached_text + tokens.cached_audio
    return Usage(
        total_tokens=tokens.total + output_tokens,
        input_tokens=tokens.total,
        output_tokens=output_tokens,
        input_token_details=TokenDetails(
            cached_tokens=cached,
            text_tokens=tokens.text,
            audio_tokens=tokens.audio,
            extra={
                "cached_tokens_details": {
                    "text_tokens": tokens.cached_text,
                    "audio_tokens": tokens.cached_audio,
                }
            },
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
