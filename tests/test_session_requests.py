"""Request and reply in one call, without a race; the openai SDK's dict shapes.

Every client event the protocol answers goes through ``session.request(event)`` against the
reference server and comes back with its answer, or with the server's ``error`` for it as a
:class:`RequestRefused`. The README's send-then-``wait_for`` pattern no longer misses an
answer that arrives at once. The bookkeeping that matches answers to requests is tested
without a socket too.
"""

from __future__ import annotations

import os
import re
from typing import Any

import orjson
import pytest
import trio
import trio.testing
from fake_server import ServerConnection, client, fake_server, session_created
from test_frames import server_frame

import trio_realtime as rt
from trio_realtime._session._requests import Replies
from trio_realtime._wire._frames import TEXT
from trio_realtime.audio import silence
from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server

MANUAL = rt.Session(modalities=["text"], turn_detection=None)
#: The same application code, speaking beta and GA to the reference server.
DIALECTS = pytest.mark.parametrize("dialect", ["beta", "ga"])


@DIALECTS
async def test_every_answered_event_gets_its_answer_in_one_call(dialect: Any) -> None:
    engine = SimulatedEngine(ms_per_char=20)
    with trio.fail_after(20):
        async with (
            open_local_server(engine=engine) as server,
            rt.connect(
                model="gpt-realtime", url=server.url, api_key="k", dialect=dialect
            ) as session,
        ):
            updated = await session.request(rt.SessionUpdate(session=MANUAL))
            assert isinstance(updated, rt.SessionUpdated)
            assert updated.session.turn_detection is None

            created = await session.request(
                rt.ConversationItemCreate(item=rt.ConversationItem.user_text("hello"))
            )
            assert isinstance(created, rt.ConversationItemCreated)
            mine = await session.request(
                rt.ConversationItemCreate(
                    item=rt.ConversationItem.user_text("chosen", id="item_chosen_by_me")
                )
            )
            assert mine.item.id == "item_chosen_by_me"

            retrieved = await session.request(rt.ConversationItemRetrieve(item_id=created.item.id))  # type: ignore[arg-type]
            assert isinstance(retrieved, rt.ConversationItemRetrieved)
            assert retrieved.item.id == created.item.id

            deleted = await session.request(rt.ConversationItemDelete(item_id="item_chosen_by_me"))
            assert deleted.item_id == "item_chosen_by_me"

            await session.append_audio(silence(300))
            committed = await session.request(rt.InputAudioBufferCommit())
            assert isinstance(committed, rt.InputAudioBufferCommitted)
            cleared = await session.request({"type": "input_audio_buffer.clear"})
            assert isinstance(cleared, rt.InputAudioBufferCleared)

            await session.update_session(rt.Session(modalities=["text", "audio"]))
            spoken = await (await session.create_response()).done()
            (item,) = spoken.raw.output  # type: ignore[misc]
            truncated = await session.request(
                rt.ConversationItemTruncate(item_id=item.id, content_index=0, audio_end_ms=100)  # type: ignore[arg-type]
            )
            assert (truncated.item_id, truncated.audio_end_ms) == (item.id, 100)
            assert session.statistics().replies_pending == 0

    async with (
        open_local_server() as server,
        rt.connect(intent="transcription", url=server.url, api_key="k", dialect=dialect) as session,
    ):
        answer = await session.request(
            rt.TranscriptionSessionUpdate(
                session=rt.TranscriptionSession(input_audio_format="pcm16")
            )
        )
        assert isinstance(answer, rt.TranscriptionSessionUpdated)


@DIALECTS
async def test_a_refused_request_raises_the_servers_error_precisely(dialect: Any) -> None:
    with trio.fail_after(10):
        async with (
            open_local_server() as server,
            rt.connect(
                model="gpt-realtime", url=server.url, api_key="k", dialect=dialect
            ) as session,
        ):
            delete = rt.ConversationItemDelete(item_id="item_nope", event_id="evt_mine")
            with pytest.raises(rt.RequestRefused, match=r"evt_mine") as info:
                await session.request(delete)
            assert info.value.error.code == "invalid_value"
            assert info.value.error.event_id == "evt_mine"
            assert info.value.request == delete
            with pytest.raises(rt.RequestRefused) as empty:
                await session.request(rt.InputAudioBufferCommit())
            assert empty.value.error.code == "input_audio_buffer_commit_empty"
            with pytest.raises(TypeError, match=r"does not answer response\.cancel"):
                await session.request(rt.ResponseCancel())  # type: ignore[call-overload]
            # The errors were delivered to the stream as well: requests never steal events.
            kinds = [type(await session.receive()).__name__ for _ in range(3)]
            assert kinds == ["SessionCreated", "ErrorEvent", "ErrorEvent"]


