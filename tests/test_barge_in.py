"""Barge-in decisions without a network: :class:`Playback` over a fed :class:`Conversation`.

Each test feeds a turn of server events (section 5.2 of server-behaviour.md), reports
playback, then asks what a ``speech_started`` should do. The rules under test are those of
5.3 (who cancels), 5.8 (no cancel the server would refuse) and 5.11 with the pitfalls
"Wrong audio_end_ms on truncate" and "Truncate before the first audio".
"""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_conversation import audio_turn, feed
from test_conversation_factories import (
    item_created,
    response_created,
    session_created,
    speech_started,
    text_message,
)

from trio_realtime._core._conversation import Conversation
from trio_realtime._core._events import (
    ConversationItemTruncate,
    ResponseCancel,
    SessionUpdated,
    TurnDetection,
)
from trio_realtime._core._playback import MAX_TRACKED_ITEMS, Playback, server_interrupts

CHUNK = bytes(4800)  # 100 ms of pcm16


def _turn(
    *, complete: bool, chunks: int = 3, interrupt: bool = True
) -> tuple[Conversation, Playback]:
    c = feed(Conversation(), session_created())
    if not interrupt:
        session = c.session
        assert session is not None
        assert isinstance(session.turn_detection, TurnDetection)
        turn = attrs.evolve(session.turn_detection, interrupt_response=False)
        c.apply(SessionUpdated(event_id="e", session=attrs.evolve(session, turn_detection=turn)))
    audio_turn(c, chunks=(CHUNK,) * chunks, complete=complete)
    return c, Playback(c)


def test_mid_reply_with_server_interrupts_truncates_at_what_was_played_and_sends_no_cancel() -> (
    None
):
    _c, playback = _turn(complete=False)
    playback.played("item_a", 123.9)
    decision = playback.barge_in(speech_started("item_u2", 5000))
    assert decision is not None
    assert decision.cancel is None  # interrupt_response: the server cancels by itself
    assert decision.truncate == ConversationItemTruncate(
        item_id="item_a", content_index=0, audio_end_ms=123
    )
    notice = decision.notice
    assert notice is not None
    assert (notice.item_id, notice.response_id, notice.played_ms) == ("item_a", "resp_1", 123.9)
    assert (notice.audio_end_ms, notice.audio_received_ms, notice.cancelled) == (123, 300.0, False)
    assert notice.speech_item_id == "item_u2"
    assert notice.type == "trio_realtime.playback_interrupted"
    assert playback.interrupted("item_a")


def test_without_interrupt_response_the_client_cancels_the_running_response() -> None:
    _c, playback = _turn(complete=False, interrupt=False)
    playback.played("item_a", 50)
    decision = playback.barge_in(speech_started("item_u2"))
    assert decision is not None
    assert decision.cancel == ResponseCancel(response_id="resp_1")
    assert decision.truncate is not None
    assert decision.truncate.audio_end_ms == 50
    assert decision.notice is not None
    assert decision.notice.cancelled


def test_a_position_past_the_audio_received_is_clamped_to_it() -> None:
    _c, playback = _turn(complete=False, chunks=2)
    playback.played("item_a", 10_000)  # a wall-clock estimate that overshoots
    decision = playback.barge_in(speech_started("item_u2"))
    assert decision is not None
    assert decision.truncate is not None
    assert decision.truncate.audio_end_ms == 200  # never past what the server holds


def test_an_item_never_reported_as_played_is_not_truncated_but_playback_still_stops() -> None:
    _c, playback = _turn(complete=False)
    decision = playback.barge_in(speech_started("item_u2"))
    assert decision is not None
    assert decision.truncate is None  # nothing heard: a truncate could only be refused
    assert decision.notice is not None
    assert decision.notice.played_ms == 0.0
    assert decision.notice.audio_end_ms is None


def test_after_response_done_an_item_still_playing_is_truncated_and_nothing_cancelled() -> None:
    c, playback = _turn(complete=True)
    assert c.active_response is None
    playback.played_bytes("item_a", 4800 * 2 + 96)  # 202 ms of 300 ms
    decision = playback.barge_in(speech_started("item_u2"))
    assert decision is not None
    assert decision.cancel is None
    assert decision.truncate is not None
    assert decision.truncate.audio_end_ms == 202


@pytest.mark.parametrize("report", ["all", "finished", "nothing"])
def test_a_reply_heard_to_its_end_is_not_interrupted(report: str) -> None:
    _c, playback = _turn(complete=True)
    if report == "all":
        playback.played("item_a", 300)
    elif report == "finished":
        playback.played("item_a", 100)
        playback.finished("item_a")
    assert playback.barge_in(speech_started("item_u2")) is None


