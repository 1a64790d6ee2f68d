"""Property tests of the protocol round trip, driven by the catalog and the type hints."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_data import schema_errors
from strategies import JSON_VALUES, instances, wire_event

from trio_realtime import ProtocolError, UnknownEvent, decode, encode, to_json_dict
from trio_realtime import events as ev
from trio_realtime._core._codec import pack, unpack

ALL_EVENTS = {**ev.CLIENT_EVENTS, **ev.SERVER_EVENTS}


def same_json(a: Any, b: Any) -> bool:
    """JSON value equality that, unlike ``==``, tells ``true`` from ``1`` and ``1`` from ``1.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("event_type", sorted(ALL_EVENTS))
@given(data=st.data())
def test_every_event_instance_survives_encode_then_decode(
    event_type: str, data: st.DataObject
) -> None:
    event = data.draw(instances(ALL_EVENTS[event_type]))
    assert decode(encode(event)) == event


@pytest.mark.parametrize("event_type", sorted(ALL_EVENTS))
@given(data=st.data())
def test_every_wire_event_survives_decode_then_encode(event_type: str, data: st.DataObject) -> None:
    raw = data.draw(wire_event(event_type))
    decoded = decode(orjson.dumps(raw))
    assert type(decoded) is ALL_EVENTS[event_type]
    assert same_json(orjson.loads(encode(decoded)), raw)


@pytest.mark.parametrize("event_type", sorted(ALL_EVENTS))
@given(data=st.data())
def test_every_encoded_event_validates_against_the_spec_schema(
    event_type: str, data: st.DataObject
) -> None:
    raw = data.draw(wire_event(event_type, extra=False, schema_friendly=True))
    frame = orjson.loads(encode(decode(orjson.dumps(raw))))
    assert schema_errors(frame) == []


@given(JSON_VALUES)
def test_arbitrary_json_decodes_or_raises_protocol_error(value: Any) -> None:
    try:
        result = decode(orjson.dumps(value))
    except ProtocolError:
        return
    assert isinstance(result, UnknownEvent | ev.Event)


@given(
    st.dictionaries(
        st.sampled_from(["type", "event_id", "item_id", "session", "response", "delta"]),
        JSON_VALUES,
        max_size=5,
    ),
    st.sampled_from(sorted(ALL_EVENTS)),
)
def test_known_types_with_arbitrary_fields_decode_or_raise_protocol_error(
    fields: dict[str, Any], event_type: str
) -> None:
    frame = orjson.dumps({**fields, "type": event_type})
    try:
        result = decode(frame)
    except ProtocolError:
        with pytest.raises(ProtocolError, match="^" + event_type.replace(".", r"\.") + ": "):
            decode(frame)
        return
    assert type(result) is ALL_EVENTS[event_type]


@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_protocol_error(data: bytes) -> None:
    try:
        result = decode(data)
    except ProtocolError:
        return
    assert isinstance(result, UnknownEvent | ev.Event)


@given(instances(ev.SessionUpdate))
def test_to_json_dict_matches_the_encoded_frame(event: ev.SessionUpdate) -> None:
    assert orjson.loads(encode(event)) == to_json_dict(event)


@given(instances(ev.Response))
def test_a_packed_response_unpacks_to_an_equal_one(response: ev.Response) -> None:
    packed = pack(response)
    assert isinstance(packed, str)
    assert unpack(packed, ev.Response) == response
    assert same_json(orjson.loads(packed), orjson.loads(pack(unpack(packed, ev.Response))))