async def silent(conn: ServerConnection) -> None:
    """``session.created``, an error about nothing in particular, then no answers at all."""
    await conn.send(session_created())
    await conn.send(
        {
            "type": "error",
            "event_id": "e",
            "error": {"type": "server_error", "code": "overloaded", "message": "busy"},
        }
    )
    async for _ in conn.events():
        pass


async def test_a_request_that_gets_no_answer_times_out_saying_what_it_waited_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        fake_server(silent, transport="memory") as server,
        client(server, request_timeout=7) as session,
    ):
        await session.wait_for(rt.ErrorEvent)
        start = trio.current_time()
        with pytest.raises(trio.TooSlowError) as info:
            await session.request(rt.SessionUpdate(session=rt.Session(), event_id="evt_1"))
        assert trio.current_time() - start == pytest.approx(7)  # the session's request_timeout
        assert str(info.value) == (
            "no session.updated for session.update evt_1 within 7 s; "
            "last server error: overloaded: busy"
        )
        with pytest.raises(
            trio.TooSlowError, match=r"no input_audio_buffer\.cleared or x within 2 s"
        ):
            await session.wait_for(("input_audio_buffer.cleared", "x"), timeout=2)
        assert session.statistics().waiters == 0


async def in_order(conn: ServerConnection) -> None:
    """Answers session.update in order, the first one late."""
    await conn.send(session_created())
    async for event in conn.events():
        if event["type"] == "session.update":
            await conn.send(
                {"type": "session.updated", "event_id": "e", "session": event["session"]}
            )


async def test_answers_matched_by_order_skip_the_fire_and_forget_ones() -> None:
    async with fake_server(in_order) as server, client(server) as session:
        await session.update_session(rt.Session(instructions="first"))  # fire and forget
        answer = await session.request(rt.SessionUpdate(session=rt.Session(instructions="second")))
        assert answer.session.instructions == "second"  # not the first one's answer


# --- The send-then-wait race -------------------------------------------------------------------


def inject_answer_on_write(session: rt.RealtimeSession, conn: ServerConnection) -> None:
    """Make the server's answer arrive the instant the request is written: the test writes
    ``session.updated`` into the server's end of the socket right after the client's frame,
    so it is readable at the client's very next scheduling pass."""
    ws = session._p.transport.ws
    try_send_now = ws.try_send_now
    answer = server_frame(
        TEXT,
        orjson.dumps(
            {"type": "session.updated", "event_id": "e", "session": {"instructions": "x"}}
        ),
    )
    server_fd = conn.stream.socket.fileno()  # type: ignore[attr-defined]

    def write_then_answer(message: str) -> bool:
        written = try_send_now(message)
        if written and '"session.update"' in message:
            os.write(server_fd, answer)
        return written

    ws.try_send_now = write_then_answer  # type: ignore[method-assign]


async def recorder(conn: ServerConnection) -> None:
    await conn.send(session_created())
    async for _ in conn.events():
        pass


async def test_wait_for_right_after_a_send_sees_an_immediate_answer() -> None:
    # The README's pattern. trio runs the tasks made runnable by one I/O poll in random
    # order; if the send returned through a scheduling pass after its write, the receiver
    # could handle the answer before wait_for registered (half the time here).
    for _ in range(20):
        async with fake_server(recorder) as server, client(server) as session:
            inject_answer_on_write(session, server.connections[0])
            await session.update_session(rt.Session(instructions="x"))
            updated = await session.wait_for(rt.SessionUpdated, timeout=2)
            assert updated.session.instructions == "x"


async def test_request_sees_an_immediate_answer() -> None:
    for _ in range(20):
        async with fake_server(recorder) as server, client(server) as session:
            inject_answer_on_write(session, server.connections[0])
            answer = await session.request(rt.SessionUpdate(session=rt.Session()), timeout=2)
            assert answer.session.instructions == "x"


# --- The SDK's dict shapes ---------------------------------------------------------------------


