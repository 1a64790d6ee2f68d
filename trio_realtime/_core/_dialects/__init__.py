"""The two wire shapes of the Realtime API, behind one set of event classes.

``beta``: the ``OpenAI-Beta: realtime=v1`` protocol the library's classes model one to one.
``ga``: the generally available protocol (no beta marker), translated to and from the same
classes at the codec boundary (:mod:`._ga_codec`, :mod:`._ga_shapes`). A session or a server
connection holds one :class:`Dialect` and calls its functions; the beta dialect's functions
*are* the codec's, so the beta path pays nothing for the translation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, TypeAlias, final

import attrs

from .._codec import decode, encode, to_json_dict
from .._events import CLIENT_EVENTS, Event, UnknownEvent
from . import _ga_codec
from ._ga_shapes import UNKNOWN_FIELD, ga_path

__all__ = [
    "BETA",
    "DIALECTS",
    "GA",
    "UNKNOWN_FIELD",
    "Dialect",
    "DialectName",
    "dialect_named",
    "ga_path",
]

#: A dialect's name, as ``connect(dialect=...)`` and ``--dialect`` take it.
DialectName: TypeAlias = Literal["beta", "ga"]

_Decode = Callable[[str | bytes], Event | UnknownEvent]


@final
@attrs.frozen
class Dialect:
    """One wire shape: how frames become events and back.

    Attributes:
        name: ``"beta"`` or ``"ga"``.
        decode_server_event: A server frame to its event (what a client does).
        decode_client_event: A client frame to its event (what a server does).
        encode: An event to the text of its frame.
        to_json_dict: An event to the JSON object :attr:`encode` writes.
        client_event_types: The client event types the dialect has, for error messages.
        path: A field path as this dialect spells it (beta paths are the classes' own).
    """

    name: DialectName
    decode_server_event: _Decode = attrs.field(repr=False)
    decode_client_event: _Decode = attrs.field(repr=False)
    encode: Callable[[Event | UnknownEvent], str] = attrs.field(repr=False)
    to_json_dict: Callable[[Event | UnknownEvent], dict[str, object]] = attrs.field(repr=False)
    client_event_types: tuple[str, ...] = attrs.field(repr=False)
    path: Callable[[str], str] = attrs.field(repr=False)


def _same(path: str) -> str:
    return path


BETA: Final = Dialect(
    name="beta",
    decode_server_event=decode,
    decode_client_event=decode,
    encode=encode,
    to_json_dict=to_json_dict,
    client_event_types=tuple(CLIENT_EVENTS),
    path=_same,
)
GA: Final = Dialect(
    name="ga",
    decode_server_event=_ga_codec.decode_server_event,
    decode_client_event=_ga_codec.decode_client_event,
    encode=_ga_codec.encode,
    to_json_dict=_ga_codec.to_json_dict,
    client_event_types=_ga_codec.GA_CLIENT_EVENT_TYPES,
    path=ga_path,
)
#: Both dialects by name.
DIALECTS: Final[dict[str, Dialect]] = {"beta": BETA, "ga": GA}


def dialect_named(name: str) -> Dialect:
    """The dialect called ``name``.

    Raises:
        ValueError: Neither ``"beta"`` nor ``"ga"``.
    """
    try:
        return DIALECTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"dialect must be 'beta' or 'ga', not {name!r}") from None
