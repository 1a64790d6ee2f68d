"""Unit tests of ``Conversation``'s audio rules: truncation, barge-in, memory bounds, formats.

Section numbers refer to the protocol's server-behaviour.md (5.3 barge-in, 5.11 truncation);
the pitfalls "Wrong audio_end_ms on truncate", "Truncate before the first audio" and "Memory
grows in long sessions" of client-pitfalls.md each have a test here.
"""

from __future__ import annotations

import math

import pytest
from test_conversation import PCM, audio_turn, feed
from test_conversation_factories import (
    At,
    assistant_item,
    cancelled,
    item_created,
    item_deleted,
    item_truncated,
    output_item_added,
    output_item_done,
    response_created,
    response_done,
    session_created,
    session_updated,
    speech_started,
    text_message,
    usage,
)

from trio_realtime._core._conversation import Conversation
from trio_realtime._core._events import (
    ContentPart,
    ConversationItemTruncate,
    InputAudioBufferAppend,
)

# --- truncation and barge-in (5.3, 5.11) -------------------------------------------------------


@pytest.mark.parametrize(("fmt", "bpm"), [("pcm16", 48), ("g711_ulaw", 8), ("g711_alaw", 8)])
def test_truncation_cuts_the_audio_by_the_formats_bytes_per_ms_and_drops_the_transcript(
    fmt: str, bpm: int
) -> None:
    c = feed(Conversation(), session_created(fmt))
    audio_turn(c, chunks=(PCM,))
    c.apply(item_truncated("item_a", 5))
    assistant = c.item("item_a")
    assert assistant.audio == PCM[: 5 * bpm]
    assert assistant.audio_ms == 5
    assert assistant.audio_received_ms == len(PCM) / bpm  # what was received stays counted
    assert (assistant.transcript, assistant.truncated_at_ms) == (None, 5)
    assert c.response("resp_1").output[0] is assistant
    assert c.anomalies == ()


def test_barge_in_cancels_the_active_response_and_truncation_for_gives_what_was_heard() -> None:
    c = Conversation()
    at = audio_turn(c, chunks=(PCM[:480], PCM[480:960]), complete=False)  # 20 ms received
    # 5.3: speech_started first, then the open part and item close, then response.done.
    interrupted = assistant_item(
        "item_a", "incomplete", [ContentPart(type="audio", transcript="Hello!")]
    )
    feed(
        c,
        speech_started("item_u2", 4000),
        at.audio_done(),
        at.transcript_done("Hello!"),
        at.part_done("audio", "Hello!"),
        output_item_done("resp_1", 0, interrupted),
        response_done("resp_1", "cancelled", output=[interrupted], details=cancelled("turn_detected"), usage=usage(1, 1, 1, 1)),
    )  # fmt: skip
    assert c.user_speaking
    assert c.active_response is None
    r = c.response("resp_1")
    assert r.status == "cancelled"
    assert r.status_details is not None
    assert r.status_details.reason == "turn_detected"
    assert c.item("item_a").status == "incomplete"
    truncate = c.truncation_for("item_a", played_ms=12.7)
    assert truncate == ConversationItemTruncate(item_id="item_a", content_index=0, audio_end_ms=12)
    c.sent(truncate)
    c.apply(item_truncated("item_a", 12))
    assert c.item("item_a").audio == PCM[: 12 * 48]
    assert c.item("item_a").transcript is None
    assert c.anomalies == ()


def test_a_truncated_part_keeps_its_transcript_dropped_while_the_response_runs_on() -> None:
    c = Conversation()
    at = audio_turn(c, chunks=(PCM,), complete=False)
    c.apply(item_truncated("item_a", 3))
    feed(c, at.transcript(" more"), at.audio(PCM[:96]), at.transcript_done("Hello! more"))
    item = c.item("item_a")
    assert item.transcript is None
    assert item.audio_ms == 3 + 2  # audio generated after the cut follows it
    assert item.audio == PCM[: 3 * 48] + PCM[:96]


def test_truncation_for_clamps_to_the_audio_received_and_floors_to_whole_ms() -> None:
    c = Conversation()
    audio_turn(c, chunks=(PCM[:1000],), complete=False)  # 20.83 ms so far
    assert c.truncation_for("item_a", 10_000) == ConversationItemTruncate(
        item_id="item_a", content_index=0, audio_end_ms=20
    )
    assert c.truncation_for("item_a", math.inf).audio_end_ms == 20  # type: ignore[union-attr]
    assert c.truncation_for("item_a", 7.999).audio_end_ms == 7  # type: ignore[union-attr]
    assert c.truncation_for("item_a", 0.5).audio_end_ms == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("played", [0, -3.0, math.nan, -math.inf])
def test_truncation_for_is_none_when_nothing_was_heard(played: float) -> None:
    c = Conversation()
    audio_turn(c)
    assert c.truncation_for("item_a", played) is None


