"""Seeded mutations of protocol events, shared by the two fuzz tests.

Every mutation is a pure function of a :class:`random.Random`, so a seed replays a run. The
JSON is written with the standard library (not orjson), so integers past 64 bits, deep
nesting and other things a hostile peer may send can be produced at all.
"""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

#: Values a hostile peer puts where a field was.
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    float("1e308"),
    2**31,
    2**63 - 1,
    -(2**63),
    2**64,
    10**30,
    "",
    "x" * 2000,
    "\u0000\u2028\U0001f4a5",
    "sk-" + "A" * 40,
    [],
    {},
    [[[[[]]]]],
    {"type": {"type": {"type": None}}},
    [None] * 50,
]
UNKNOWN_TYPES = ["no.such.event", "", "response.audio.delta", "session.created", "SESSION.UPDATE"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for step in path[:-1]:
        node = node[step]
    return node


def _nested(depth: int) -> str:
    """A marker :func:`dumps` turns into arrays nested ``depth`` deep (as text: a structure
    that deep would exhaust the recursion of ``copy`` and ``json``)."""
    return f"__nested_{depth}__"


_NESTED = re.compile(r'"__nested_(\d+)__"')


def mutate_json(rng: random.Random, event: dict[str, Any]) -> Any:
    """A structural mutation of ``event`` (a copy): a field replaced, removed, added, the
    type changed, or the whole thing replaced by something that is not an event."""
    value = copy.deepcopy(event)
    paths = _paths(value)
    kind = rng.randrange(8)
    if kind == 0 and paths:  # a field gets a hostile value
        path = rng.choice(paths)
        _parent(value, path)[path[-1]] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
    elif kind == 1 and paths:  # a field goes missing
        path = rng.choice(paths)
        parent = _parent(value, path)
        del parent[path[-1]]
    elif kind == 2:  # an unknown field somewhere
        containers = [p for p in [(), *paths] if isinstance(_get(value, p), dict)]
        target = _get(value, rng.choice(containers))
        target[rng.choice(["extra", "client_secret", "type", "__proto__", "é"])] = copy.deepcopy(
            rng.choice(HOSTILE_VALUES)
        )
    elif kind == 3:  # another type, or none at all
        value["type"] = rng.choice([*UNKNOWN_TYPES, 7, None, ["session.update"]])
    elif kind == 4:  # nesting past any parser's depth limit
        value[rng.choice(["extra", "type", "session"])] = _nested(rng.choice([100, 1100, 3000]))
    elif kind == 5:  # not an object
        return rng.choice([[value], "session.update", 42, None, [], "", [[]]])
    elif kind == 6 and paths:  # an index, count or duration far out of range
        numeric = [p for p in paths if isinstance(_get(value, p), int | float)]
        if numeric:
            path = rng.choice(numeric)
            _parent(value, path)[path[-1]] = rng.choice([-1, 2**31, 2**62, 10**6, -(2**63)])
        else:
            value["content_index"] = 2**62
    else:  # two mutations
        return mutate_json(rng, mutate_json_object(rng, value))
    return value


def mutate_json_object(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    """Like :func:`mutate_json`, but always an object (for chaining)."""
    for _ in range(10):
        mutated = mutate_json(rng, event)
        if isinstance(mutated, dict):
            return mutated
    return event


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for step in path:
        node = node[step]
    return node


def dumps(value: Any) -> str:
    """JSON text of ``value`` (big integers and deep nesting allowed)."""
    text = json.dumps(value, ensure_ascii=False)
    return _NESTED.sub(lambda m: "[" * int(m[1]) + "1" + "]" * int(m[1]), text)


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """A byte-level mutation: cut short, a byte changed, bytes inserted or repeated."""
    if not data:
        return bytes([rng.randrange(256)])
    kind = rng.randrange(5)
    at = rng.randrange(len(data))
    if kind == 0:
        return data[:at]
    if kind == 1:
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if kind == 2:
        return (
            data[:at]
            + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\u", b'"', b"\x00"])
            + data[at:]
        )
    if kind == 3:
        return data[:at] + data[at : at + 16] * rng.randrange(2, 6) + data[at + 16 :]
    return data.replace(b'"', b"'", rng.randrange(1, 4))


def mutated_message(rng: random.Random, event: dict[str, Any]) -> bytes:
    """One mutated event as the UTF-8 (or not) payload of a text frame."""
    if rng.random() < 0.7:
        return dumps(mutate_json(rng, event)).encode("utf-8", "surrogatepass")
    return mutate_bytes(rng, dumps(event).encode())