@DIALECTS
async def test_the_sdks_dict_shapes_are_accepted_wherever_a_typed_object_is(dialect: Any) -> None:
    with trio.fail_after(10):
        async with (
            open_local_server() as server,
            rt.connect(
                model="gpt-realtime", url=server.url, api_key="k", dialect=dialect
            ) as session,
        ):
            sent = await session.update_session({"modalities": ["text"], "turn_detection": None})
            assert sent.session == MANUAL  # null kept as null
            await session.create_item(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                }
            )
            reply = await session.create_response(
                {"instructions": "be brief", "metadata": {"k": "v"}}
            )
            assert (await reply.done()).text == "You said: hi"
            raw = await session.send(
                {"type": "response.create", "response": {"modalities": ["text"]}}
            )
            assert isinstance(raw, rt.ResponseCreate)
            custom = await session.send({"type": "x.unknown", "a": 1})
            assert isinstance(custom, rt.UnknownEvent)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.update_session({"turn_detection": {"type": 5}}),
            "session.update: session.turn_detection.type: expected str, got int",
        ),
        (
            lambda s: s.create_item(
                {"type": "message", "content": [{"type": "input_text", "text": 3}]}
            ),
            "conversation.item.create: item.content[0].text: expected str, got int",
        ),
        (
            lambda s: s.create_response({"temperature": "hot"}),
            "response.create: response.temperature: expected",
        ),
        (
            lambda s: s.send({"type": "session.update", "session": {"voice": 3}}),
            "session.update: session.voice: expected str, got int",
        ),
    ],
)
async def test_a_dict_that_does_not_fit_raises_the_codecs_precise_error(
    call: Any, message: str
) -> None:
    async with fake_server(recorder) as server, client(server) as session:
        with pytest.raises(rt.ProtocolError, match=re.escape(message)):
            await call(session)
        with pytest.raises(TypeError, match="server event"):
            await session.send({"type": "session.created", "session": {}})
    assert server.connections[0].received == []  # nothing was sent


# --- The bookkeeping alone ---------------------------------------------------------------------


def test_answers_go_to_their_requests_by_item_id_or_by_order_and_shape() -> None:
    replies = Replies()
    text = replies.sent(
        rt.ConversationItemCreate(item=rt.ConversationItem.user_text("a"), event_id="c1")
    )
    output = replies.sent(
        rt.ConversationItemCreate(
            item=rt.ConversationItem.function_call_output("call_1", "{}"), event_id="c2"
        )
    )
    chosen = replies.sent(
        rt.ConversationItemCreate(
            item=rt.ConversationItem.user_text("b", id="item_b"), event_id="c3"
        )
    )
    delete = replies.sent(rt.ConversationItemDelete(item_id="item_x", event_id="d1"))
    assert replies.sent(rt.ResponseCancel(event_id="r1")) is None  # not answered
    assert text
    assert output
    assert chosen
    assert delete
    # An item server VAD made (audio, not text) answers no request.
    vad_item = rt.ConversationItem(
        type="message", role="user", id="item_v", content=[rt.ContentPart(type="input_audio")]
    )
    replies.answer(rt.ConversationItemCreated(event_id="s1", item=vad_item))
    assert text.reply is None
    replies.answer(
        rt.ConversationItemCreated(
            event_id="s2", item=rt.ConversationItem.user_text("b", id="item_b")
        )
    )
    assert chosen.reply is not None  # by id, out of order
    tool = rt.ConversationItem.function_call_output("call_1", "{}")
    replies.answer(rt.ConversationItemCreated(event_id="s3", item=tool))
    assert output.reply is not None
    assert text.reply is None
    replies.answer(
        rt.ConversationItemCreated(event_id="s4", item=rt.ConversationItem.user_text("a"))
    )
    assert text.reply is not None
    replies.error(
        rt.ErrorEvent(
            event_id="s5",
            error=rt.ErrorDetails(type="invalid_request_error", message="no", event_id="d1"),
        )
    )
    assert isinstance(delete.error, rt.ErrorDetails)
    assert replies.pending == 0


def test_an_unsent_request_expects_nothing_and_the_book_is_bounded() -> None:
    replies = Replies()
    first = rt.SessionUpdate(session=rt.Session(), event_id="u1")
    replies.sent(first)
    replies.unsent(first)
    second = replies.sent(rt.SessionUpdate(session=rt.Session(), event_id="u2"))
    replies.answer(rt.SessionUpdated(event_id="s", session=rt.Session()))
    assert second is not None
    assert second.reply is not None
    for index in range(1000):
        replies.sent(rt.InputAudioBufferClear(event_id=f"c{index}"))  # never answered
    assert replies.pending == 256
