"""What a resumed session decides, without a network: the policy, the replay, the conversation.

* :class:`~trio_realtime.ResumePolicy`: which endings are recoverable (never 1000, 3000 or 4000,
  nor the application's own close), and the backoff (full jitter under a doubling bound).
* :class:`~trio_realtime.Conversation.connection_lost`: running responses end "interrupted",
  keeping what arrived; the input buffer is taken as empty.
* The replay plan: configuration minus what the server sets, items in order under their ids,
  audio as transcripts, and everything left out named.
"""

from __future__ import annotations

import random

import orjson
import pytest

import trio_realtime as rt
from trio_realtime._session._history import plan_replay

USER_AUDIO_ITEM = {
    "id": "item_u1",
    "type": "message",
    "role": "user",
    "content": [{"type": "input_audio", "transcript": None}],
}


def created(item: dict[str, object], previous: str | None = None) -> rt.ConversationItemCreated:
    raw = {"type": "conversation.item.created", "previous_item_id": previous, "item": item}
    return event(raw)  # type: ignore[return-value]


def event(raw: dict[str, object]) -> rt.ServerEvent:
    return rt.decode(orjson.dumps({"event_id": "e", **raw}))  # type: ignore[return-value]


# --- the policy ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1001, 1005, 1006, 1011, 1012, 1013])
def test_going_away_drops_and_restarts_are_recoverable(code: int) -> None:
    assert rt.ResumePolicy().recoverable(code, None)


@pytest.mark.parametrize("code", [1000, 1002, 1007, 1008, 1009, 3000, 4000, 4001])
def test_normal_closes_refusals_and_protocol_errors_are_not(code: int) -> None:
    assert not rt.ResumePolicy().recoverable(code, None)


def test_session_expired_is_recoverable_whatever_the_close_code_but_auth_never_is() -> None:
    expired = rt.ErrorDetails(type="invalid_request_error", code="session_expired", message="m")
    assert rt.ResumePolicy().recoverable(1008, expired)
    assert not rt.ResumePolicy().recoverable(3000, expired)
    assert not rt.ResumePolicy(error_codes=frozenset()).recoverable(1008, expired)


@pytest.mark.parametrize("code", [1000, 3000, 4000])
def test_a_policy_cannot_call_auth_failures_or_refusals_recoverable(code: int) -> None:
    with pytest.raises(ValueError, match="never recoverable"):
        rt.ResumePolicy(close_codes=frozenset({1006, code}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_gap": 0},
        {"initial_backoff": -1.0},
        {"max_backoff": float("nan")},
        {"recycle_before": 0},
        {"max_replay_items": -1},
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        rt.ResumePolicy(**kwargs)  # type: ignore[arg-type]


def test_the_backoff_is_full_jitter_under_a_doubling_capped_bound() -> None:
    policy = rt.ResumePolicy(initial_backoff=0.5, max_backoff=4.0)
    rng = random.Random(7)
    for attempt, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (80, 4.0)]:
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= w <= bound for w in waits)
        assert max(waits) > bound * 0.8
        assert min(waits) < bound * 0.2


def test_a_seeded_policy_waits_the_same_every_time() -> None:
    policy = rt.ResumePolicy(seed=3)
    first = [policy.backoff(a, policy.random()) for a in (1, 2, 3)]
    assert first == [policy.backoff(a, policy.random()) for a in (1, 2, 3)]


def test_resume_needs_the_conversation() -> None:
    with pytest.raises(ValueError, match="track_conversation"):
        rt.connect(model="m", api_key="k", track_conversation=False, resume=rt.ResumePolicy())


# --- the conversation across a lost connection ---------------------------------------------


