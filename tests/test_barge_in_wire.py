"""Barge-in on the wire: the user talks over a reply the local server streams at real time.

The engine paces audio at real time (``audio_realtime_factor=1.0``, under ``autojump_clock``
so no test waits for it); the test plays the deltas with a 150 ms buffer, reporting to
``session.playback`` what has left the "speaker"; once a second of the reply has arrived it
streams speech, which the server's VAD hears. Every client event is recorded, so a test can
say exactly what went out. The race where the server finishes the reply just as the client
cancels it is scripted with the fake server.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from fake_server import ServerConnection, client, error_event, fake_server, session_created
from waiting import wait_until

import trio_realtime as rt
from trio_realtime._core._playback import PlaybackInterrupted
from trio_realtime._session._response_handles import ResponseResult
from trio_realtime.audio import silence, speech_like
from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server

BUFFER_MS = 150
STORY = "tell me a long story about the sea and the wind and the boats"


@attrs.define
class Run:
    events: list[Any]
    sent: list[rt.ClientEvent]
    conversation: rt.Conversation
    statistics: rt.SessionStatistics
    reply: ResponseResult


async def barge_in(
    tmp_path: Path,
    *,
    interrupt: bool = True,
    report: str = "buffered",
    pace: bool = True,
    dialect: Any = "beta",
) -> Run:
    """One spoken reply interrupted by speech after a second of it has arrived."""
    engine = SimulatedEngine(audio_realtime_factor=1.0 if pace else None, audio_chunk_ms=50)
    path = tmp_path / "session.jsonl"
    async with (
        open_local_server(engine=engine) as server,
        rt.connect(
            model="gpt-realtime", url=server.url, api_key="k", record=path, dialect=dialect
        ) as session,
    ):
        turns = rt.TurnDetection(type="server_vad", interrupt_response=interrupt)
        await session.update_session(rt.Session(turn_detection=turns))
        await session.wait_for(rt.SessionUpdated)
        await session.create_item(rt.ConversationItem.user_text(STORY))
        reply = await session.create_response(max_deltas=0)
        received: dict[str, int] = {}
        events: list[Any] = []
        spoke = False
        async for event in session:
            events.append(event)
            if isinstance(event, rt.ResponseAudioDelta) and not spoke:
                # Play with a 150 ms buffer; once a second has arrived the user speaks
                # (from then on the test's "speaker" reports nothing more).
                item = event.item_id
                received[item] = received.get(item, 0) + len(event.pcm)
                if report == "buffered":
                    session.playback.played_bytes(item, max(0, received[item] - BUFFER_MS * 48))
                elif report == "overshoot":
                    session.playback.played(item, 99_999)  # a wall-clock guess
                if received[item] >= 1000 * 48:
                    spoke = True
                    await session.stream_audio(speech_like(600) + silence(600), realtime=False)
            if _settled(events, reply.response_id):
                break
        result = await reply.done()
        stats = session.statistics()
        conversation = session.conversation
    sent = [e.event for e in rt.read_recording(path).events if e.direction == "client"]
    return Run(events, sent, conversation, stats, result)


def _settled(events: list[Any], first: str | None) -> bool:
    """The new turn's reply is done, and the truncate (if one was sent) is answered."""
    notices = [e for e in events if isinstance(e, PlaybackInterrupted)]
    truncated = any(isinstance(e, rt.ConversationItemTruncated) for e in events)
    if notices and notices[0].audio_end_ms is not None and not truncated:
        return False
    return any(isinstance(e, rt.ResponseDone) and e.response.id != first for e in events)


def sent_types(run: Run) -> list[str]:
    return [e.type for e in run.sent if e.type != "input_audio_buffer.append"]


def notice_after_speech(run: Run) -> PlaybackInterrupted:
    (index,) = [i for i, e in enumerate(run.events) if isinstance(e, PlaybackInterrupted)]
    assert isinstance(run.events[index - 1], rt.InputAudioBufferSpeechStarted)
    notice = run.events[index]
    assert isinstance(notice, PlaybackInterrupted)
    return notice


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_speech_mid_reply_lets_the_server_cancel_and_truncates_at_what_was_played(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, dialect: Any
) -> None:
    with trio.fail_after(60):
        run = await barge_in(tmp_path, dialect=dialect)
    notice = notice_after_speech(run)
    assert run.reply.status == "cancelled"
    assert run.reply.status_details is not None
    assert run.reply.status_details.reason == "turn_detected"
    assert notice.played_ms == 1000 - BUFFER_MS
    assert notice.audio_received_ms >= 1000
    assert notice.audio_end_ms == 1000 - BUFFER_MS
    assert not notice.cancelled
    # What went out: no cancel (the server's interrupt_response did it), one truncate.
    assert "response.cancel" not in sent_types(run)
    (truncate,) = [e for e in run.sent if isinstance(e, rt.ConversationItemTruncate)]
    assert (truncate.item_id, truncate.audio_end_ms) == (notice.item_id, notice.audio_end_ms)
    # The conversation reflects the truncation: audio cut, transcript dropped (5.11).
    item = run.conversation.item(notice.item_id)
    assert item.truncated_at_ms == notice.audio_end_ms
    assert item.audio_ms == notice.audio_end_ms
    assert item.transcript is None
    assert [e for e in run.events if isinstance(e, rt.ErrorEvent)] == []


