"""Events from older (and newer) servers decode: the spec's examples, and payloads without the
fields that arrived during the beta.

Rules these tests follow:

* The spec examples are read from ``tests/data/protocol`` as they are; the two that are not
  valid JSON (comments, trailing commas: a known slip of the spec, protocol README) are
  repaired here, in code, and nothing else is changed.
* "Late" fields come from the catalog's per-field history: a field first seen in a later SDK
  version than its event or object. Each gets its own test, built from an older payload: the
  spec example, or an event our own server sends, with the field removed.
* Wire tests use the scripted :mod:`fake_server` and the real client.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
import pytest
import trio
from fake_server import client, fake_server, session_created
from protocol_data import PROTOCOL, catalog, catalog_server_events
from test_events import OBJECT_CLASSES

from trio_realtime import UNSET, decode, encode
from trio_realtime import events as ev
from trio_realtime._session._types import DecodeFailure
from trio_realtime.events import InputAudioTranscriptionCompleted


def _repaired(text: str) -> Any:
    """A spec example as JSON: ``//`` comments and trailing commas removed."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return json.loads(text)


def _spec_examples() -> dict[str, Any]:
    raw = json.loads((PROTOCOL / "openapi_realtime_schemas.json").read_text())
    schemas = raw["snapshots"]["beta_2025_04_29"]["schemas"]
    examples = {}
    for name, schema in schemas.items():
        meta = schema.get("x-oaiMeta")
        if meta and name.startswith(("RealtimeServerEvent", "RealtimeClientEvent")):
            examples[name] = _repaired(meta["example"])
    return examples


SPEC_EXAMPLES = _spec_examples()


def test_there_are_46_event_examples() -> None:
    assert len(SPEC_EXAMPLES) == 46


@pytest.mark.parametrize("name", sorted(SPEC_EXAMPLES))
def test_every_spec_example_decodes_and_encodes_back(name: str) -> None:
    example = SPEC_EXAMPLES[name]
    event = decode(json.dumps(example))
    assert not isinstance(event, ev.UnknownEvent), name
    assert event.type == example["type"]
    assert json.loads(encode(event)) == example  # nothing lost, nothing added


def _version(tag: str) -> tuple[int, ...]:
    return tuple(int(n) for n in tag.lstrip("v").split("."))


def _late_fields(specs: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(name, field, version)`` for each field newer than its event or object."""
    out = []
    for name, spec in specs.items():
        first = spec.get("first_seen_sdk_version")
        for field, seen in spec.get("first_seen_sdk_version_per_field", {}).items():
            if first is not None and _version(seen) > _version(first):
                out.append((name, field, seen))
    return sorted(out)


LATE_EVENT_FIELDS = _late_fields(catalog_server_events())
LATE_OBJECT_FIELDS = _late_fields(catalog()["objects"])


def test_the_catalog_names_late_fields_of_server_events() -> None:
    assert (
        "conversation.item.input_audio_transcription.completed",
        "usage",
        "v1.95.0",
    ) in LATE_EVENT_FIELDS


#: For each late server-event field: an older payload, without it.
OLDER_PAYLOADS = {
    # The 2025-04 spec's own example: before usage (and before logprobs were asked for).
    "conversation.item.input_audio_transcription.completed": SPEC_EXAMPLES[
        "RealtimeServerEventConversationItemInputAudioTranscriptionCompleted"
    ],
}


@pytest.mark.parametrize(("event_type", "field", "version"), LATE_EVENT_FIELDS)
def test_a_server_event_from_before_a_late_field_decodes_with_it_unset(
    event_type: str, field: str, version: str
) -> None:
    payload = {k: v for k, v in OLDER_PAYLOADS[event_type].items() if k != field}
    event = decode(json.dumps(payload))
    assert isinstance(event, ev.SERVER_EVENTS[event_type]), (event_type, field, version)
    assert getattr(event, field) is UNSET
    assert field not in json.loads(encode(event))  # and it stays off the wire


@pytest.mark.parametrize(("object_name", "field", "version"), LATE_OBJECT_FIELDS)
def test_a_late_field_of_a_nested_object_is_optional(
    object_name: str, field: str, version: str
) -> None:
    cls = OBJECT_CLASSES[object_name]
    assert attrs.fields_dict(cls)[field].default is UNSET, (object_name, field, version)


def test_an_older_transcript_is_attributed_without_usage() -> None:
    completed = decode(
        json.dumps(
            SPEC_EXAMPLES["RealtimeServerEventConversationItemInputAudioTranscriptionCompleted"]
        )
    )
    assert isinstance(completed, InputAudioTranscriptionCompleted)
    assert completed.usage is UNSET
    assert completed.transcript == "Hello, how are you?"


async def test_a_session_against_an_older_server_yields_its_transcripts() -> None:
    older = SPEC_EXAMPLES["RealtimeServerEventConversationItemInputAudioTranscriptionCompleted"]

    async def old_server(conn: Any) -> None:
        await conn.send(session_created())
        await conn.send(
            {
                "type": "conversation.item.created",
                "event_id": "event_2",
                "previous_item_id": None,
                "item": {
                    "id": older["item_id"],
                    "object": "realtime.item",
                    "type": "message",
                    "status": "completed",
                    "role": "user",
                    "content": [{"type": "input_audio", "transcript": None}],
                },
            }
        )
        await conn.send(older)
        await conn.close()

    seen = []
    with trio.fail_after(10):
        async with fake_server(old_server) as server, client(server) as session:
            async for event in session:
                seen.append(event)
    assert not [e for e in seen if isinstance(e, DecodeFailure)]
    (completed,) = [e for e in seen if isinstance(e, InputAudioTranscriptionCompleted)]
    assert completed.usage is UNSET
    part = session.conversation.item(older["item_id"]).parts[0]
    assert part.transcript == "Hello, how are you?"
    assert part.transcription_usage is None
