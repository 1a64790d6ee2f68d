"""Snapshot types of a conversation: usage totals, anomalies, statistics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

from ._events import Usage
from ._unset import UNSET

__all__ = ["Anomaly", "ConversationStatistics", "UsageTotals"]


#: The usage fields summed by :class:`UsageTotals`, in order.
_USAGE_FIELDS: Final = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "input_text_tokens",
    "input_audio_tokens",
    "input_cached_tokens",
    "output_text_tokens",
    "output_audio_tokens",
)


#: How many counts :func:`usage_vector` returns.
USAGE_FIELD_COUNT: Final = len(_USAGE_FIELDS)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_vector(usage: Usage | None) -> tuple[int, ...]:
    """The counts of ``usage`` in :data:`_USAGE_FIELDS` order; absent or null counts are 0."""
    if usage is None:
        return (0,) * len(_USAGE_FIELDS)
    i = usage.input_token_details
    o = usage.output_token_details
    i_text = i_audio = i_cached = o_text = o_audio = 0
    if i is not None and i is not UNSET:
        i_text, i_audio, i_cached = _int(i.text_tokens), _int(i.audio_tokens), _int(i.cached_tokens)
    if o is not None and o is not UNSET:
        o_text, o_audio = _int(o.text_tokens), _int(o.audio_tokens)
    return (
        _int(usage.input_tokens),
        _int(usage.output_tokens),
        _int(usage.total_tokens),
        i_text,
        i_audio,
        i_cached,
        o_text,
        o_audio,
    )


@attrs.frozen(kw_only=True)
class UsageTotals:
    """Token usage summed over every response that reported usage (a snapshot).

    Attributes:
        responses: How many responses reported a usage.
        input_tokens: Sum of ``usage.input_tokens``.
        output_tokens: Sum of ``usage.output_tokens``.
        total_tokens: Sum of ``usage.total_tokens``.
        input_text_tokens: Sum of ``input_token_details.text_tokens``.
        input_audio_tokens: Sum of ``input_token_details.audio_tokens``.
        input_cached_tokens: Sum of ``input_token_details.cached_tokens``.
        output_text_tokens: Sum of ``output_token_details.text_tokens``.
        output_audio_tokens: Sum of ``output_token_details.audio_tokens``.
    """

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    input_cached_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0

    @classmethod
    def of(cls, usages: Iterable[Usage | None]) -> UsageTotals:
        """The totals of ``usages`` (``None`` entries are skipped)."""
        sums = [0] * len(_USAGE_FIELDS)
        count = 0
        for usage in usages:
            if usage is None:
                continue
            count += 1
            for k, v in enumerate(usage_vector(usage)):
                sums[k] += v
        return cls(responses=count, **dict(zip(_USAGE_FIELDS, sums, strict=True)))


def usage_totals(count: int, sums: list[int]) -> UsageTotals:
    """Build :class:`UsageTotals` from a running count and the sums in field order."""
    return UsageTotals(responses=count, **dict(zip(_USAGE_FIELDS, sums, strict=True)))


@attrs.frozen
class Anomaly:
    """An event the conversation could not place, kept for inspection (a snapshot).

    Attributes:
        reason: A short code: ``unknown_item``, ``unknown_response``, ``unknown_part``,
            ``unknown_previous_item``, ``duplicate_item``, ``duplicate_response``,
            ``overlapping_response``, ``done_mismatch``, ``invalid_audio``,
            ``unknown_audio_format``, ``not_truncatable``, ``missing_id``,
            ``transcript_buffer_full``, ``unhandled_event`` or ``implausible_value`` (an
            index, count or duration past the conversation's bounds: a ``content_index``
            of 256 or more, an ``output_index`` of 1024 or more, more parts or output items
            than that, a negative one, or a duration of more than a day; the event is
            applied as far as the bounds allow).
        event_type: The wire ``type`` of the event.
        detail: A human-readable explanation naming the ids involved.
    """

    reason: str
    event_type: str
    detail: str


@attrs.frozen(kw_only=True)
class ConversationStatistics:
    """Counts describing a conversation's size and health (a snapshot).

    Attributes:
        items: Items in the default conversation now.
        items_known: Items ever seen (deleted and out-of-band ones included).
        responses: Responses ever seen.
        audio_bytes_kept: Bytes of audio held in memory across all items.
        audio_bytes_received: Bytes of assistant audio received in deltas, ever.
        input_audio_ms_sent: Milliseconds of input audio the client appended.
        pending_transcripts: Item ids with input transcripts waiting for their item.
        anomalies: Anomalies ever counted (the list keeps the latest ones).
        errors: ``error`` events seen.
        unknown_events: :class:`~trio_realtime.UnknownEvent` instances seen.
    """

    items: int
    items_known: int
    responses: int
    audio_bytes_kept: int
    audio_bytes_received: int
    input_audio_ms_sent: float
    pending_transcripts: int
    anomalies: int
    errors: int
    unknown_events: int
