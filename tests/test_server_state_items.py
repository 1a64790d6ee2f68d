"""The reference server's state machine: conversation items (5.11) and tool outputs (5.7).

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from server_helpers import FakeEngine, Harness, audio_reply, call_reply, error_of, only, types

from trio_realtime._core._audio import tone


def harness(**options: Any) -> Harness:
    h = Harness(engine=FakeEngine(outputs=(audio_reply(ms=1000),)), **options)
    h.update(turn_detection=None)
    return h


def text_item(text: str = "hi", role: str = "user", **fields: Any) -> dict[str, Any]:
    kind = "text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}], **fields}


def create_item(h: Harness, item: dict[str, Any], **fields: Any) -> list[dict[str, Any]]:
    return h.send({"type": "conversation.item.create", "item": item, **fields})


def ids_in_order(h: Harness) -> list[str]:
    """The conversation's item ids, read through the engine's view of a response."""
    h.send(
        {"type": "response.create", "response": {"conversation": "none", "modalities": ["text"]}}
    )
    return [item.id for item in h.engine.requests[-1].items]  # type: ignore[misc]


# -- create -------------------------------------------------------------------------------------


def test_create_appends_by_default_and_reports_the_previous_item() -> None:  # checklist 42
    h = harness()
    first = create_item(h, text_item("a"))[0]
    assert first["type"] == "conversation.item.created"
    assert first["previous_item_id"] is None
    second = create_item(h, text_item("b"))[0]
    assert second["previous_item_id"] == first["item"]["id"]
    assert ids_in_order(h) == [first["item"]["id"], second["item"]["id"]]


def test_root_inserts_first() -> None:  # checklist 42
    h = harness()
    a = create_item(h, text_item("a"))[0]["item"]["id"]
    b = create_item(h, text_item("b"), previous_item_id="root")[0]
    assert b["previous_item_id"] is None
    assert ids_in_order(h) == [b["item"]["id"], a]


def test_insert_after_an_existing_item() -> None:  # checklist 42
    h = harness()
    a = create_item(h, text_item("a"))[0]["item"]["id"]
    c = create_item(h, text_item("c"))[0]["item"]["id"]
    b = create_item(h, text_item("b"), previous_item_id=a)[0]
    assert b["previous_item_id"] == a
    assert ids_in_order(h) == [a, b["item"]["id"], c]


def test_unknown_previous_item_is_refused_and_nothing_is_added() -> None:  # checklist 42
    h = harness()
    error = error_of(
        create_item(h, text_item(id="mine"), previous_item_id="item_nope", event_id="i1")
    )
    assert (error["code"], error["param"], error["event_id"]) == (
        "invalid_value",
        "previous_item_id",
        "i1",
    )
    assert ids_in_order(h) == []


def test_a_client_chosen_id_is_kept_and_a_duplicate_refused() -> None:  # checklist 43
    h = harness()
    assert create_item(h, text_item(id="msg_001"))[0]["item"]["id"] == "msg_001"
    error = error_of(create_item(h, text_item(id="msg_001")))
    assert (error["code"], error["param"]) == ("invalid_value", "item.id")
    assert ids_in_order(h) == ["msg_001"]


def test_the_created_item_is_the_servers_view() -> None:
    h = harness()
    item = create_item(h, text_item("hello", status="incomplete"))[0]["item"]
    assert item["object"] == "realtime.item"
    assert item["status"] == "completed"  # a client status is ignored
    assert item["content"] == [{"type": "input_text", "text": "hello"}]


def test_creating_an_item_starts_no_response() -> None:
    h = Harness()
    assert types(create_item(h, text_item())) == ["conversation.item.created"]


@pytest.mark.parametrize(
    ("item", "code", "param"),
    [
        ({"role": "user", "content": []}, "missing_required_parameter", "item.type"),
        ({"type": "note"}, "invalid_value", "item.type"),
        ({"type": "message", "content": []}, "missing_required_parameter", "item.role"),
        ({"type": "message", "role": "robot", "content": []}, "invalid_value", "item.role"),
        ({"type": "message", "role": "user"}, "missing_required_parameter", "item.content"),
        ({"type": "message", "role": "user", "content": None}, "invalid_type", "item.content"),
        ({"type": "message", "role": "user", "content": "hi"}, "invalid_type", "item.content"),
        (
            {"type": "message", "role": "user", "content": [{"text": "x"}]},
            "missing_required_parameter",
            "item.content[0].type",
        ),
        (
            {"type": "message", "role": "system", "content": [{"type": "text", "text": "x"}]},
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "input_text", "text": "x"}],
            },
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {"type": "message", "role": "assistant", "content": [{"type": "audio", "audio": ""}]},
            "invalid_value",
            "item.content[0].type",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
            "missing_required_parameter",
            "item.content[0].text",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_audio"}]},
            "missing_required_parameter",
            "item.content[0].audio",
        ),
        (
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": "!!"}],
            },
            "invalid_value",
            "item.content[0].audio",
        ),
        (
            {"type": "function_call", "name": "f", "arguments": "{}"},
            "missing_required_parameter",
            "item.call_id",
        ),
        (
            {"type": "function_call", "call_id": "c", "arguments": "{}"},
            "missing_required_parameter",
            "item.name",
        ),
        (
            {"type": "function_call_output", "call_id": "c"},
            "missing_required_parameter",
            "item.output",
        ),
        (
            {"type": "message", "role": "user", "content": [], "flavour": 1},
            "unknown_parameter",
            "item.flavour",
        ),
    ],
)
def test_invalid_items_are_refused_with_code_and_path(
    item: dict[str, Any], code: str, param: str
) -> None:
    h = harness()
    error = error_of(create_item(h, item))
    assert (error["code"], error["param"]) == (code, param)
    assert ids_in_order(h) == []


def test_every_role_accepts_its_own_content() -> None:
    h = harness()
    pcm = tone(200)
    items = [
        text_item("be nice", role="system"),
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "hi"},
                {"type": "input_audio", "audio": base64.b64encode(pcm).decode()},
            ],
        },
        text_item("hello", role="assistant"),
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ]
    for item in items:
        assert types(create_item(h, item)) == ["conversation.item.created"]
    created = h.log[-4]["item"]
    assert created["content"] == [
        {"type": "input_text", "text": "hi"},
        {"type": "input_audio", "transcript": None},
    ]


# -- function call outputs ------------------------------------------------------------------------


def test_a_tool_output_starts_no_response() -> None:  # checklist 38
    h = Harness(engine=FakeEngine(outputs=(call_reply(),)))
    h.update(turn_detection={"type": "server_vad"})
    h.send({"type": "response.create"})
    call_id = only(h.log, "response.output_item.added")["item"]["call_id"]
    events = create_item(
        h, {"type": "function_call_output", "call_id": call_id, "output": '{"t": 20}'}
    )
    assert types(events) == ["conversation.item.created"]


def test_a_tool_output_for_an_unknown_call_is_refused() -> None:  # checklist 38
    h = harness()
    error = error_of(
        create_item(h, {"type": "function_call_output", "call_id": "call_nope", "output": "x"})
    )
    assert (error["code"], error["param"]) == ("invalid_value", "item.call_id")


# -- delete and retrieve --------------------------------------------------------------------------


def test_delete_and_retrieve_a_known_item() -> None:  # checklist 44
    h = harness()
    item = create_item(h, text_item("hi"))[0]["item"]
    retrieved = h.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    assert types(retrieved) == ["conversation.item.retrieved"]
    assert retrieved[0]["item"] == item
    deleted = h.send({"type": "conversation.item.delete", "item_id": item["id"]})
    assert deleted[0] == {**deleted[0], "type": "conversation.item.deleted", "item_id": item["id"]}
    assert ids_in_order(h) == []


def test_retrieved_user_audio_carries_the_audio() -> None:  # checklist 44
    h = harness()
    pcm = tone(300)
    h.append(pcm)
    item_id = h.send({"type": "input_audio_buffer.commit"})[0]["item_id"]
    part = h.send({"type": "conversation.item.retrieve", "item_id": item_id})[0]["item"]["content"][
        0
    ]
    assert part["type"] == "input_audio"
    assert part["transcript"] is None
    assert base64.b64decode(part["audio"]) == pcm


def test_delete_or_retrieve_of_an_unknown_item_is_an_error() -> None:  # checklist 44
    h = harness()
    error = error_of(
        h.send({"type": "conversation.item.delete", "item_id": "item_x", "event_id": "d"})
    )
    assert error["message"] == "Error deleting item: the item with id 'item_x' does not exist."
    assert (error["param"], error["event_id"]) == ("item_id", "d")
    error = error_of(h.send({"type": "conversation.item.retrieve", "item_id": "item_x"}))
    assert error["param"] == "item_id"


# -- truncate -------------------------------------------------------------------------------------


def assistant_audio_item(h: Harness) -> str:
    events = h.send({"type": "response.create"})
    return only(events, "response.output_item.done")["item"]["id"]  # type: ignore[no-any-return]


def truncate(
    h: Harness, item_id: str, audio_end_ms: int, content_index: int = 0
) -> list[dict[str, Any]]:
    return h.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": content_index,
            "audio_end_ms": audio_end_ms,
        }
    )


def test_truncating_assistant_audio_shortens_it_and_drops_the_transcript() -> None:  # checklist 45
    h = harness()
    item_id = assistant_audio_item(h)
    events = truncate(h, item_id, 400)
    assert types(events) == ["conversation.item.truncated"]
    assert (events[0]["item_id"], events[0]["content_index"], events[0]["audio_end_ms"]) == (
        item_id,
        0,
        400,
    )
    part = h.send({"type": "conversation.item.retrieve", "item_id": item_id})[0]["item"]["content"][
        0
    ]
    assert part["transcript"] is None
    assert len(base64.b64decode(part["audio"])) == 400 * 48


def test_truncating_at_the_full_duration_or_zero_is_accepted() -> None:  # checklist 45
    h = harness()
    item_id = assistant_audio_item(h)
    assert types(truncate(h, item_id, 1000)) == ["conversation.item.truncated"]
    assert types(truncate(h, item_id, 0)) == ["conversation.item.truncated"]
    assert (
        error_of(truncate(h, item_id, 1))["message"]
        == "Audio content of 0ms is already shorter than 1ms"
    )


def test_truncating_past_the_end_is_refused() -> None:  # checklist 46
    h = harness()
    item_id = assistant_audio_item(h)
    error = error_of(truncate(h, item_id, 1500))
    assert error["message"] == "Audio content of 1000ms is already shorter than 1500ms"
    assert (error["code"], error["param"]) == ("invalid_value", "audio_end_ms")
    part = h.send({"type": "conversation.item.retrieve", "item_id": item_id})[0]["item"]["content"][
        0
    ]
    assert part["transcript"] == "Sure, here you go."


def test_only_assistant_audio_can_be_truncated() -> None:  # checklist 46
    h = harness()
    user = create_item(h, text_item())[0]["item"]["id"]
    call = create_item(
        h, {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    )[0]["item"]["id"]
    text = create_item(h, text_item("hello", role="assistant"))[0]["item"]["id"]
    for item_id in (user, call, text):
        error = error_of(truncate(h, item_id, 0))
        assert error["message"] == "Only model output audio messages can be truncated"


def test_an_assistant_item_without_audio_yet_cannot_be_truncated() -> None:  # checklist 46
    h = harness()
    h.engine.pacing = {
        "first_delta_delay": 0.0,
        "audio_realtime_factor": 1.0,
        "text_chars_per_second": 0.5,
    }
    h.engine.outputs = (audio_reply(ms=0),)
    events = h.send({"type": "response.create"})
    item_id = only(events, "response.output_item.added")["item"]["id"]
    assert (
        error_of(truncate(h, item_id, 0))["message"]
        == "Only model output audio messages can be truncated"
    )


def test_truncate_needs_content_index_0_and_a_known_item() -> None:  # checklist 46
    h = harness()
    item_id = assistant_audio_item(h)
    assert error_of(truncate(h, item_id, 10, content_index=1))["param"] == "content_index"
    assert error_of(truncate(h, item_id, -1))["param"] == "audio_end_ms"
    assert error_of(truncate(h, "item_x", 0))["param"] == "item_id"


def test_a_running_item_is_measured_against_the_audio_so_far() -> None:  # checklist 45
    h = harness()
    h.engine.pacing = {"audio_realtime_factor": 1.0}
    events = h.send({"type": "response.create"})
    item_id = only(events, "response.output_item.added")["item"]["id"]
    h.advance(h.now + 0.25)  # 300 ms sent
    assert (
        error_of(truncate(h, item_id, 301))["message"]
        == "Audio content of 300ms is already shorter than 301ms"
    )
    assert types(truncate(h, item_id, 200)) == ["conversation.item.truncated"]
    h.advance(h.now + 5)
    part = h.send({"type": "conversation.item.retrieve", "item_id": item_id})[0]["item"]["content"][
        0
    ]
    assert len(base64.b64decode(part["audio"])) == 200 * 48  # later audio is not kept
    assert part["transcript"] is None
