"""Replaying sessions: turn latencies from timed events, conversations from recordings, re-sending.

The timer is a sans-I/O object, so its tests feed it events with made-up times and check the
latencies to the microsecond; re-sending runs on trio's ``autojump_clock``; the round trips
record a real session against the local server.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import pytest
import trio
import trio.testing

from trio_realtime import (
    ClientEvent,
    ContentPart,
    ConversationItem,
    ConversationItemCreate,
    ErrorDetails,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscription,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    RecordedEvent,
    Recording,
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseTextDelta,
    Session,
    SessionCreated,
    SessionUpdated,
    UnknownEvent,
    connect,
    read_recording,
)
from trio_realtime._core._events import Response
from trio_realtime._session._replay import (
    TurnTimer,
    conversation_from_recording,
    recorded_target,
    resend_recording,
    turn_latencies,
)
from trio_realtime.audio import silence, speech_like
from trio_realtime.testing import open_local_server

CHUNK = 4800  # 100 ms of 24 kHz PCM16
_ids = iter(range(1, 10**6))


def eid() -> str:
    return f"event_{next(_ids):021d}"


def created(response_id: str) -> ResponseCreated:
    return ResponseCreated(event_id=eid(), response=Response(id=response_id, status="in_progress"))


def done(response_id: str, status: str = "completed") -> ResponseDone:
    return ResponseDone(event_id=eid(), response=Response(id=response_id, status=status))


def audio_delta(response_id: str) -> ResponseAudioDelta:
    return ResponseAudioDelta(
        event_id=eid(),
        response_id=response_id,
        item_id="item_a",
        output_index=0,
        content_index=0,
        delta="AAAA",
    )


def transcript_delta(response_id: str) -> ResponseAudioTranscriptDelta:
    return ResponseAudioTranscriptDelta(
        event_id=eid(),
        response_id=response_id,
        item_id="item_a",
        output_index=0,
        content_index=0,
        delta="You",
    )


def input_done(item_id: str) -> InputAudioTranscriptionCompleted:
    return InputAudioTranscriptionCompleted(
        event_id=eid(), item_id=item_id, content_index=0, transcript="hi", usage={}
    )


def stream(timer: TurnTimer, chunks: int, start: float = 0.0) -> None:
    """``chunks`` appends of 100 ms, the k-th sent at ``start + k / 10``."""
    for k in range(chunks):
        timer.audio_sent(start + k / 10, CHUNK)


def test_a_vad_turn_is_timed_from_when_its_end_of_speech_was_sent() -> None:
    timer = TurnTimer()
    timer.received(0.0, SessionCreated(event_id=eid(), session=Session(input_audio_format="pcm16")))
    stream(timer, 10)
    # audio_end_ms 550 is inside the 6th append (500-600 ms), sent at t = 0.5.
    timer.received(
        1.2, InputAudioBufferSpeechStopped(event_id=eid(), audio_end_ms=550, item_id="item_u")
    )
    timer.received(1.21, InputAudioBufferCommitted(event_id=eid(), item_id="item_u"))
    timer.received(1.3, created("resp_1"))
    timer.received(1.55, transcript_delta("resp_1"))
    timer.received(1.6, audio_delta("resp_1"))
    timer.received(1.65, audio_delta("resp_1"))
    timer.received(1.7, InputAudioTranscriptionDelta(event_id=eid(), item_id="item_u", delta="hi"))
    timer.received(1.8, input_done("item_u"))
    timer.received(2.0, done("resp_1"))
    (turn,) = timer.turns
    assert (turn.item_id, turn.response_id, turn.trigger) == ("item_u", "resp_1", "server_vad")
    assert (turn.end_of_speech, turn.audio_end_ms) == (0.5, 550)
    assert turn.first_text == pytest.approx(1.05)
    assert turn.first_audio == pytest.approx(1.1)
    assert turn.first_input_transcript == pytest.approx(1.2)
    assert turn.input_transcript_done == pytest.approx(1.3)
    assert turn.response_done == pytest.approx(1.5)
    assert turn.response_status == "completed"
    assert timer.turn_of("resp_1") == turn
    assert timer.audio_sent_ms == 1000


def test_a_manual_commit_is_timed_from_the_commit_and_the_response_follows_it() -> None:
    timer = TurnTimer()
    for k in range(5):
        timer.sent(k / 10, InputAudioBufferAppend.from_pcm(bytes(CHUNK)))
    timer.sent(2.0, InputAudioBufferCommit(event_id="c1"))
    timer.sent(2.05, ResponseCreate(event_id="r1"))
    timer.received(2.1, InputAudioBufferCommitted(event_id=eid(), item_id="item_m"))
    timer.received(2.2, created("resp_m"))
    timer.received(
        2.5,
        ResponseTextDelta(
            event_id=eid(),
            response_id="resp_m",
            item_id="i",
            output_index=0,
            content_index=0,
            delta="x",
        ),
    )
    timer.received(3.0, done("resp_m", "cancelled"))
    (turn,) = timer.turns
    assert (turn.trigger, turn.end_of_speech, turn.audio_end_ms) == ("commit", 2.0, 500)
    assert turn.response_id == "resp_m"
    assert turn.first_text == pytest.approx(0.5)
    assert turn.first_audio is None
    assert turn.response_done == pytest.approx(1.0)
    assert turn.response_status == "cancelled"


def test_a_response_without_a_new_turn_is_timed_from_its_request() -> None:
    timer = TurnTimer()
    timer.sent(
        1.0,
        ConversationItemCreate(
            item=ConversationItem(
                type="message", role="user", content=[ContentPart(type="input_text", text="hi")]
            )
        ),
    )
    timer.sent(1.5, ResponseCreate())
    timer.received(1.7, created("resp_t"))
    timer.received(2.0, done("resp_t"))
    (turn,) = timer.turns
    assert (turn.item_id, turn.trigger, turn.end_of_speech, turn.audio_end_ms) == (
        None,
        "response.create",
        1.5,
        None,
    )
    assert turn.response_done == pytest.approx(0.5)


def test_a_refused_commit_is_forgotten() -> None:
    timer = TurnTimer()
    timer.sent(1.0, InputAudioBufferCommit(event_id="c_empty"))
    timer.received(
        1.1,
        ErrorEvent(
            event_id=eid(),
            error=ErrorDetails(
                type="invalid_request_error", message="buffer too small", event_id="c_empty"
            ),
        ),
    )
    stream(timer, 3, start=2.0)
    timer.sent(3.0, InputAudioBufferCommit(event_id="c_real"))
    timer.received(3.1, InputAudioBufferCommitted(event_id=eid(), item_id="item_x"))
    (turn,) = timer.turns
    assert turn.end_of_speech == 3.0


def test_a_transcript_that_arrives_before_its_commit_still_counts() -> None:
    timer = TurnTimer()
    stream(timer, 3)
    timer.received(0.9, input_done("item_early"))
    timer.received(
        1.0, InputAudioBufferSpeechStopped(event_id=eid(), audio_end_ms=300, item_id="item_early")
    )
    (turn,) = timer.turns
    assert turn.end_of_speech == 0.2
    assert turn.input_transcript_done == pytest.approx(0.7)


def test_audio_is_counted_in_the_session_input_format() -> None:
    timer = TurnTimer()
    timer.received(
        0.0, SessionUpdated(event_id=eid(), session=Session(input_audio_format="g711_ulaw"))
    )
    timer.audio_sent(0.0, 800)  # 100 ms of G.711
    timer.audio_sent(0.1, 800)
    assert timer.audio_sent_ms == 200
    timer.received(
        0.5, InputAudioBufferSpeechStopped(event_id=eid(), audio_end_ms=150, item_id="item_g")
    )
    assert timer.turns[0].end_of_speech == 0.1


def test_an_end_of_speech_beyond_the_audio_seen_falls_back_to_arrival() -> None:
    timer = TurnTimer()
    timer.received(
        4.0, InputAudioBufferSpeechStopped(event_id=eid(), audio_end_ms=900, item_id="item_z")
    )
    assert timer.turns[0].end_of_speech == 4.0


def recording_of(*events: tuple[float, Literal["client", "server"], Any]) -> Recording:
    return Recording(
        header={"recording": "trio-realtime", "version": 1, "url": "ws://h/v1/realtime?model=m"},
        events=tuple(RecordedEvent(t=t, direction=d, event=e, raw={}) for t, d, e in events),
    )


def test_a_client_event_recorded_as_received_is_refused() -> None:
    bad = recording_of((0.0, "server", InputAudioBufferCommit()))
    with pytest.raises(
        ValueError,
        match=r"recorded event 1: a 'input_audio_buffer\.commit' event recorded as server-sent",
    ):
        conversation_from_recording(bad)
    with pytest.raises(ValueError, match="recorded as server-sent"):
        turn_latencies(bad)


def test_the_target_comes_from_the_recorded_url() -> None:
    assert recorded_target(recording_of()) == ("m", None)
    transcription = Recording(header={"url": "wss://x/v1/realtime?intent=transcription"}, events=())
    assert recorded_target(transcription) == (None, "transcription")
    assert recorded_target(Recording(header={}, events=())) == (None, None)


class Sent:
    def __init__(self) -> None:
        self.times: list[tuple[float, str]] = []

    async def send(self, event: Any) -> Any:
        self.times.append((trio.current_time(), event.type))
        return event


@pytest.mark.parametrize(
    ("speed", "expected"),
    [(1.0, [0.0, 0.5, 2.0]), (2.0, [0.0, 0.25, 1.0]), (math.inf, [0.0, 0.0, 0.0])],
)
async def test_resending_keeps_the_recorded_timing(
    autojump_clock: trio.testing.MockClock, speed: float, expected: list[float]
) -> None:
    recording = recording_of(
        (10.0, "client", InputAudioBufferCommit(event_id="a")),
        (10.2, "server", InputAudioBufferCommitted(event_id=eid(), item_id="i")),
        (10.5, "client", UnknownEvent(raw={"type": "x.custom", "event_id": "b"})),
        (12.0, "client", ResponseCreate(event_id="c")),
    )
    sender = Sent()
    seen: list[tuple[float, ClientEvent | UnknownEvent]] = []
    start = trio.current_time()
    count = await resend_recording(
        recording, sender, speed=speed, on_sent=lambda t, e: seen.append((t, e))
    )
    assert count == 3
    assert [round(t - start, 6) for t, _ in sender.times] == expected
    assert [kind for _, kind in sender.times] == [
        "input_audio_buffer.commit",
        "x.custom",
        "response.create",
    ]
    assert [e.event_id for _, e in seen] == ["a", "b", "c"]


@pytest.mark.parametrize("speed", [0.0, -1.0, math.nan])
async def test_resending_refuses_a_speed_that_is_not_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="speed must be > 0"):
        await resend_recording(recording_of(), Sent(), speed=speed)


async def answered_turns(session: Any, turns: int) -> None:
    """Read events until ``turns`` responses are done and every user turn is transcribed."""
    done = 0
    async for event in session:
        done += isinstance(event, ResponseDone)
        users = [i for i in session.conversation.items if i.role == "user"]
        if done == turns and all(i.input_transcript for i in users):
            return


async def test_a_recorded_session_rebuilds_offline_and_replays_on_the_wire(tmp_path: Path) -> None:
    turns = [speech_like(1200, seed=3) + silence(600), speech_like(800, seed=4) + silence(600)]
    with trio.fail_after(20):
        async with open_local_server() as server:
            async with connect(
                model="gpt-4o-realtime-preview",
                url=server.url,
                api_key="k",
                record=tmp_path / "r.jsonl",
            ) as session:
                await session.update_session(
                    Session(input_audio_transcription=InputAudioTranscription(model="whisper-1"))
                )
                for audio in turns:
                    await session.append_audio(audio)  # the next turn once this one is answered
                    await answered_turns(session, 1)
            live = session.conversation
            recording = read_recording(tmp_path / "r.jsonl")
            rebuilt = conversation_from_recording(recording)
            assert len(live.items) == 4
            assert [i.id for i in rebuilt.items] == [i.id for i in live.items]
            assert [(i.role, i.input_transcript, i.transcript) for i in rebuilt.items] == [
                (i.role, i.input_transcript, i.transcript) for i in live.items
            ]
            assert rebuilt.usage_totals == live.usage_totals
            assert [i.audio for i in rebuilt.items] == [i.audio for i in live.items]
            latencies = turn_latencies(recording)
            assert [t.trigger for t in latencies] == ["server_vad", "server_vad"]
            assert [t.response_id for t in latencies] == [r.id for r in live.responses]
            for turn in latencies:
                assert turn.first_audio is not None
                assert turn.response_done is not None
                assert 0 <= turn.first_audio <= turn.response_done

            # Re-sent with the recorded timing, the server hears the same two turns.
            async with connect(
                model="gpt-4o-realtime-preview", url=server.url, api_key="k"
            ) as again:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(answered_turns, again, 2)
                    sent = await resend_recording(recording, again)
                assert sent == sum(1 for e in recording.events if e.direction == "client")
            texts = [(i.role, i.input_transcript, i.transcript) for i in again.conversation.items]
            assert texts == [(i.role, i.input_transcript, i.transcript) for i in live.items]