async def test_without_interrupt_response_the_session_cancels_the_reply(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(60):
        run = await barge_in(tmp_path, interrupt=False)
    notice = notice_after_speech(run)
    assert notice.cancelled
    assert run.reply.status_details is not None
    assert run.reply.status_details.reason == "client_cancelled"
    assert notice.audio_end_ms == 1000 - BUFFER_MS
    types = sent_types(run)
    assert types.count("response.cancel") == 1
    assert types.index("response.cancel") < types.index("conversation.item.truncate")
    assert run.conversation.item(notice.item_id).truncated_at_ms == notice.audio_end_ms
    assert [e for e in run.events if isinstance(e, rt.ErrorEvent)] == []
    assert run.statistics.errors_handled == 0


async def test_a_position_past_the_audio_received_is_clamped_so_the_server_accepts_it(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(60):
        run = await barge_in(tmp_path, report="overshoot")
    notice = notice_after_speech(run)
    assert notice.audio_end_ms == math.floor(notice.audio_received_ms)
    (truncate,) = [e for e in run.sent if isinstance(e, rt.ConversationItemTruncate)]
    assert truncate.audio_end_ms <= notice.audio_received_ms
    assert [e for e in run.events if isinstance(e, rt.ErrorEvent)] == []  # no "already shorter"


async def test_an_item_nothing_was_heard_of_is_not_truncated(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(60):
        run = await barge_in(tmp_path, report="nothing")
    notice = notice_after_speech(run)
    assert notice.audio_end_ms is None
    assert "conversation.item.truncate" not in sent_types(run)
    assert run.conversation.item(notice.item_id).truncated_at_ms is None
    assert [e for e in run.events if isinstance(e, rt.ErrorEvent)] == []


@pytest.mark.parametrize("interrupt", [True, False])
async def test_a_reply_still_playing_after_response_done_is_truncated_without_a_cancel(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, interrupt: bool
) -> None:
    with trio.fail_after(60):
        run = await barge_in(tmp_path, interrupt=interrupt, pace=False)
    notice = notice_after_speech(run)
    assert run.reply.status == "completed"  # generated faster than it plays
    assert not notice.cancelled
    assert "response.cancel" not in sent_types(run)
    assert notice.audio_end_ms == 1000 - BUFFER_MS
    assert run.conversation.item(notice.item_id).truncated_at_ms == notice.audio_end_ms


async def test_a_cancel_that_races_response_done_is_harmless(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The reply ends on the server as the client cancels it: the server answers
    ``response_cancel_not_active``, which the session swallows (5.8)."""

    async def script(conn: ServerConnection) -> None:
        created = session_created()
        created["session"]["turn_detection"] = {"type": "server_vad", "interrupt_response": False}
        await conn.send(created)
        for event in _reply_start():
            await conn.send(event)
        await conn.send(_speech_started())
        cancel = await conn.receive()
        assert cancel["type"] == "response.cancel"
        await conn.send(_reply_done())
        await conn.send(
            error_event(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
                event_id=cancel["event_id"],
            )
        )
        async for _ in conn.events():
            pass

    events: list[Any] = []
    with trio.fail_after(10):
        async with fake_server(script) as server, client(server) as session:
            async for event in session:
                events.append(event)
                if isinstance(event, rt.ResponseAudioDelta):
                    session.playback.played("item_a", 50)
                if isinstance(event, rt.ResponseDone):
                    break
            # The error arrives after response.done; the session handles it, delivers nothing.
            await wait_until(lambda: session.statistics().errors_handled == 1)
            assert session.statistics().inbound_buffer_used == 0
    assert [type(e).__name__ for e in events][-3:] == [
        "InputAudioBufferSpeechStarted",
        "PlaybackInterrupted",
        "ResponseDone",
    ]
    assert not any(isinstance(e, rt.ErrorEvent) for e in events)


def _reply_start() -> list[dict[str, Any]]:
    item = {"id": "item_a", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}  # fmt: skip
    return [
        {"type": "response.created", "event_id": "event_1",
         "response": {"id": "resp_1", "status": "in_progress", "conversation_id": "conv_1",
                      "output": []}},
        {"type": "response.output_item.added", "event_id": "event_2", "response_id": "resp_1",
         "output_index": 0, "item": item},
        {"type": "conversation.item.created", "event_id": "event_3", "previous_item_id": None,
         "item": item},
        {"type": "response.content_part.added", "event_id": "event_4", "response_id": "resp_1",
         "item_id": "item_a", "output_index": 0, "content_index": 0,
         "part": {"type": "audio", "transcript": ""}},
        {"type": "response.audio.delta", "event_id": "event_5", "response_id": "resp_1",
         "item_id": "item_a", "output_index": 0, "content_index": 0,
         "delta": rt.encode_audio(bytes(4800))},
    ]  # fmt: skip


def _speech_started() -> dict[str, Any]:
    return {"type": "input_audio_buffer.speech_started", "event_id": "event_6",
            "audio_start_ms": 0, "item_id": "item_u"}  # fmt: skip


def _reply_done() -> dict[str, Any]:
    return {"type": "response.done", "event_id": "event_7",
            "response": {"id": "resp_1", "status": "completed", "conversation_id": "conv_1",
                         "output": []}}  # fmt: skip
