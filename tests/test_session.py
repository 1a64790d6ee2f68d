"""RealtimeSession: sending, receiving, waiting, errors, statistics, backpressure and endings.

Wire tests run whole sessions against ``fake_server`` on loopback port 0; tests that wait
for a timeout use in-memory streams and ``autojump_clock``. No test asserts on speed.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing
from fake_server import (
    FakeServer,
    ServerConnection,
    audio_delta,
    client,
    drain,
    error_event,
    fake_server,
    session_created,
)

import trio_realtime as rt
from trio_realtime._session._response_handles import ResponseHandle
from trio_realtime._session._types import DecodeFailure
from trio_realtime._wire._errors import ConnectionClosed


async def recorder(conn: ServerConnection) -> None:
    """Say ``session.created``, then record what the client sends without answering."""
    await conn.send(session_created())
    async for _ in conn.events():
        pass


# --- Sending -----------------------------------------------------------------------------------

ITEM = rt.ConversationItem(
    type="message", role="user", content=[rt.ContentPart(type="input_text", text="hi")]
)
PCM = bytes(range(256)) * 15  # 3840 bytes: 80 ms of pcm16

METHODS: list[tuple[str, tuple[Any, ...], dict[str, Any], rt.ClientEvent]] = [
    (
        "update_session",
        (rt.Session(instructions="x", turn_detection=None),),
        {},
        rt.SessionUpdate(session=rt.Session(instructions="x", turn_detection=None)),
    ),
    (
        "update_transcription_session",
        (rt.TranscriptionSession(input_audio_format="pcm16"),),
        {},
        rt.TranscriptionSessionUpdate(session=rt.TranscriptionSession(input_audio_format="pcm16")),
    ),
    ("append_audio", (PCM,), {}, rt.InputAudioBufferAppend.from_pcm(PCM)),
    ("commit_audio", (), {}, rt.InputAudioBufferCommit()),
    ("clear_audio", (), {}, rt.InputAudioBufferClear()),
    (
        "create_item",
        (ITEM,),
        {"previous_item_id": "root"},
        rt.ConversationItemCreate(item=ITEM, previous_item_id="root"),
    ),
    ("delete_item", ("item_1",), {}, rt.ConversationItemDelete(item_id="item_1")),
    ("retrieve_item", ("item_1",), {}, rt.ConversationItemRetrieve(item_id="item_1")),
    (
        "truncate_item",
        ("item_1", 0, 1500),
        {},
        rt.ConversationItemTruncate(item_id="item_1", content_index=0, audio_end_ms=1500),
    ),
    ("create_response", (), {}, rt.ResponseCreate()),
    (
        "create_response",
        (rt.ResponseConfig(instructions="brief"),),
        {},
        rt.ResponseCreate(response=rt.ResponseConfig(instructions="brief")),
    ),
    ("cancel_response", (), {}, rt.ResponseCancel()),
    ("cancel_response", ("resp_1",), {}, rt.ResponseCancel(response_id="resp_1")),
    ("clear_output_audio", (), {}, rt.OutputAudioBufferClear()),
]


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "expected"),
    METHODS,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(METHODS)],
)
async def test_each_client_event_method_sends_its_event(
    method: str, args: tuple[Any, ...], kwargs: dict[str, Any], expected: rt.ClientEvent
) -> None:
    async with fake_server(recorder) as server, client(server) as session:
        result = await getattr(session, method)(*args, **kwargs)
    sent = result[0] if isinstance(result, list) else result
    if isinstance(sent, ResponseHandle):  # sent at once (nothing running); tagged to match
        assert isinstance(expected, rt.ResponseCreate)
        config = expected.response if isinstance(expected.response, rt.ResponseConfig) else None
        tag = {"trio_realtime_request": sent.request_id}
        expected = attrs.evolve(
            expected, response=attrs.evolve(config or rt.ResponseConfig(), metadata=tag)
        )
        sent = sent.request
    assert sent == attrs.evolve(expected, event_id=sent.event_id)
    assert isinstance(sent.event_id, str)
    assert sent.event_id.startswith("evt_")
    assert server.connections[0].received == [rt.to_json_dict(sent)]


def test_every_client_event_has_a_method() -> None:
    covered = {type(expected).type for *_, expected in METHODS}
    assert covered == set(rt.events.CLIENT_EVENTS)


async def test_send_assigns_unique_event_ids_and_keeps_given_ones() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        first = await session.send(rt.InputAudioBufferCommit())
        second = await session.commit_audio()
        mine = await session.commit_audio(event_id="mine")
        null = await session.send(rt.InputAudioBufferCommit(event_id=None))
        custom = await session.send(rt.UnknownEvent(raw={"type": "x.custom", "a": 1}))
        with pytest.raises(TypeError, match="client event"):
            await session.send(rt.SessionCreated(event_id="e", session=rt.Session()))  # type: ignore[type-var]
        await session.aclose()
    assert first.event_id != second.event_id
    assert (mine.event_id, null.event_id) == ("mine", None)
    received = server.connections[0].received
    assert [event.get("event_id", "absent") for event in received] == [
        first.event_id,
        second.event_id,
        "mine",
        None,
        custom.event_id,
    ]
    assert received[4] == {"type": "x.custom", "a": 1, "event_id": custom.event_id}


async def test_the_append_fast_path_writes_exactly_what_encode_writes() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        (sent,) = await session.append_audio(PCM)
        item = session._p.out.append_item(PCM, 48)
    assert item[1] == rt.encode(item[0])
    assert server.connections[0].received == [rt.to_json_dict(sent)]


async def test_append_audio_splits_what_one_append_cannot_carry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trio_realtime._session._pump as pump_module

    monkeypatch.setattr(pump_module, "max_append_bytes", lambda fmt: 1200)
    async with fake_server(recorder) as server, client(server) as session:
        sent = await session.append_audio(PCM)
        assert await session.append_audio(b"") == []
        with pytest.raises(rt.AudioFormatError, match="whole number"):
            await session.append_audio(b"\x00" * 3)
    assert session.statistics().audio_ms_sent == pytest.approx(80)  # once written
    assert [len(event.pcm) for event in sent] == [1200, 1200, 1200, 240]
    assert b"".join(event.pcm for event in sent) == PCM
    assert len(server.connections[0].received) == 4


async def test_an_oversized_append_is_refused_before_sending() -> None:
    async with fake_server(recorder) as server, client(server) as session:
        huge = rt.InputAudioBufferAppend(audio="A" * (15 * 1024 * 1024))
        with pytest.raises(ValueError, match="15 MiB"):
            await session.send(huge)
    assert server.connections[0].received == []


# --- Receiving -----------------------------------------------------------------------------------


async def test_events_arrive_typed_and_in_order_and_bad_frames_do_not_stop_the_receiver() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.send(audio_delta(0))
        await conn.send({"type": "response.brand_new", "event_id": "event_n", "x": [1]})
        await conn.send("{not json")
        await conn.send({"type": "response.audio.delta", "event_id": "event_b", "delta": 5})
        await conn.send(audio_delta(1))
        await conn.close()

    async with fake_server(script) as server, client(server) as session:
        events = [event async for event in session]
    created, first, unknown, not_json, bad_field, second = events
    assert isinstance(created, rt.SessionCreated)
    assert isinstance(first, rt.ResponseAudioDelta)
    assert first.content_index == 0
    assert isinstance(unknown, rt.UnknownEvent)
    assert unknown.raw["x"] == [1]
    assert isinstance(not_json, DecodeFailure)
    assert not_json.raw == "{not json"
    assert "invalid JSON" in str(not_json.error)
    assert isinstance(bad_field, DecodeFailure)
    assert bad_field.error.event_type == "response.audio.delta"
    assert isinstance(second, rt.ResponseAudioDelta)
    assert second.content_index == 1
    assert session.statistics().decode_failures == 2


async def test_receive_returns_events_and_raises_end_of_channel_after_a_normal_close() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.close(1000, "bye")

    async with fake_server(script) as server, client(server) as session:
        assert isinstance(await session.receive(), rt.SessionCreated)
        with pytest.raises(trio.EndOfChannel):
            await session.receive()


async def test_a_message_larger_than_trio_websockets_default_arrives() -> None:
    big = "A" * (3 * 1024 * 1024)

    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.send({"type": "x.big", "event_id": "event_big", "blob": big})
        await conn.close()

    async with fake_server(script) as server:
        async with client(server) as session:
            events = [event async for event in session]
        assert isinstance(events[1], rt.UnknownEvent)
        assert events[1].raw["blob"] == big
        with pytest.raises(ConnectionClosed) as info:
            await drain(server, [], max_message_size=1024 * 1024)
        assert info.value.code == 1009


async def test_the_input_format_follows_the_server() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created(input_audio_format="g711_ulaw"))
        async for _ in conn.events():
            pass

    async with fake_server(script) as server, client(server) as session:
        assert session.input_format.name == "g711_ulaw"
        await session.append_audio(b"\xff" * 800)
        await session.aclose()
        assert session.statistics().audio_ms_sent == pytest.approx(100)


# --- Errors and their causes -------------------------------------------------------------------


async def test_an_error_leads_back_to_the_event_that_caused_it() -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        async for event in conn.events():
            if event["type"] == "conversation.item.delete":
                await conn.send(
                    error_event("no such item", code="invalid_value", event_id=event["event_id"])
                )
            elif event["type"] == "input_audio_buffer.append":
                await conn.send(error_event("bad audio", event_id=event["event_id"]))
            else:
                await conn.send(error_event("no cause"))

    async with fake_server(script) as server, client(server) as session:
        await session.receive()
        delete = await session.delete_item("item_x")
        first = await session.receive()
        await session.append_audio(PCM)
        second = await session.receive()
        await session.commit_audio()
        third = await session.receive()
    assert isinstance(first, rt.ErrorEvent)
    assert first.error.event_id == delete.event_id
    assert session.cause_of(first) is delete
    assert session.cause_of(first.error) is delete
    assert isinstance(second, rt.ErrorEvent)
    assert session.cause_of(second) is None
    assert isinstance(third, rt.ErrorEvent)
    assert session.cause_of(third) is None


def test_the_sent_log_is_bounded_by_count_and_size() -> None:
    from trio_realtime._session._support import SentLog

    log = SentLog(max_events=3, max_bytes=100)
    events = [rt.InputAudioBufferCommit(event_id=f"e{i}") for i in range(5)]
    for event in events:
        log.add(str(event.event_id), event, 10)
    assert [log.get(f"e{i}") for i in range(5)] == [None, None, *events[2:]]
    log.add("big", events[0], 95)
    assert log.get("e4") is None
    assert log.get("big") is events[0]


# --- wait_for --------------------------------------------------------------------------------------


async def _replier(conn: ServerConnection) -> None:
    await conn.send(session_created())
    async for event in conn.events():
        if event["type"] == "session.update":
            await conn.send(
                {"type": "session.updated", "event_id": "event_u", "session": event["session"]}
            )
        if event["type"] == "response.create":
            for i in range(3):
                await conn.send(audio_delta(i))
            await conn.send(
                {
                    "type": "response.done",
                    "event_id": "event_d",
                    "response": {"id": "resp_1", "status": "completed"},
                }
            )


@pytest.mark.parametrize(
    "match",
    [
        "response.done",
        rt.ResponseDone,
        ("x.nothing", rt.ResponseDone),
        ("response.done",),
        lambda event: getattr(event, "type", None) == "response.done",
    ],
    ids=["type", "class", "tuple", "tuple-of-str", "predicate"],
)
async def test_wait_for_matches_without_taking_the_event(match: Any) -> None:
    async with fake_server(_replier) as server, client(server) as session:
        await session.create_response()
        done = await session.wait_for(match, timeout=10)
        assert isinstance(done, rt.ResponseDone)
        seen = []
        async for event in session:  # the reader still gets every event, the matched one too
            seen.append(type(event).__name__)
            if event is done:
                break
    assert seen == [
        "SessionCreated",
        "ResponseAudioDelta",
        "ResponseAudioDelta",
        "ResponseAudioDelta",
        "ResponseDone",
    ]


async def test_concurrent_waiters_and_a_reader_all_get_the_same_event() -> None:
    got: dict[str, Any] = {}
    async with fake_server(_replier) as server, client(server) as session:

        async def wait(name: str, match: Any) -> None:
            got[name] = await session.wait_for(match, timeout=10)

        async def read() -> None:
            async for event in session:
                if isinstance(event, rt.SessionUpdated):
                    got["reader"] = event
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait, "a", "session.updated")
            nursery.start_soon(wait, "b", rt.SessionUpdated)
            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            assert session.statistics().waiters == 2
            await session.update_session(rt.Session(instructions="x"))
        assert session.statistics().waiters == 0
    assert got["a"] is got["b"] is got["reader"]


async def test_wait_for_times_out(autojump_clock: trio.testing.MockClock) -> None:
    async with fake_server(_replier, transport="memory") as server, client(server) as session:
        with pytest.raises(trio.TooSlowError):
            await session.wait_for("never.happens", timeout=30)
        assert session.statistics().waiters == 0


async def test_a_predicate_that_raises_fails_its_own_waiter_only() -> None:
    def broken(event: Any) -> bool:
        raise KeyError("oops")

    async with fake_server(_replier) as server, client(server) as session:
        await session.update_session(rt.Session())
        with pytest.raises(KeyError, match="oops"):
            await session.wait_for(broken, timeout=10)
        assert isinstance(await session.receive(), rt.SessionCreated)  # the receiver lives on
        assert isinstance(await session.receive(), rt.SessionUpdated)


async def test_wait_for_rejects_what_it_cannot_match() -> None:
    async with fake_server(_replier) as server, client(server) as session:
        with pytest.raises(TypeError, match="match must be"):
            await session.wait_for(42)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="only event type strings"):
            await session.wait_for(("x", 1))  # type: ignore[arg-type]


@pytest.mark.parametrize("code", [1000, 4000])
async def test_wait_for_raises_when_the_session_ends_first(code: int) -> None:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        await conn.receive()  # the commit below: the waiter is registered by now
        await conn.close(code, "closing")

    async def scenario(server: FakeServer) -> None:
        async with client(server) as session:
            await session.commit_audio()
            with pytest.raises(ConnectionClosed) as waited:
                await session.wait_for("never.happens")
            assert (waited.value.code, waited.value.reason) == (code, "closing")
            await session.commit_audio()  # sending after the end raises as well

    async with fake_server(script) as server:
        with pytest.raises(ConnectionClosed) as info:
            await scenario(server)
        assert info.value.code == code


# --- Statistics ----------------------------------------------------------------------------------


async def test_statistics_count_both_ways() -> None:
    async with fake_server(_replier) as server, client(server) as session:
        await session.append_audio(b"\x00" * 9600)
        await session.append_audio(b"\x00" * 4800)
        await session.update_session(rt.Session())
        await session.wait_for("session.updated", timeout=10)
        stats = session.statistics()
    assert stats.events_sent == 3
    assert stats.events_received == 2
    assert stats.audio_ms_sent == pytest.approx(300)
    assert stats.bytes_sent > 9600 * 4 // 3 + 4800 * 4 // 3
    assert stats.bytes_received > 0
    assert stats.inbound_buffer_used == 2  # nobody read them
    assert (stats.inbound_max_buffer_size, stats.outbound_max_buffer_size) == (64, 64)
    assert (
        stats.decode_failures == stats.receiver_stalls == stats.waiters == stats.audio_streams == 0
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.events_sent = 0  # type: ignore[misc]