def running_reply(conversation: rt.Conversation) -> None:
    for raw in [
        {
            "type": "response.created",
            "response": {"id": "resp_1", "status": "in_progress", "conversation_id": "conv_1"},
        },
        {
            "type": "response.output_item.added",
            "response_id": "resp_1",
            "output_index": 0,
            "item": {"id": "item_a1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "conversation.item.created",
            "previous_item_id": None,
            "item": {"id": "item_a1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.content_part.added",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "text", "text": ""},
        },
        {
            "type": "response.text.delta",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "delta": "Half a sen",
        },
    ]:
        conversation.apply(event(raw))


def test_a_lost_connection_ends_the_running_response_interrupted_keeping_what_arrived() -> None:
    conversation = rt.Conversation()
    running_reply(conversation)
    assert conversation.active_response is not None
    ended = conversation.connection_lost()
    assert [r.id for r in ended] == ["resp_1"]
    response = conversation.response("resp_1")
    assert response.done
    assert response.status == "interrupted"
    assert response.status_details is not None
    assert response.status_details.reason == "connection_lost"
    assert conversation.active_response is None
    item = conversation.item("item_a1")
    assert item.done
    assert item.status == "incomplete"
    assert item.text == "Half a sen"
    assert conversation.connection_lost() == ()  # nothing runs any more


def test_the_input_buffer_counts_appends_since_the_last_commit_and_is_gone_with_the_connection() -> (
    None
):
    conversation = rt.Conversation()
    append = rt.InputAudioBufferAppend(audio=rt.encode_audio(bytes(4800)))  # 100 ms of pcm16
    conversation.sent(append)
    conversation.sent(append)
    assert conversation.input_audio_uncommitted_ms == pytest.approx(200)
    conversation.sent(rt.InputAudioBufferCommit())
    assert conversation.input_audio_uncommitted_ms == 0
    conversation.sent(append)
    conversation.apply(
        event({"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": "i"})
    )  # a VAD commit
    assert conversation.input_audio_uncommitted_ms == 0
    conversation.sent(append)
    conversation.connection_lost()
    assert conversation.input_audio_uncommitted_ms == 0
    assert conversation.input_audio_sent_ms == pytest.approx(400)


# --- the replay plan -------------------------------------------------------------------------


def test_the_replay_sends_the_reported_configuration_without_what_the_server_sets() -> None:
    conversation = rt.Conversation()
    conversation.apply(
        event(
            {
                "type": "session.updated",
                "session": {
                    "id": "sess_1",
                    "object": "realtime.session",
                    "expires_at": 1800000000,
                    "model": "gpt-realtime",
                    "instructions": "be brief",
                    "voice": "verse",
                    "turn_detection": None,
                    "tools": [{"type": "function", "name": "lookup", "parameters": {}}],
                    "client_secret": None,
                    "prompt": None,
                },
            }
        )
    )
    plan = plan_replay(conversation)
    assert isinstance(plan.config, rt.SessionUpdate)
    session = plan.config.session
    assert (session.instructions, session.voice, session.turn_detection) == (
        "be brief",
        "verse",
        None,
    )
    assert session.tools is not rt.UNSET
    assert [t.name for t in session.tools or []] == ["lookup"]
    for name in ("id", "object", "expires_at", "model", "client_secret"):
        assert getattr(session, name) is rt.UNSET
    assert "prompt" not in rt.to_json_dict(plan.config)["session"]  # unknown: not sent back


def test_the_replay_carries_text_calls_and_transcripts_and_names_what_it_leaves_out() -> None:
    conversation = rt.Conversation()
    items = [
        {
            "id": "item_s",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "sys"}],
        },
        {
            "id": "item_t",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        },
        {
            "id": "item_v",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": "spoken words"}],
        },
        USER_AUDIO_ITEM,
        {
            "id": "item_c",
            "type": "function_call",
            "call_id": "call_1",
            "name": "f",
            "arguments": "{}",
        },
        {"id": "item_o", "type": "function_call_output", "call_id": "call_1", "output": "42"},
        {"id": "item_x", "type": "function_call_output", "call_id": "call_9", "output": "?"},
    ]
    previous = None
    for item in items:
        conversation.apply(created(item, previous))
        previous = str(item["id"])
    plan = plan_replay(conversation)
    assert [i.id for i in plan.items] == ["item_s", "item_t", "item_v", "item_c", "item_o"]
    spoken = plan.items[2]
    assert spoken.content is not rt.UNSET
    assert spoken.content is not None
    assert [(p.type, p.text) for p in spoken.content] == [("input_text", "spoken words")]
    assert plan.as_text == ("item_v",)
    assert any("item_u1" in line and "without a transcript" in line for line in plan.lost)
    assert any("item_x" in line for line in plan.lost)
    assert len(plan.lost) == 2


def test_the_calls_of_an_interrupted_response_are_left_out_and_its_text_is_kept() -> None:
    conversation = rt.Conversation()
    running_reply(conversation)
    conversation.apply(
        event(
            {
                "type": "response.output_item.added",
                "response_id": "resp_1",
                "output_index": 1,
                "item": {"id": "item_c", "type": "function_call", "call_id": "c1", "name": "f"},
            }
        )
    )
    conversation.apply(
        created({"id": "item_c", "type": "function_call", "call_id": "c1", "name": "f"}, "item_a1")
    )
    conversation.connection_lost()
    plan = plan_replay(conversation, interrupted=frozenset({"resp_1"}))
    assert [i.id for i in plan.items] == ["item_a1"]
    assert plan.items[0].content is not None
    assert plan.items[0].content is not rt.UNSET
    assert plan.items[0].content[0].text == "Half a sen"
    assert any("function call 'f' of interrupted response" in line for line in plan.lost)


