"""Every event and nested object of the Realtime API (beta v1, and the GA-only server events),
and the type registries."""

from __future__ import annotations

from typing import Final, TypeAlias

from . import _client, _ga, _server
from ._base import (
    NO_EXTRA,
    ClientEvent,
    Event,
    Model,
    ServerEvent,
    UnknownEvent,
    decode_audio,
    encode_audio,
)
from ._client import *  # noqa: F403
from ._ga import *  # noqa: F403
from ._objects import *  # noqa: F403
from ._server import *  # noqa: F403


def _registry(module: object, base: type[Event]) -> dict[str, type[Event]]:
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, base) and value is not base
    ]
    return {cls.type: cls for cls in sorted(classes, key=lambda cls: cls.type)}


#: Every client event class, keyed by its wire ``type``.
CLIENT_EVENTS: Final[dict[str, type[ClientEvent]]] = _registry(_client, ClientEvent)  # type: ignore[assignment]
#: Every server event class, keyed by its wire ``type``.
SERVER_EVENTS: Final[dict[str, type[ServerEvent]]] = _registry(_server, ServerEvent)  # type: ignore[assignment]
#: The server events only the GA dialect has (no beta counterpart), keyed by wire ``type``.
GA_SERVER_EVENTS: Final[dict[str, type[ServerEvent]]] = _registry(_ga, ServerEvent)  # type: ignore[assignment]

#: Anything :func:`trio_realtime.decode` can return.
AnyEvent: TypeAlias = Event | UnknownEvent

__all__ = [
    "CLIENT_EVENTS",
    "GA_SERVER_EVENTS",
    "NO_EXTRA",
    "SERVER_EVENTS",
    "AnyEvent",
    "ClientEvent",
    "Event",
    "Model",
    "ServerEvent",
    "UnknownEvent",
    "decode_audio",
    "encode_audio",
]
