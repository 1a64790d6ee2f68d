"""The GA dialect's codec: GA frames to the library's event classes and back.

A separate layer over :mod:`.._codec`: the beta path (:func:`~.._codec.decode`,
:func:`~.._codec.encode`) is untouched and pays nothing for it. Per wire type, decoding is the
codec's own generated structure function, preceded by a shape translation
(:mod:`._ga_shapes`) only for the events that carry a session, a response or an item; the
streamed deltas (``response.output_audio.delta`` and the like) are only renamed, so they cost
what their beta twins cost. Encoding is the generated unstructure function, followed by a
rename and, for the same few events, the translation back.

The decoders:

* :func:`decode_server_event`, for a client: every GA server event, into the beta class of
  the same meaning (``conversation.item.added`` is a
  :class:`~trio_realtime.events.ConversationItemCreated`, ``response.output_text.delta`` a
  :class:`~trio_realtime.events.ResponseTextDelta`, a ``session.created`` whose
  ``session.type`` is ``transcription`` a
  :class:`~trio_realtime.events.TranscriptionSessionCreated``...), the GA-only ones into their
  own classes (:data:`~trio_realtime.events.GA_SERVER_EVENTS`); the beta names are accepted
  too, for servers that still send some of them. Lenient shapes.
* :func:`decode_client_event`, for a server: the 11 GA client events, strict shapes, so a GA
  client's beta-only field is refused as a GA server refuses it;
  :func:`decode_sent_event` reads the same events leniently (recordings).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

import orjson

from .._codec import (
    _FieldError,
    _json_type,
    structure_function,
    type_field_error,
    unstructure_function,
)
from .._errors import ProtocolError
from .._events import (
    CLIENT_EVENTS,
    GA_SERVER_EVENTS,
    SERVER_EVENTS,
    Event,
    UnknownEvent,
)
from .._events._client import (
    ConversationItemCreate,
    ResponseCreate,
    SessionUpdate,
    TranscriptionSessionUpdate,
)
from .._events._ga import ConversationItemDone
from .._events._server import (
    ConversationItemCreated,
    ConversationItemRetrieved,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseTextDelta,
    ResponseTextDone,
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)
from ._ga_shapes import (
    config_from_ga,
    config_to_ga,
    ga_path,
    item_from_ga,
    item_to_ga,
    response_from_ga,
    response_to_ga,
    session_from_ga,
    session_to_ga,
)

__all__ = [
    "GA_CLIENT_EVENT_TYPES",
    "GA_NAMES",
    "decode_client_event",
    "decode_sent_event",
    "decode_server_event",
    "encode",
    "to_json_dict",
]

_Json = dict[str, Any]
_Decoder = Callable[[_Json], Event]
_Encoder = Callable[[Any], _Json]

#: The GA wire name of each beta server event that GA renamed.
GA_NAMES: Final[dict[type[Event], str]] = {
    ResponseTextDelta: "response.output_text.delta",
    ResponseTextDone: "response.output_text.done",
    ResponseAudioDelta: "response.output_audio.delta",
    ResponseAudioDone: "response.output_audio.done",
    ResponseAudioTranscriptDelta: "response.output_audio_transcript.delta",
    ResponseAudioTranscriptDone: "response.output_audio_transcript.done",
    ConversationItemCreated: "conversation.item.added",
    TranscriptionSessionCreated: "session.created",
    TranscriptionSessionUpdated: "session.updated",
    TranscriptionSessionUpdate: "session.update",
}

#: The 11 client event types of the GA protocol (beta's 12 but ``transcription_session.update``).
GA_CLIENT_EVENT_TYPES: Final = tuple(
    t for t in CLIENT_EVENTS if t != "transcription_session.update"
)

_SESSION_KINDS: Final = ("realtime", "transcription")

# --- decoding ------------------------------------------------------------------------------------


def _translated(cls: type[Event], field: str, shape: Callable[..., Any]) -> _Decoder:
    """A decoder that reshapes ``obj[field]`` with ``shape`` (when it is an object)."""
    structure = structure_function(cls)

    def decode(obj: _Json) -> Event:
        value = obj.get(field)
        if type(value) is dict:
            shape(value)  # in place
        return structure(obj)  # type: ignore[no-any-return]

    return decode


def _item_event(cls: type[Event], *, strict: bool = False) -> _Decoder:
    structure = structure_function(cls)

    def decode(obj: _Json) -> Event:
        item_from_ga(obj.get("item"), "item", strict=strict)  # in place
        return structure(obj)  # type: ignore[no-any-return]

    return decode


def _session_event(realtime: type[Event], transcription: type[Event], *, strict: bool) -> _Decoder:
    """A session event: ``session.type`` picks the class (a conversation session when it is
    absent, unless ``strict``: a GA ``session.update`` must say which)."""
    structures = {
        "realtime": structure_function(realtime),
        "transcription": structure_function(transcription),
    }

    def decode(obj: _Json) -> Event:
        session = obj.get("session")
        kind = "realtime"
        if type(session) is dict:
            given = session.get("type", None if strict else "realtime")
            if given in _SESSION_KINDS:
                kind = given
            elif strict:
                if given is None:
                    raise ProtocolError("missing required field", path="session.type")
                raise ProtocolError(
                    f"Invalid value: '{given}'. Supported values are: 'realtime' and "
                    "'transcription'.",
                    path="session.type",
                )
            session_from_ga(session, strict=strict)  # in place
        return structures[kind](obj)  # type: ignore[no-any-return]

    return decode


def _response_create(obj: _Json, *, strict: bool) -> Event:
    config = obj.get("response")
    if type(config) is dict:
        config_from_ga(config, strict=strict)  # in place
    return _RESPONSE_CREATE(obj)  # type: ignore[no-any-return]


_RESPONSE_CREATE: Final = structure_function(ResponseCreate)


def _server_decoders() -> dict[str, Callable[[], _Decoder]]:
    """How to make the decoder of each server type (made on first use, like the codec's)."""
    makers: dict[str, Callable[[], _Decoder]] = {}
    for beta_type, cls in SERVER_EVENTS.items():  # the beta names: accepted as well
        makers[beta_type] = functools.partial(structure_function, cls)
    for renamed, name in GA_NAMES.items():
        if name.startswith("response."):
            makers[name] = functools.partial(structure_function, renamed)
    for with_item in (
        ConversationItemCreated,
        ConversationItemRetrieved,
        ConversationItemDone,
        ResponseOutputItemAdded,
        ResponseOutputItemDone,
    ):
        makers[with_item.type] = functools.partial(_item_event, with_item)
    makers["conversation.item.added"] = functools.partial(_item_event, ConversationItemCreated)
    for with_response in (ResponseCreated, ResponseDone):
        makers[with_response.type] = functools.partial(
            _translated, with_response, "response", response_from_ga
        )
    for ga_type, ga_only in GA_SERVER_EVENTS.items():
        if ga_only is not ConversationItemDone:
            makers[ga_type] = functools.partial(structure_function, ga_only)
    makers["session.created"] = functools.partial(
        _session_event, SessionCreated, TranscriptionSessionCreated, strict=False
    )
    makers["session.updated"] = functools.partial(
        _session_event, SessionUpdated, TranscriptionSessionUpdated, strict=False
    )
    return makers


def _client_decoders(strict: bool) -> dict[str, Callable[[], _Decoder]]:
    makers: dict[str, Callable[[], _Decoder]] = {
        ga_type: functools.partial(structure_function, CLIENT_EVENTS[ga_type])
        for ga_type in GA_CLIENT_EVENT_TYPES
    }
    makers["session.update"] = functools.partial(
        _session_event, SessionUpdate, TranscriptionSessionUpdate, strict=strict
    )
    makers["conversation.item.create"] = functools.partial(
        _item_event, ConversationItemCreate, strict=strict
    )
    makers["response.create"] = lambda: functools.partial(_response_create, strict=strict)
    return makers


class _Decoders:
    """Decoders by wire type, each made the first time its type arrives."""

    __slots__ = ("_makers", "made")

    def __init__(self, makers: dict[str, Callable[[], _Decoder]]) -> None:
        self._makers = makers
        self.made: dict[str, _Decoder] = {}

    def make(self, event_type: str) -> _Decoder | None:
        maker = self._makers.get(event_type)
        if maker is None:
            return None
        decoder = self.made[event_type] = maker()
        return decoder


_SERVER: Final = _Decoders(_server_decoders())
_CLIENT: Final = _Decoders(_client_decoders(strict=True))
_SENT: Final = _Decoders(_client_decoders(strict=False))
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def _decode(data: str | bytes, table: _Decoders) -> Event | UnknownEvent:
    try:
        obj = _loads(data)
    except _JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None
    if type(obj) is not dict:
        raise ProtocolError(f"expected a JSON object, got {_json_type(obj)}")
    event_type = obj.get("type")
    decoder = table.made.get(event_type) if type(event_type) is str else None
    if decoder is None:
        if type(event_type) is not str:
            raise type_field_error(obj)
        decoder = table.make(event_type)
        if decoder is None:
            return UnknownEvent(raw=obj)
    try:
        return decoder(obj)
    except _FieldError as exc:
        raise ProtocolError(exc.reason, event_type=event_type, path=ga_path(exc.path())) from None
    except ProtocolError as exc:  # a shape the translation refused (strict)
        raise ProtocolError(exc.reason, event_type=event_type, path=exc.path) from None


def decode_server_event(data: str | bytes) -> Event | UnknownEvent:
    """Decode one GA server frame (what a client receives); see the module docstring.

    Raises:
        ProtocolError: As :func:`trio_realtime.decode`, with GA field paths.
    """
    return _decode(data, _SERVER)


def decode_client_event(data: str | bytes) -> Event | UnknownEvent:
    """Decode one GA client frame (what a server receives), strictly.

    Raises:
        ProtocolError: As :func:`trio_realtime.decode`, with GA field paths; also for a
            field the GA shape lacks (reason :data:`~._ga_shapes.UNKNOWN_FIELD`), a value GA
            does not accept (a reason starting ``Invalid value``), and a ``session.update``
            without ``session.type``.
    """
    return _decode(data, _CLIENT)


def decode_sent_event(data: str | bytes) -> Event | UnknownEvent:
    """Decode one GA client frame leniently: what a client sent, read back from a recording
    (a field a GA server would refuse stays, as the client sent it)."""
    return _decode(data, _SENT)


# --- encoding ------------------------------------------------------------------------------------


def _reshaped(cls: type[Event], field: str, shape: Callable[[Any], Any], name: str) -> _Encoder:
    unstructure = unstructure_function(cls, wire_type=name)

    def encode(event: Any) -> _Json:
        d: _Json = unstructure(event)
        value = d.get(field)
        if type(value) is dict:
            d[field] = shape(value)
        return d

    return encode


def _encoder_maker(cls: type[Any]) -> _Encoder:
    """The GA encoder of ``cls`` (the codec's unstructure function when nothing changes)."""
    name = GA_NAMES.get(cls, getattr(cls, "type", ""))
    if cls in (SessionUpdate, SessionCreated, SessionUpdated):
        return _reshaped(cls, "session", lambda s: session_to_ga(s, "realtime"), name)
    if cls in (
        TranscriptionSessionUpdate,
        TranscriptionSessionCreated,
        TranscriptionSessionUpdated,
    ):
        return _reshaped(cls, "session", lambda s: session_to_ga(s, "transcription"), name)
    if cls in (ResponseCreated, ResponseDone):
        return _reshaped(cls, "response", response_to_ga, name)
    if cls is ResponseCreate:
        return _reshaped(cls, "response", config_to_ga, name)
    if cls in (
        ConversationItemCreate,
        ConversationItemCreated,
        ConversationItemDone,
        ConversationItemRetrieved,
        ResponseOutputItemAdded,
        ResponseOutputItemDone,
    ):
        return _reshaped(cls, "item", item_to_ga, name)
    if cls in GA_NAMES:  # renamed only: the codec's function, writing the GA name
        return unstructure_function(cls, wire_type=name)
    if cls is UnknownEvent:
        return lambda event: dict(event.raw)
    return unstructure_function(cls)


_ENCODERS: Final[dict[type[Any], _Encoder]] = {}
_dumps = orjson.dumps


def to_json_dict(event: Event | UnknownEvent) -> _Json:
    """The JSON object :func:`encode` would serialise.

    Raises:
        TypeError: ``event`` is not a protocol event.
    """
    try:
        encoder = _ENCODERS[type(event)]
    except KeyError:
        encoder = _ENCODERS[type(event)] = _encoder_maker(type(event))
    return encoder(event)


def encode(event: Event | UnknownEvent) -> str:
    """Encode an event as the text of one GA frame (the GA name and shape).

    Raises:
        TypeError: ``event`` is not a protocol event, or holds a value JSON cannot carry.
    """
    try:
        encoder = _ENCODERS[type(event)]
    except KeyError:
        encoder = _ENCODERS[type(event)] = _encoder_maker(type(event))
    try:
        return _dumps(encoder(event)).decode()
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"cannot encode {type(event).__name__}: {exc}") from None