def test_the_replay_keeps_the_newest_items_when_bounded() -> None:
    conversation = rt.Conversation()
    previous = None
    for n in range(5):
        item = {
            "id": f"item_{n}",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": str(n)}],
        }
        conversation.apply(created(item, previous))
        previous = f"item_{n}"
    plan = plan_replay(conversation, max_items=2)
    assert [i.id for i in plan.items] == ["item_3", "item_4"]
    assert plan.lost == ("3 older items (max_replay_items=2)",)


def test_a_transcription_session_replays_its_configuration_only() -> None:
    conversation = rt.Conversation()
    conversation.apply(
        event(
            {
                "type": "transcription_session.updated",
                "session": {
                    "id": "s",
                    "object": "realtime.transcription_session",
                    "input_audio_format": "g711_ulaw",
                },
            }
        )
    )
    conversation.apply(created(USER_AUDIO_ITEM))
    plan = plan_replay(conversation)
    assert isinstance(plan.config, rt.TranscriptionSessionUpdate)
    assert plan.config.session.input_audio_format == "g711_ulaw"
    assert plan.config.session.id is rt.UNSET
    assert plan.items == ()
    assert plan.lost == ()


# --- keeping input audio for the replay ----------------------------------------------------


def append_ms(conversation: rt.Conversation, ms: int, value: int) -> None:
    conversation.sent(rt.InputAudioBufferAppend(audio=rt.encode_audio(bytes([value]) * 48 * ms)))


def committed_item(conversation: rt.Conversation, item_id: str) -> None:
    conversation.apply(
        event(
            {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item_id}
        )
    )
    conversation.apply(created({**USER_AUDIO_ITEM, "id": item_id}))


def test_input_audio_is_kept_only_when_asked_and_goes_to_the_item_its_commit_names() -> None:
    plain = rt.Conversation()
    append_ms(plain, 100, 1)
    committed_item(plain, "item_1")
    assert plain.item("item_1").audio == b""

    conversation = rt.Conversation(keep_input_audio_seconds=1)
    append_ms(conversation, 100, 1)
    conversation.sent(rt.InputAudioBufferCommit())  # the client's commit takes these 100 ms
    append_ms(conversation, 50, 2)  # ... not these, appended before its answer came
    committed_item(conversation, "item_1")
    assert conversation.item("item_1").audio == bytes([1]) * 4800
    committed_item(conversation, "item_2")  # a VAD commit: what was appended since
    assert conversation.item("item_2").audio == bytes([2]) * 2400
    append_ms(conversation, 100, 3)
    conversation.sent(rt.InputAudioBufferClear())
    committed_item(conversation, "item_3")
    assert conversation.item("item_3").audio == b""  # cleared: nothing to give


def test_kept_input_audio_is_bounded_in_all_the_oldest_letting_go_first() -> None:
    conversation = rt.Conversation(keep_input_audio_seconds=0.25)
    for n in range(4):
        append_ms(conversation, 100, n)
        committed_item(conversation, f"item_{n}")
    kept = [len(conversation.item(f"item_{n}").audio) for n in range(4)]
    assert kept == [0, 0, 4800, 4800]  # 200 of the allowed 250 ms: the newest
    assert conversation.item("item_0").audio_ms == 100  # its duration is still known
    append_ms(conversation, 1000, 9)  # a long append keeps only its newest 250 ms
    committed_item(conversation, "item_long")
    assert len(conversation.item("item_long").audio) == 48 * 250
    with pytest.raises(ValueError, match="keep_input_audio_seconds"):
        rt.Conversation(keep_input_audio_seconds=-1)


def test_the_replay_sends_kept_user_audio_as_audio_in_the_current_format() -> None:
    conversation = rt.Conversation(keep_input_audio_seconds=10)
    append_ms(conversation, 100, 7)
    committed_item(conversation, "item_kept")
    conversation.apply(
        event(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_kept",
                "content_index": 0,
                "transcript": "hello",
            }
        )
    )
    committed_item(conversation, "item_none")  # no audio kept, no transcript
    plan = plan_replay(conversation, audio=True)
    assert plan.as_audio == ("item_kept",)
    (item,) = plan.items
    assert item.content is not None
    assert item.content is not rt.UNSET
    (part,) = item.content
    assert (part.type, part.pcm, part.transcript) == ("input_audio", bytes([7]) * 4800, "hello")
    assert plan_replay(conversation).as_text == ("item_kept",)  # without audio: the transcript