def test_an_item_is_interrupted_once() -> None:
    _c, playback = _turn(complete=True)
    playback.played("item_a", 100)
    assert playback.barge_in(speech_started("item_u2")) is not None
    assert playback.barge_in(speech_started("item_u3")) is None


def test_handling_can_be_switched_off() -> None:
    _c, playback = _turn(complete=False, interrupt=False)
    playback.handle_interruptions = False
    playback.played("item_a", 100)
    assert playback.barge_in(speech_started("item_u2")) is None
    assert "off" in repr(playback)


def test_a_reply_from_an_earlier_turn_is_not_what_the_user_talks_over() -> None:
    c, playback = _turn(complete=True)
    playback.played("item_a", 100)
    c.apply(item_created(text_message("item_t", "typed"), "item_a"))
    assert playback.barge_in(speech_started("item_u2")) is None


def test_a_running_text_response_is_cancelled_without_a_notice() -> None:
    c, playback = _turn(complete=True, interrupt=False)
    playback.finished("item_a")
    feed(c, response_created("resp_2"))
    decision = playback.barge_in(speech_started("item_u2"))
    assert decision is not None
    assert decision.cancel == ResponseCancel(response_id="resp_2")
    assert decision.truncate is None
    assert decision.notice is None


@pytest.mark.parametrize(("fmt", "bpm"), [("pcm16", 48), ("g711_ulaw", 8)])
def test_played_bytes_use_the_items_own_format(fmt: str, bpm: int) -> None:
    c = feed(Conversation(), session_created(fmt))
    audio_turn(c, chunks=(bytes(bpm * 100),), complete=False)
    playback = Playback(c)
    playback.played_bytes("item_a", bpm * 40)
    assert playback.played_ms("item_a") == 40


def test_positions_only_move_forward_and_bad_reports_are_refused() -> None:
    _c, playback = _turn(complete=False)
    playback.played("item_a", 100)
    playback.played("item_a", 50)
    assert playback.played_ms("item_a") == 100
    assert playback.played_ms("item_zzz") == 0.0
    for bad in (-1, math.nan, math.inf):
        with pytest.raises(ValueError, match="finite"):
            playback.played("item_a", bad)
    with pytest.raises(ValueError, match=">= 0"):
        playback.played_bytes("item_a", -5)
    with pytest.raises(KeyError):
        playback.played_bytes("item_unknown", 10)


def test_memory_is_bounded() -> None:
    _c, playback = _turn(complete=False)
    for i in range(MAX_TRACKED_ITEMS * 3):
        playback.played(f"item_{i}", 1)
        playback.finished(f"item_{i}")
    assert len(playback._played) == MAX_TRACKED_ITEMS
    assert len(playback._finished) == MAX_TRACKED_ITEMS


def test_who_interrupts_follows_the_session_configuration() -> None:
    assert server_interrupts(None)  # the server's defaults
    c = feed(Conversation(), session_created())
    assert server_interrupts(c.session)
    session = c.session
    assert session is not None
    assert not server_interrupts(attrs.evolve(session, turn_detection=None))
    assert server_interrupts(attrs.evolve(session, turn_detection=TurnDetection(type="server_vad")))


@given(
    chunks=st.integers(min_value=1, max_value=6),
    played=st.one_of(st.none(), st.floats(min_value=0, max_value=2000, allow_nan=False)),
    complete=st.booleans(),
    interrupt=st.booleans(),
)
def test_a_truncate_never_goes_past_what_was_heard_or_received(
    chunks: int, played: float | None, complete: bool, interrupt: bool
) -> None:
    _c, playback = _turn(complete=complete, chunks=chunks, interrupt=interrupt)
    if played is not None:
        playback.played("item_a", played)
    decision = playback.barge_in(speech_started("item_u2"))
    received = chunks * 100
    heard = played or 0.0
    playing = not complete or (played is not None and heard < received)
    if not playing:
        assert decision is None
        return
    assert decision is not None
    assert (decision.cancel is not None) == (not complete and not interrupt)
    if heard > 0:
        assert decision.truncate is not None
        end = decision.truncate.audio_end_ms
        assert isinstance(end, int)
        assert end <= heard
        assert end <= received
        assert end == min(math.floor(heard), received)
    else:
        assert decision.truncate is None
    assert decision.notice is not None
