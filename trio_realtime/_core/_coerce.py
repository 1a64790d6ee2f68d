"""The openai SDK's dict shapes, structured into this library's classes.

Code written for the openai SDK passes plain dicts: ``update_session({"modalities": ["text"]})``,
``create_item({"type": "message", ...})``, ``send({"type": "response.create"})``. Those dicts
are the wire JSON, so the codec's converter structures them exactly as it decodes a frame:
strict primitives, ``None`` kept as an explicit ``null``, unknown fields kept in ``extra``, and
one :class:`~trio_realtime.ProtocolError` naming the event and the field path on a mismatch
(``session.update: session.turn_detection.type: expected str, got int``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ._codec import converter
from ._errors import ProtocolError
from ._events import CLIENT_EVENTS, SERVER_EVENTS, ClientEvent, UnknownEvent

__all__ = ["client_event", "structured"]

_T = TypeVar("_T")


def structured(value: object, cls: type[_T], *, event_type: str, field: str) -> _T:
    """``value`` if it is a ``cls``, else the ``cls`` a JSON-shaped mapping describes.

    Args:
        value: A ``cls`` instance or a mapping in the wire's JSON shape.
        cls: The class expected (``Session``, ``ConversationItem``, ``ResponseConfig``...).
        event_type: The wire type of the event it goes into, for error messages.
        field: The field of that event it fills (``"session"``, ``"item"``...).

    Raises:
        ProtocolError: The mapping does not fit ``cls``; the message names ``event_type``
            and the path below ``field``.
        TypeError: ``value`` is neither a ``cls`` nor a mapping.
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{event_type}: {field} must be a {cls.__name__} or a dict, not {type(value).__name__}"
        )
    try:
        return converter.structure(dict(value), cls)
    except ProtocolError as exc:
        path = f"{field}.{exc.path}" if exc.path else field
        raise ProtocolError(exc.reason, event_type=event_type, path=path) from None


def client_event(value: Mapping[str, Any]) -> ClientEvent | UnknownEvent:
    """The client event a JSON-shaped mapping describes (``{"type": "session.update", ...}``).

    A ``type`` this library does not model becomes an :class:`UnknownEvent` carrying the
    mapping as it is, so it can still be sent.

    Raises:
        ProtocolError: A known client event's field does not fit, or ``type`` is missing
            or not a string.
        TypeError: ``type`` names a server event.
    """
    event_type = value.get("type")
    if not isinstance(event_type, str):
        raise ProtocolError("the 'type' field is missing or not a string")
    cls = CLIENT_EVENTS.get(event_type)
    if cls is None:
        if event_type in SERVER_EVENTS:
            raise TypeError(f"{event_type!r} is a server event; send() takes client events")
        return UnknownEvent(raw=dict(value))
    body = {key: item for key, item in value.items() if key != "type"}
    try:
        return converter.structure(body, cls)
    except ProtocolError as exc:
        raise ProtocolError(exc.reason, event_type=event_type, path=exc.path) from None
