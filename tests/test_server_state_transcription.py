"""The reference server's state machine: input audio transcription (5.10, 5.13).

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

from typing import Any

from server_helpers import TURN, FakeEngine, Harness, audio_reply, error_of, only, types

from trio_realtime._core._audio import tone
from trio_realtime.events import TranscriptionError

TRANSCRIPT_EVENTS = (
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
)


def conversation(model: str = "gpt-4o-transcribe", **engine: Any) -> Harness:
    h = Harness(engine=FakeEngine(**engine))
    h.update(
        turn_detection={"type": "server_vad", "create_response": False},
        input_audio_transcription={"model": model},
    )
    return h


def transcription_session(
    model: str = "gpt-4o-transcribe", include: list[str] | None = None, **engine: Any
) -> Harness:
    h = Harness(None, intent="transcription", engine=FakeEngine(**engine))
    session: dict[str, Any] = {
        "input_audio_transcription": {"model": model, "language": "en", "prompt": "weather"}
    }
    if include is not None:
        session["include"] = include
    h.send({"type": "transcription_session.update", "session": session})
    return h


def transcripts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e for e in events if e["type"].startswith("conversation.item.input_audio_transcription.")
    ]


def test_every_committed_item_gets_completed_with_its_id() -> None:  # checklist 48
    h = conversation()
    events = h.append(TURN)
    item_id = only(events, "input_audio_buffer.committed")["item_id"]
    found = transcripts(events)
    assert {e["type"] for e in found} == set(TRANSCRIPT_EVENTS)
    for event in found:
        assert (event["item_id"], event["content_index"]) == (item_id, 0)
    completed = found[-1]
    assert completed["type"].endswith(".completed")
    assert (
        "".join(e["delta"] for e in found[:-1]) == completed["transcript"] == "what is the weather"
    )


def test_manual_commits_are_transcribed_too() -> None:  # checklist 48
    h = conversation()
    h.update(turn_detection=None)
    h.append(tone(300))
    events = h.send({"type": "input_audio_buffer.commit"})
    assert types(events)[-1] == "conversation.item.input_audio_transcription.completed"


def test_a_failed_transcription_is_its_own_event() -> None:  # checklist 48
    failure = TranscriptionError(
        code="audio_unintelligible", message="The audio could not be transcribed."
    )
    h = conversation(failure=failure)
    events = h.append(TURN)
    failed = only(events, "conversation.item.input_audio_transcription.failed")
    assert failed["content_index"] == 0
    assert failed["error"] == {
        "type": "transcription_error",
        "code": "audio_unintelligible",
        "message": "The audio could not be transcribed.",
        "param": None,
    }
    assert "conversation.item.input_audio_transcription.completed" not in types(events)


def test_whisper_sends_at_most_one_delta() -> None:  # checklist 48
    h = conversation("whisper-1")
    found = transcripts(h.append(TURN))
    assert types(found) == list(TRANSCRIPT_EVENTS)
    assert found[0]["delta"] == "what is the weather"


def test_deltas_that_do_not_add_up_are_replaced_by_the_transcript() -> None:  # checklist 48
    h = conversation(deltas=("what", " was"))
    found = transcripts(h.append(TURN))
    assert [e.get("delta") for e in found[:-1]] == ["what is the weather"]


def test_logprobs_only_with_include() -> None:  # checklist 49
    h = transcription_session(include=["item.input_audio_transcription.logprobs"])
    found = transcripts(h.append(TURN))
    for event in found:
        assert event["logprobs"], event
        for entry in event["logprobs"]:
            assert bytes(entry["bytes"]).decode() == entry["token"]
            assert -0.1 < entry["logprob"] <= 0
    assert "".join(e["token"] for e in found[-1]["logprobs"]) == found[-1]["transcript"]
    plain = transcription_session()
    assert all("logprobs" not in e for e in transcripts(plain.append(TURN)))


def test_gpt_4o_usage_is_tokens() -> None:  # checklist 50
    usage = transcripts(conversation().append(TURN))[-1]["usage"]
    assert usage == {
        "type": "tokens",
        "input_tokens": 30,  # 1500 ms of audio at 20 tokens a second
        "output_tokens": 5,  # 19 characters
        "total_tokens": 35,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 30},
    }


def test_whisper_usage_is_duration() -> None:  # checklist 50
    usage = transcripts(conversation("whisper-1").append(TURN))[-1]["usage"]
    assert usage == {"type": "duration", "seconds": 1.5}


def test_the_prompt_counts_as_input_text() -> None:  # checklist 50
    usage = transcripts(transcription_session().append(TURN))[-1]["usage"]
    assert usage["input_token_details"] == {"text_tokens": 2, "audio_tokens": 30}


def test_a_slow_transcript_arrives_after_response_done() -> None:  # checklist 51
    engine = FakeEngine(outputs=(audio_reply(),), transcription_delay=2.0)
    h = Harness(engine=engine)
    h.update(input_audio_transcription={"model": "gpt-4o-transcribe"})
    events = h.append(TURN)
    assert "response.done" in types(events)
    assert not transcripts(events)
    later = h.advance(h.now + 2.0)
    assert types(later)[-1] == "conversation.item.input_audio_transcription.completed"


def test_the_user_item_shows_its_transcript_once_completed() -> None:
    h = conversation(transcription_delay=1.0)
    item_id = only(h.append(TURN), "input_audio_buffer.committed")["item_id"]
    retrieve = {"type": "conversation.item.retrieve", "item_id": item_id}
    assert h.send(retrieve)[0]["item"]["content"][0]["transcript"] is None
    h.advance(h.now + 1.0)
    assert h.send(retrieve)[0]["item"]["content"][0]["transcript"] == "what is the weather"


def test_transcription_off_means_no_transcripts() -> None:  # checklist 13
    h = conversation()
    h.update(input_audio_transcription=None)
    assert not transcripts(h.append(TURN))


def test_the_engine_gets_the_configured_request() -> None:
    h = transcription_session()
    h.append(TURN)
    (request,) = h.engine.transcriptions
    assert (request.model, request.language, request.prompt) == (
        "gpt-4o-transcribe",
        "en",
        "weather",
    )
    assert request.input_audio_format == "pcm16"
    assert len(request.audio) == 1500 * 48


def test_a_failing_engine_fails_the_transcript_not_the_session() -> None:
    class Broken(FakeEngine):
        def transcribe(self, request: Any) -> Any:
            raise ValueError("no ears")

    h = Harness(engine=Broken())
    h.update(
        turn_detection={"type": "server_vad", "create_response": False},
        input_audio_transcription={"model": "whisper-1"},
    )
    failed = only(h.append(TURN), "conversation.item.input_audio_transcription.failed")
    assert failed["error"]["code"] == "engine_error"


def test_transcription_sessions_never_respond() -> None:  # checklist 52
    h = transcription_session()
    events = h.append(TURN)
    assert types(events)[:4] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.created",
    ]
    assert not [e for e in h.log if e["type"].startswith("response.")]
    error = error_of(h.send({"type": "response.create", "event_id": "r"}))
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "r")
    assert error_of(h.send({"type": "response.cancel"}))["param"] == "type"
    assert h.engine.requests == []
