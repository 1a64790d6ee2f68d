"""Whole sessions: the real client against the local reference server over loopback.

Both URL forms (``?model=`` and ``?intent=transcription``), both auth modes (headers and
browser-style subprotocols) and both dialects (beta and GA), as an application would use them:
the same code, whichever the dialect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import trio_realtime as rt
from trio_realtime._core._dialects import DialectName
from trio_realtime._wire._connection import Auth
from trio_realtime.audio import silence, speech_like
from trio_realtime.testing import open_local_server

DIALECTS = pytest.mark.parametrize("dialect", ["beta", "ga"])


@DIALECTS
@pytest.mark.parametrize("auth", ["header", "subprotocol"])
async def test_a_speech_to_speech_session_runs_a_text_turn(
    auth: Auth, dialect: DialectName
) -> None:
    async with open_local_server(api_keys=["sk-right"]) as server:
        with trio.fail_after(10):
            async with rt.connect(
                model="gpt-4o-realtime-preview",
                url=server.url,
                api_key="sk-right",
                auth=auth,
                dialect=dialect,
            ) as session:
                created = await session.receive()
                assert isinstance(created, rt.SessionCreated)
                await session.update_session(rt.Session(modalities=["text"], turn_detection=None))
                updated = await session.wait_for(rt.SessionUpdated, timeout=5)
                assert updated.session.turn_detection is None
                await session.create_item(rt.ConversationItem.user_text("good morning"))
                await session.create_response()
                text = []
                async for event in session:
                    if isinstance(event, rt.ResponseTextDelta):
                        text.append(event.delta)
                    elif isinstance(event, rt.ResponseDone):
                        assert event.response.status == "completed"
                        break
                assert "".join(text) == "You said: good morning"
        (connection,) = server.connections
        assert connection.handshake is not None
        assert connection.handshake.beta == (dialect == "beta")
        assert connection.dialect == dialect


@DIALECTS
@pytest.mark.parametrize("auth", ["header", "subprotocol"])
async def test_a_transcription_session_gets_transcripts(auth: Auth, dialect: DialectName) -> None:
    async with open_local_server() as server:
        with trio.fail_after(10):
            async with rt.connect(
                intent="transcription",
                url=server.url,
                api_key="sk-any",
                auth=auth,
                dialect=dialect,
            ) as session:
                created = await session.receive()
                assert isinstance(created, rt.TranscriptionSessionCreated)
                await session.update_transcription_session(
                    rt.TranscriptionSession(
                        input_audio_transcription=rt.InputAudioTranscription(
                            model="gpt-4o-transcribe"
                        )
                    )
                )
                await session.wait_for(rt.TranscriptionSessionUpdated, timeout=5)
                stream = await session.stream_audio(
                    silence(300) + speech_like(1200) + silence(800), realtime=False
                )
                await stream.wait()
                completed = await session.wait_for(rt.InputAudioTranscriptionCompleted, timeout=5)
                assert completed.transcript
                assert completed.content_index == 0
        assert session.statistics().audio_ms_sent == pytest.approx(2300, abs=1)


async def test_a_wrong_key_raises_authentication_error_without_the_key_in_it() -> None:
    async with open_local_server(api_keys=["sk-right"]) as server:
        with trio.fail_after(10), pytest.raises(rt.AuthenticationError) as info:
            async with rt.connect(
                model="gpt-realtime", url=server.url, api_key="sk-wrong-secret-value"
            ) as session:
                await session.receive()
        assert "sk-wrong-secret-value" not in str(info.value)
        assert "sk-wrong-secret-value" not in repr(info.value)


@DIALECTS
async def test_the_session_keeps_the_conversation_and_records_both_directions(
    tmp_path: Path, dialect: DialectName
) -> None:
    path = tmp_path / "session.jsonl"
    async with open_local_server() as server:
        with trio.fail_after(10):
            async with rt.connect(
                model="gpt-realtime",
                url=server.url,
                api_key="sk-secret-key-1234",
                record=path,
                dialect=dialect,
            ) as session:
                await session.update_session(rt.Session(modalities=["text"], turn_detection=None))
                await session.wait_for(rt.SessionUpdated, timeout=5)
                await session.create_item(rt.ConversationItem.user_text("hello"))
                await session.create_response()
                await session.wait_for(rt.ResponseDone, timeout=5)
                items = session.conversation.items
                assert [item.role for item in items] == ["user", "assistant"]
                assert items[1].text == "You said: hello"
                assert session.conversation.usage_totals.total_tokens > 0
    text = path.read_text()
    assert "sk-secret-key-1234" not in text
    recording = rt.read_recording(path)
    assert recording.header["url"].startswith("ws://127.0.0.1")
    assert recording.header["dialect"] == dialect
    assert not [e for e in recording.events if isinstance(e.event, rt.UnknownEvent)]
    assert recording.decode_failures == 0
    directions = {event.direction for event in recording.events}
    assert directions == {"client", "server"}
    times = [event.t for event in recording.events]
    assert times == sorted(times)
    replayed = rt.Conversation()
    for event in recording.events:
        if event.direction == "server":
            replayed.apply(event.event)  # type: ignore[arg-type]
    assert [(item.role, item.text) for item in replayed.items][1] == (
        "assistant",
        "You said: hello",
    )


async def test_conversation_tracking_can_be_turned_off() -> None:
    async with (
        open_local_server() as server,
        rt.connect(
            model="gpt-realtime", url=server.url, api_key="k", track_conversation=False
        ) as session,
    ):
        with pytest.raises(RuntimeError, match="track_conversation=False"):
            _ = session.conversation