def test_truncation_for_is_none_for_items_the_server_cannot_truncate() -> None:
    c = Conversation()
    audio_turn(c)
    at = At("resp_2", "item_x")
    feed(
        c,
        response_created("resp_2"),
        output_item_added("resp_2", 0, assistant_item("item_x")),
        item_created(assistant_item("item_x"), "item_a"),
        at.part_added("audio"),  # no audio yet: "Truncate before the first audio"
        at.transcript("Wait"),
    )
    feed(c, item_created(text_message("item_t", "typed"), None))
    feed(
        c,
        response_created("resp_o", oob=True),
        output_item_added("resp_o", 0, assistant_item("item_o")),
    )
    feed(c, At("resp_o", "item_o").part_added("audio"), At("resp_o", "item_o").audio(PCM))
    for item_id in ("item_u", "item_x", "item_t", "item_o", "item_never"):
        assert c.truncation_for(item_id, 100) is None, item_id
    c.apply(item_deleted("item_a"))
    assert c.truncation_for("item_a", 100) is None
    c.apply(At("resp_2", "item_x").audio(PCM[:96]))
    assert c.truncation_for("item_x", 100) == ConversationItemTruncate(
        item_id="item_x", content_index=0, audio_end_ms=2
    )


def test_truncation_for_never_goes_past_a_truncate_already_sent_or_done() -> None:
    c = Conversation()
    audio_turn(c, chunks=(PCM,))
    c.sent(ConversationItemTruncate(item_id="item_a", content_index=0, audio_end_ms=9))
    assert c.truncation_for("item_a", 15).audio_end_ms == 9  # type: ignore[union-attr]
    c.apply(item_truncated("item_a", 9))
    assert c.truncation_for("item_a", 15).audio_end_ms == 9  # type: ignore[union-attr]
    c.apply(item_truncated("item_a", 0))
    assert c.truncation_for("item_a", 15) is None  # no audio left


def test_truncation_for_names_the_audio_part() -> None:
    c = Conversation()
    at0, at1 = At("resp_1", "item_a", 0, 0), At("resp_1", "item_a", 0, 1)
    feed(
        c,
        response_created("resp_1"),
        output_item_added("resp_1", 0, assistant_item("item_a")),
        item_created(assistant_item("item_a"), None),
        at0.part_added("text"),
        at1.part_added("audio"),
        at1.audio(PCM[:480]),
    )
    assert c.truncation_for("item_a", 50) == ConversationItemTruncate(
        item_id="item_a", content_index=1, audio_end_ms=10
    )


# --- memory bounds -----------------------------------------------------------------------------


def test_keep_audio_seconds_keeps_only_the_last_seconds_but_counts_everything() -> None:
    c = Conversation(keep_audio_seconds=0.01)  # 10 ms = 480 bytes of pcm16
    audio_turn(c, chunks=(PCM[:300], PCM[300:700], PCM[700:]))
    item = c.item("item_a")
    assert item.audio == PCM[-480:]
    assert item.audio_received_ms == item.audio_ms == len(PCM) / 48
    assert c.statistics().audio_bytes_kept == 480
    assert c.truncation_for("item_a", 1000).audio_end_ms == 21  # type: ignore[union-attr]


def test_keep_audio_seconds_zero_keeps_no_audio_but_still_counts_it() -> None:
    c = Conversation(keep_audio_seconds=0)
    audio_turn(c, chunks=(PCM, PCM))
    item = c.item("item_a")
    assert item.audio == b""
    assert item.audio_received_ms == 2 * len(PCM) / 48
    stats = c.statistics()
    assert (stats.audio_bytes_kept, stats.audio_bytes_received) == (0, 2 * len(PCM))
    assert c.truncation_for("item_a", 30).audio_end_ms == 30  # type: ignore[union-attr]


def test_input_audio_appended_by_the_client_is_counted_and_never_kept() -> None:
    c = Conversation()
    for _ in range(10):
        c.sent(InputAudioBufferAppend.from_pcm(PCM[:960]))
    c.sent(InputAudioBufferAppend.from_pcm(PCM[:7]))  # padding: 7 bytes decode from 12 chars
    assert c.input_audio_sent_bytes == 9607
    assert c.input_audio_sent_ms == pytest.approx(9607 / 48)
    assert c.statistics().audio_bytes_kept == 0
    c.apply(session_updated(input="g711_ulaw"))
    c.sent(InputAudioBufferAppend.from_pcm(PCM[:80]))
    assert c.input_audio_sent_ms == pytest.approx(9607 / 48 + 10)


# --- audio formats -----------------------------------------------------------------------------


def test_the_response_format_wins_and_a_running_response_keeps_its_format() -> None:
    c = feed(Conversation(), session_created("pcm16"), response_created("resp_1", fmt="g711_ulaw"))
    assert c.response("resp_1").output_audio_format == "g711_ulaw"
    feed(c, response_created("resp_2", oob=True), session_updated("g711_alaw"))
    assert c.output_audio_format == "g711_alaw"
    at = At("resp_2", "item_b")
    feed(
        c,
        output_item_added("resp_2", 0, assistant_item("item_b")),
        at.part_added("audio"),
        at.audio(PCM[:96]),
    )
    assert c.item("item_b").audio_format == "pcm16"  # fixed when resp_2 started
    assert c.item("item_b").audio_ms == 2
