"""The client against servers that are not OpenAI's: a model beside the intent, advisory
errors before an applied update, and a key refused with HTTP 401/403 at the upgrade.

Rules these tests follow:

* The servers are scripted (:mod:`fake_server`) after what speaches (speaches-ai/speaches,
  ``routers/realtime_ws.py``, ``realtime/session_event_router.py``) does on the wire: it
  needs ``?model=`` also for ``intent=transcription``, answers a transcription connection
  with ``session.created``, and answers an update naming the audio formats with one
  ``error`` per such field (no code, no ``event_id``) followed by ``session.updated`` with the
  rest applied.
* CLI tests run ``trio-realtime`` as a subprocess against such a server in the test's trio run.
* Nothing sleeps; every wait has a deadline.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import trio
from cli_helpers import (
    Result,
    assert_one_line_error,
    environment,
    run_cli,
    speech_pcm,
    write_wav,
)
from fake_server import ServerConnection, client, fake_server, session_created

import trio_realtime as rt
from trio_realtime._wire._connection import build_config

KEY = "sk-test-SECRETKEY-0123456789"
ASR = "Systran/faster-distil-whisper-small.en"
_ids = itertools.count(1)


def _config(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "model": None,
        "intent": None,
        "url": "ws://speaches.test/v1/realtime",
        "query": None,
        "headers": None,
        "api_key": KEY,
        "auth": "header",
        "ssl_context": None,
        "receive_buffer_size": None,
        "max_message_size": 1 << 20,
        "open_stream": None,
    }
    args.update(overrides)
    return build_config(**args)


async def run_against(url: str, cwd: Path, *args: str) -> Result:
    """``trio-realtime ARGS --url URL`` in ``cwd``, with the test's key."""
    return await run_cli(*args, "--url", url, cwd=cwd, env=environment(API_KEY=KEY))


# --- 6: a model beside the intent ----------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        {"model": ASR, "intent": "transcription"},
        {"url": f"ws://speaches.test/v1/realtime?model={ASR}", "intent": "transcription"},
        {"query": {"model": ASR}, "intent": "transcription"},
        {"model": ASR, "url": "ws://speaches.test/v1/realtime?intent=transcription"},
    ],
    ids=["arguments", "model-in-url", "model-in-query", "intent-in-url"],
)
def test_a_model_beside_the_intent_goes_on_the_wire(where: dict[str, Any]) -> None:
    config = _config(**where)
    assert (config.model, config.intent) == (ASR, "transcription")
    query = config.resource.split("?", 1)[1].split("&")
    assert sorted(query) == ["intent=transcription", f"model={ASR.replace('/', '%2F')}"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"model": "m", "url": "ws://h/v1/realtime?model=n"}, "model is given more than once"),
        ({"intent": "transcription", "query": {"intent": "x"}}, "intent is given more than once"),
        ({"url": "ws://h/?model=a&model=b"}, "model is given more than once"),
        ({}, "give model= .* or intent="),
        ({"url": "ws://h/?model="}, "model must be a non-empty string"),
    ],
)
def test_model_and_intent_come_from_one_place_each(where: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**where)


def test_tools_are_refused_for_an_intent_given_in_the_url() -> None:
    def get_time() -> str:
        """The time."""
        return "noon"

    with pytest.raises(ValueError, match="no responses"):
        rt.connect(
            url="ws://192.0.2.1:9/v1/realtime?intent=transcription",
            model=ASR,
            api_key=KEY,
            tools=[get_time],
        )


async def _speaches_transcription(conn: ServerConnection) -> None:
    """A transcription connection as speaches serves it: the model is required."""
    if "model" not in conn.handshake.query:
        await conn.close(1008, "model is required")
        return
    await conn.send(session_created())  # speaches answers with session.created
    session: dict[str, Any] = {"id": "sess_1"}
    async for event in conn.events():
        await _answer_like_speaches(conn, event, session, transcript="hello from speaches")


async def test_a_transcription_session_opens_on_a_server_that_needs_a_model() -> None:
    with trio.fail_after(10):
        async with (
            fake_server(_speaches_transcription) as server,
            client(server, intent="transcription", model=ASR) as session,
        ):
            assert session.conversation.session is not None
        (handshake,) = server.handshakes
        assert handshake.query == {"model": ASR, "intent": "transcription"}


async def test_transcribe_works_against_a_server_that_needs_a_model(tmp_path: Path) -> None:
    write_wav(tmp_path / "one.wav", speech_pcm((800,)))
    async with fake_server(_speaches_transcription) as server:
        result = await run_against(
            f"{server.base_url()}?model={ASR}",
            tmp_path,
            "transcribe",
            "one.wav",
            "--manual",
            "--fast",
        )
    assert result.status == 0, result
    assert result.lines[-1].endswith("hello from speaches")
    assert server.handshakes[0].query == {"model": ASR, "intent": "transcription"}
    # speaches' two advisory errors were shown, and did not fail the command.
    assert "Specifying `session.input_audio_format` is not supported" in result.stderr
    assert "only advised" in result.stderr


# --- 7: advisory errors before session.updated ---------------------------------------------------


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": f"event_{next(_ids):021d}", **fields}


def _advice(field: str) -> dict[str, Any]:
    message = (
        f"Specifying `{field}` is not supported. The server either does not support this "
        "field or it is not configurable."
    )
    return _event("error", error={"type": "invalid_request_error", "message": message})


