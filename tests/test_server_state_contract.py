"""Contract-wide properties of the state machine's output (checklist 54-57).

Rules these tests follow:

* One scripted session makes the server emit every server event type it can send on a
  WebSocket; :class:`server_helpers.Harness` validates each event as it goes.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

from protocol_data import catalog_server_events
from server_helpers import (
    GA_NAMES,
    ID_RE,
    TURN,
    FakeEngine,
    Harness,
    audio_reply,
    call_reply,
    types,
)

from trio_realtime._core._audio import silence, tone
from trio_realtime.events import SERVER_EVENTS, TranscriptionError
from trio_realtime.server._engine_api import PlannedText


def full_session() -> list[dict[str, Any]]:
    """Two sessions that make the server send every event type it sends on a WebSocket."""
    return functools.reduce(operator.iadd, full_session_logs(), [])


def full_session_logs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The logs of a conversation session and a transcription session, as above."""
    engine = FakeEngine(outputs=(audio_reply(ms=2000),), pacing={"audio_realtime_factor": 1.0})
    h = Harness(engine=engine, send_conversation_created=True, session_seconds=120)
    h.update(input_audio_transcription={"model": "gpt-4o-transcribe"})
    h.append(TURN)  # VAD turn, transcription, paced audio response
    h.advance(h.now + 0.5)
    h.append(silence(200) + tone(300))  # barge-in
    h.send({"type": "input_audio_buffer.clear"})
    item = h.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        }
    )
    item_id = item[0]["item"]["id"]
    h.send({"type": "conversation.item.retrieve", "item_id": item_id})
    h.send({"type": "conversation.item.delete", "item_id": item_id})
    assistant = [e for e in h.log if e["type"] == "response.output_item.done"][-1]["item"]["id"]
    h.send(
        {
            "type": "conversation.item.truncate",
            "item_id": assistant,
            "content_index": 0,
            "audio_end_ms": 100,
        }
    )
    h.update(turn_detection=None)
    engine.pacing = {}
    engine.outputs = (PlannedText(text="Calling."), call_reply())
    h.send({"type": "response.create", "response": {"modalities": ["text"]}})
    engine.failure = TranscriptionError(code="audio_unintelligible", message="no")
    h.append(tone(200))
    h.send({"type": "input_audio_buffer.commit"})
    h.send("junk")
    h.advance(h.now + 200)  # session_expired
    t = Harness(None, intent="transcription")
    t.send(
        {
            "type": "transcription_session.update",
            "session": {"input_audio_transcription": {"model": "whisper-1"}},
        }
    )
    return h.log, t.log


def test_the_server_emits_every_websocket_event_type() -> None:  # checklist 57
    emitted = set(types(full_session()))
    never = {name for name in SERVER_EVENTS if name.startswith("output_audio_buffer.")}
    assert emitted == set(SERVER_EVENTS) - never
    assert set(catalog_server_events()) - never <= emitted


def test_no_event_has_a_ga_name() -> None:  # checklist 56
    for name in types(full_session()):
        assert not GA_NAMES.match(name), name
        assert not name.startswith("response.output_text")


def test_server_event_ids_are_unique_and_well_formed() -> None:  # checklist 54
    for log in full_session_logs():
        ids = [e["event_id"] for e in log]
        assert len(set(ids)) == len(ids)
        assert all(ID_RE.match(i) and i.startswith("event_") for i in ids)


def test_only_fatal_errors_close_the_session() -> None:  # checklist 55
    log = full_session()
    errors = [e["error"] for e in log if e["type"] == "error"]
    assert all(e["type"] and e["message"] for e in errors)
    assert [e["code"] for e in errors][-1] == "session_expired"
    h = Harness()
    for bad in ("{", '{"type": "x"}', '{"type": "input_audio_buffer.commit"}'):
        h.send(bad)
        assert h.state.close is None
    assert Harness(None).state.close is not None  # missing_model
    assert Harness("m", intent="transcription").state.close is not None  # invalid_model
