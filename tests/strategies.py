"""Hypothesis strategies for the protocol: wire JSON from the catalog, and model instances.

Two independent sources, so the codec is checked against something it did not generate:

* :func:`wire_event` builds raw JSON objects from the catalog's field notation (omitted
  fields, explicit nulls, unknown extra fields included);
* :func:`instances` builds attrs instances from the classes' type hints.
"""

from __future__ import annotations

import string
import typing
from typing import Any, Literal, Union

import attrs
from hypothesis import strategies as st
from protocol_data import catalog, catalog_server_events

from trio_realtime import UNSET
from trio_realtime._core._unset import UnsetType

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=12)
JSON_SCALARS = st.none() | st.booleans() | INT64 | FLOATS | TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=6,
)
EXTRA_KEYS = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).map(
    lambda key: "x_" + key
)


def split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` outside ``<...>`` brackets."""
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_field(spec: str) -> tuple[str, bool]:
    """``"map<string, string>, optional"`` → (``"map<string, string>"``, False)."""
    notation, _, requirement = spec.rpartition(", ")
    if "(" in notation:  # "TranscriptionSession (client_secret absent over WebSocket)"
        notation = notation[: notation.index("(")].strip()
    return notation, requirement == "required"


def type_strategy(notation: str, *, schema_friendly: bool) -> st.SearchStrategy[Any]:
    """A strategy for one catalog type notation."""
    options = split_top(notation, "|")
    literals = [o[1:-1] for o in options if o.startswith('"')]
    others = [o for o in options if not o.startswith('"')]
    if schema_friendly and literals and others == ["string"]:
        others = []  # ``string | "alloy" | ...``: the spec lists the enum.
    strategies = [st.sampled_from(literals)] if literals else []
    strategies += [_single(o, schema_friendly=schema_friendly) for o in others]
    return st.one_of(strategies)


def _single(notation: str, *, schema_friendly: bool) -> st.SearchStrategy[Any]:
    if notation == "string":
        return TEXT
    if notation == "integer":
        return st.integers(min_value=0, max_value=10_000) if schema_friendly else INT64
    if notation == "number":
        if schema_friendly:
            return st.floats(min_value=0, max_value=1, allow_nan=False)
        return FLOATS | INT64
    if notation == "boolean":
        return st.booleans()
    if notation == "any":
        # The spec types ``parameters`` / ``metadata`` as objects; the SDK accepts any value.
        return st.dictionaries(TEXT, JSON_VALUES, max_size=3) if schema_friendly else JSON_VALUES
    if notation.startswith("array<"):
        return st.lists(type_strategy(notation[6:-1], schema_friendly=schema_friendly), max_size=3)
    if notation.startswith("map<"):
        _, value = split_top(notation[4:-1], ",")
        return st.dictionaries(
            TEXT, type_strategy(value, schema_friendly=schema_friendly), max_size=3
        )
    return object_strategy(notation, schema_friendly=schema_friendly)


def _fields_strategy(
    fields: dict[str, str], *, extra: bool, schema_friendly: bool, nulls: bool
) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, spec in fields.items():
        notation, is_required = parse_field(spec)
        value = type_strategy(notation, schema_friendly=schema_friendly)
        if is_required:
            required[name] = value
        else:
            optional[name] = (value | st.none()) if nulls else value
    base = st.fixed_dictionaries(required, optional=optional)
    if not extra:
        return base
    extras = st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=2)
    return st.tuples(base, extras).map(lambda pair: {**pair[1], **pair[0]})


def object_strategy(name: str, *, schema_friendly: bool = False) -> st.SearchStrategy[Any]:
    """Raw JSON for one catalog object, by its catalog name."""
    fields = catalog()["objects"][name]["fields"]
    return st.deferred(
        lambda: _fields_strategy(
            fields,
            extra=not schema_friendly,
            schema_friendly=schema_friendly,
            nulls=not schema_friendly,
        )
    )


def event_catalog(event_type: str) -> dict[str, str]:
    """The catalog field map of one client or server event."""
    events = {**catalog()["client_events"], **catalog_server_events()}
    return events[event_type]["fields"]  # type: ignore[no-any-return]


# Optional in the SDK, required by the 2025 spec (which the server follows).
SPEC_REQUIRED = {
    ("conversation.item.created", "previous_item_id"),
    ("input_audio_buffer.committed", "previous_item_id"),
}


def wire_event(
    event_type: str, *, extra: bool = True, schema_friendly: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """Raw wire JSON for one event type, as a server or client could send it.

    With ``schema_friendly`` the values also satisfy the 2025 spec schemas: enum values only,
    small non-negative numbers, no nulls, no unknown fields, spec-required fields present.
    """
    fields = {k: v for k, v in event_catalog(event_type).items() if k != "type"}
    if schema_friendly:
        fields = {
            k: v.replace(", optional", ", required") if (event_type, k) in SPEC_REQUIRED else v
            for k, v in fields.items()
        }
    return _fields_strategy(
        fields, extra=extra, schema_friendly=schema_friendly, nulls=not schema_friendly
    ).map(lambda obj: {**obj, "type": event_type})


# --- model instances from type hints ---------------------------------------------------------


def _for_annotation(tp: Any) -> st.SearchStrategy[Any]:
    if tp is Any:
        return JSON_VALUES
    origin = typing.get_origin(tp)
    if origin in (Union, __import__("types").UnionType):
        return st.one_of([_for_annotation(a) for a in typing.get_args(tp)])
    if tp is UnsetType or (origin is Literal and typing.get_args(tp) == (UNSET,)):
        return st.just(UNSET)
    if origin is Literal:
        return st.sampled_from(typing.get_args(tp))
    if tp is type(None):
        return st.none()
    if origin is list:
        return st.lists(_for_annotation(typing.get_args(tp)[0]), max_size=3)
    if origin is dict:
        key, value = typing.get_args(tp)
        # A dict whose "type" names a known usage kind would decode to that class instead.
        return st.dictionaries(_for_annotation(key), _for_annotation(value), max_size=3).filter(
            lambda d: d.get("type") not in ("tokens", "duration")
        )
    if tp is str:
        return TEXT
    if tp is int:
        return INT64
    if tp is float:
        return FLOATS
    if tp is bool:
        return st.booleans()
    if isinstance(tp, type) and attrs.has(tp):
        return st.deferred(lambda: instances(tp))
    raise TypeError(tp)


def instances(cls: type) -> st.SearchStrategy[Any]:
    """Instances of a model or event class, with unknown ``extra`` fields now and then."""
    hints = typing.get_type_hints(cls)
    field_names = {f.name for f in attrs.fields(cls)} | {"type"}
    kwargs = {
        f.name: _for_annotation(hints[f.name]) for f in attrs.fields(cls) if f.name != "extra"
    }
    extras = st.dictionaries(
        EXTRA_KEYS.filter(lambda k: k not in field_names), JSON_VALUES, max_size=2
    )
    return st.builds(cls, extra=extras, **kwargs)