async def _answer_like_speaches(
    conn: ServerConnection, event: dict[str, Any], session: dict[str, Any], *, transcript: str
) -> None:
    kind = event["type"]
    if kind in ("session.update", "transcription_session.update"):
        update = dict(event["session"])
        for field in ("input_audio_format", "output_audio_format"):
            if update.pop(field, None) is not None:
                await conn.send(_advice(f"session.{field}"))
        session.update(update)  # the whole effective session comes back, as speaches does
        await conn.send(_event(kind.replace("update", "updated"), session=dict(session)))
    elif kind == "input_audio_buffer.clear":
        await conn.send(_event("input_audio_buffer.cleared"))
    elif kind == "input_audio_buffer.commit":
        user = {"id": "item_u1", "object": "realtime.item", "type": "message", "role": "user"}
        user["status"] = "completed"
        user["content"] = [{"type": "input_audio", "transcript": None}]
        await conn.send(_event("input_audio_buffer.committed", item_id="item_u1"))
        await conn.send(_event("conversation.item.created", previous_item_id=None, item=user))
        await conn.send(
            _event(
                "conversation.item.input_audio_transcription.completed",
                item_id="item_u1",
                content_index=0,
                transcript=transcript,
            )
        )
    elif kind == "response.create":
        for reply in _spoken_reply("You said hello."):
            await conn.send(reply)


def _spoken_reply(text: str) -> list[dict[str, Any]]:
    ids = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0}
    item = {"id": "item_a1", "object": "realtime.item", "type": "message", "role": "assistant"}
    part = {"type": "audio", "transcript": text}
    audio = rt.encode_audio(bytes(4800))
    done_item = {**item, "status": "completed", "content": [part]}
    response = {"id": "resp_1", "object": "realtime.response", "output": []}
    return [
        _event("response.created", response={**response, "status": "in_progress"}),
        _event("response.output_item.added", response_id="resp_1", output_index=0, item=item),
        _event("conversation.item.created", previous_item_id="item_u1", item=item),
        _event("response.content_part.added", **ids, content_index=0, part=part),
        _event("response.audio_transcript.delta", **ids, content_index=0, delta=text),
        _event("response.audio.delta", **ids, content_index=0, delta=audio),
        _event("response.audio.done", **ids, content_index=0),
        _event("response.audio_transcript.done", **ids, content_index=0, transcript=text),
        _event("response.content_part.done", **ids, content_index=0, part=part),
        _event("response.output_item.done", response_id="resp_1", output_index=0, item=done_item),
        _event(
            "response.done",
            response={**response, "status": "completed", "output": [done_item]},
        ),
    ]


async def _speaches_conversation(conn: ServerConnection) -> None:
    await conn.send(session_created())
    session: dict[str, Any] = {"id": "sess_1"}
    async for event in conn.events():
        await _answer_like_speaches(conn, event, session, transcript="hello")


async def test_talk_goes_on_when_errors_only_advise_about_the_update(tmp_path: Path) -> None:
    write_wav(tmp_path / "q.wav", speech_pcm((800,)))
    async with fake_server(_speaches_conversation) as server:
        result = await run_against(
            server.base_url(), tmp_path, "talk", "q.wav", "--manual", "--fast"
        )
    assert result.status == 0, result
    assert "you:       hello" in result.lines
    assert "assistant: You said hello." in result.lines
    assert result.stderr.count("is not supported") == 2
    assert "refused" not in result.stderr
    assert (tmp_path / "q-reply.wav").exists()


async def test_talk_still_fails_when_the_update_is_refused(tmp_path: Path) -> None:
    async def refusing(conn: ServerConnection) -> None:
        await conn.send(session_created())
        async for event in conn.events():
            if event["type"] == "session.update":  # the live service: one error, no update
                error = {
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                    "message": "Invalid value: 'robot'. Supported values are: 'alloy'.",
                    "param": "session.voice",
                    "event_id": event.get("event_id"),
                }
                await conn.send(_event("error", error=error))
            elif event["type"] == "input_audio_buffer.clear":
                await conn.send(_event("input_audio_buffer.cleared"))

    write_wav(tmp_path / "q.wav", speech_pcm((800,)))
    async with fake_server(refusing) as server:
        result = await run_against(
            server.base_url(), tmp_path, "talk", "q.wav", "--voice", "robot", "--fast"
        )
    assert_one_line_error(result, 1, "refused the configuration", "Invalid value: 'robot'")


# --- 8: 401/403 at the upgrade -------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_a_key_refused_at_the_upgrade_is_an_authentication_error(status: int) -> None:
    body = b'{"error": {"message": "Incorrect API key provided: ' + KEY.encode() + b'"}}'
    with trio.fail_after(10):
        async with fake_server(reject=(status, body)) as server:
            with pytest.raises(rt.AuthenticationError) as info:
                async with client(server, api_key=KEY):
                    pass  # pragma: no cover
    error = info.value
    assert isinstance(error, rt.ConnectionRejected)  # and still one, with the details
    assert (error.status_code, error.body) == (status, body)
    assert error.code == 1006  # no WebSocket ever opened
    assert f"HTTP {status}" in str(error)
    assert KEY not in str(error)
    assert KEY not in repr(error)


async def test_other_refused_upgrades_stay_connection_rejected() -> None:
    with trio.fail_after(10):
        async with fake_server(reject=(404, b"not here")) as server:
            with pytest.raises(rt.ConnectionRejected) as info:
                async with client(server):
                    pass  # pragma: no cover
    assert not isinstance(info.value, rt.AuthenticationError)
    assert info.value.status_code == 404


async def test_the_cli_reports_a_key_refused_at_the_upgrade_as_a_rejected_key(
    tmp_path: Path,
) -> None:
    write_wav(tmp_path / "one.wav", speech_pcm((500,)))
    async with fake_server(reject=(401, b"unauthorized")) as server:
        result = await run_against(server.base_url(), tmp_path, "transcribe", "one.wav")
    assert_one_line_error(result, 4, "rejected the API key")
