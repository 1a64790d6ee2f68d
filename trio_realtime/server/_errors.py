"""How the reference server refuses a client event: codes, messages and parameter paths.

A handler that refuses an event raises :class:`Refusal`; the state machine turns it into one
``error`` event (with the client's ``event_id``) and the refused event has no effect. The
messages are the ones of server-behaviour.md 6.2, verbatim where the live service's wording
was recorded; elsewhere they follow the same house style (``Invalid value: ...``,
``Invalid type for '<path>': expected ..., but got ... instead.``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import attrs
import orjson

from .._core._dialects import UNKNOWN_FIELD
from .._core._errors import ProtocolError
from .._core._events import CLIENT_EVENTS, Event, Model

__all__ = [
    "Refusal",
    "active_response",
    "binary_frame",
    "cancel_not_active",
    "cannot_update_voice",
    "commit_too_small",
    "connection_refusal",
    "first_unknown_field",
    "from_decode_error",
    "invalid_enum",
    "invalid_type",
    "invalid_value",
    "missing_parameter",
    "quote_list",
    "respelled",
    "session_expired",
    "undecodable",
    "unknown_parameter",
    "unknown_type",
    "wrong_session_kind",
]

INVALID_REQUEST: Final = "invalid_request_error"


class Refusal(Exception):
    """A client event is refused; becomes one ``error`` event and changes nothing.

    Attributes:
        code: ``error.code`` (may be ``None``).
        message: ``error.message``.
        param: ``error.param``: a dotted path into the refused event, or ``None``.
        error_type: ``error.type``; ``invalid_request_error`` for client mistakes.
    """

    def __init__(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        *,
        error_type: str = INVALID_REQUEST,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type


def quote_list(values: Iterable[str]) -> str:
    """``'a', 'b', and 'c'``: how the service lists accepted values."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def unknown_parameter(path: str) -> Refusal:
    """An unknown field at ``path``."""
    return Refusal("unknown_parameter", f"Unknown parameter: '{path}'.", path)


def missing_parameter(path: str) -> Refusal:
    """A required field absent at ``path`` (6.2 wording, no final period)."""
    return Refusal("missing_required_parameter", f"Missing required parameter: '{path}'", path)


def invalid_type(path: str, expected: str, got: object) -> Refusal:
    """A JSON value of the wrong type at ``path``; ``expected`` reads like ``a string``."""
    return Refusal(
        "invalid_type",
        f"Invalid type for '{path}': expected {expected}, but got {_json_name(got)} instead.",
        path,
    )


def invalid_value(path: str | None, message: str) -> Refusal:
    """A well-typed value the server does not accept."""
    return Refusal("invalid_value", message, path)


def invalid_enum(path: str, value: object, allowed: Sequence[str]) -> Refusal:
    """A value outside an enumeration, in the service's wording."""
    return invalid_value(
        path, f"Invalid value: '{value}'. Supported values are: {quote_list(allowed)}."
    )


def respelled(refusal: Refusal, spell: Callable[[str], str]) -> Refusal:
    """``refusal`` with its ``param`` (and the quoted path in its message) as ``spell`` writes
    it: a GA client is told ``session.audio.input.turn_detection.threshold``, not the beta
    path of the class the rules checked."""
    param = refusal.param
    if param is None or spell(param) == param:
        return refusal
    spelled = spell(param)
    message = refusal.message.replace(f"'{param}'", f"'{spelled}'")
    return Refusal(refusal.code, message, spelled, error_type=refusal.error_type)


def wrong_session_kind(asked: str, *, transcription: bool, ga: bool) -> Refusal:
    """A session update of the other kind than the connection's (``asked``: ``realtime`` or
    ``transcription``). Beta has two events and names the other; GA has one whose
    ``session.type`` is wrong [inf]."""
    if ga:
        kind = "transcription" if transcription else "realtime"
        return invalid_value(
            "session.type",
            f"Invalid value: '{asked}'. This connection is a {kind} session "
            "(chosen by ?intent= / ?model= when connecting).",
        )
    if transcription:
        return invalid_value(
            "type",
            "session.update is not supported in transcription sessions; "
            "use transcription_session.update.",
        )
    return invalid_value(
        "type",
        "transcription_session.update is only supported in transcription sessions "
        "(?intent=transcription); use session.update.",
    )


def cannot_update_voice() -> Refusal:
    """A voice change once assistant audio exists (4.7; ``param`` null)."""
    return Refusal(
        "cannot_update_voice", "Cannot update a conversation's voice if assistant audio is present."
    )


def unknown_type(event_type: str, client_types: Sequence[str] = tuple(CLIENT_EVENTS)) -> Refusal:
    """An event ``type`` that is not one of the client events (param ``type``): the 12 of
    beta, or the 11 of GA (``client_types``)."""
    return invalid_enum("type", event_type, list(client_types))


_NAMES: Final = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "float": "a decimal",
    "bool": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _json_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return "an object"


_TYPE_REASON: Final = re.compile(r"expected (?P<expected>.+), got (?P<got>\w+)$")


def from_decode_error(exc: ProtocolError) -> Refusal:
    """Translate the codec's complaint about a known client event into the service's error.

    A missing field is ``missing_required_parameter``, a wrong JSON type ``invalid_type``;
    ``param`` is the event-relative dotted path the codec reports. The GA decoder adds two
    more: a field the GA shape lacks (``unknown_parameter``) and a value it does not accept
    (``invalid_value``, its message as the decoder wrote it).
    """
    path = exc.path or "event"
    if exc.reason == "missing required field":
        return missing_parameter(path)
    if exc.reason == UNKNOWN_FIELD:
        return unknown_parameter(path)
    if exc.reason.startswith("Invalid value"):
        return invalid_value(path, exc.reason)
    match = _TYPE_REASON.match(exc.reason)
    if match is None:  # pragma: no cover - the decoders have only the reasons above
        return invalid_value(path, f"Invalid value for '{path}': {exc.reason}.")
    expected = " or ".join(_NAMES.get(n, n) for n in match["expected"].split(" or "))
    got = _NAMES.get(match["got"], match["got"])
    return Refusal(
        "invalid_type",
        f"Invalid type for '{path}': expected {expected}, but got {got} instead.",
        path,
    )


#: Late-beta fields the server sends (``prompt``, ``turn_detection.idle_timeout_ms``) but the
#: SDK types never had: known, so a client echoing a session back is not told they are
#: unknown; the session configuration decides what their values mean.
LATE_BETA_FIELDS: Final = frozenset({"session.prompt", "session.turn_detection.idle_timeout_ms"})


def first_unknown_field(obj: Event | Model, path: str = "") -> str | None:
    """The dotted path of the first field the models did not recognise, or ``None``.

    The codec keeps unknown fields in each model's ``extra``; the service refuses them at any
    depth (``session.input_audio_transcription.enabled``), :data:`LATE_BETA_FIELDS` aside.
    Fields typed ``Any`` (tool ``parameters``, tracing ``metadata``) hold free JSON and are
    not searched.
    """
    for key in obj.extra:
        where = f"{path}.{key}" if path else key
        if where not in LATE_BETA_FIELDS:
            return where
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        where = f"{path}.{field.name}" if path else field.name
        if isinstance(value, Model):
            found = first_unknown_field(value, where)
            if found is not None:
                return found
        elif type(value) is list:
            found = _first_unknown_in_list(value, where)
            if found is not None:
                return found
    return None


def _first_unknown_in_list(values: list[Any], path: str) -> str | None:
    for i, value in enumerate(values):
        if isinstance(value, Model):
            found = first_unknown_field(value, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def undecodable(
    text: str, exc: ProtocolError, client_types: Sequence[str] = tuple(CLIENT_EVENTS)
) -> tuple[Refusal, str | None]:
    """The refusal of a frame the dialect's decoder could not decode, and the client's
    ``event_id`` if the frame had a string one (``client_types``: the dialect's client
    events).

    This path parses the JSON a second time to tell the cases apart and find the
    ``event_id``; only malformed frames pay for it.
    """
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as json_error:
        return Refusal(
            "invalid_json", f"Invalid event: failed to parse JSON value. {json_error}."
        ), None
    if type(obj) is not dict:
        return Refusal("invalid_event", "Invalid event: expected a JSON object."), None
    raw_id = obj.get("event_id")
    event_id = raw_id if type(raw_id) is str else None
    event_type = obj.get("type")
    if "type" not in obj:
        return Refusal("invalid_event", "The 'type' field is missing."), event_id
    if type(event_type) is not str:
        return invalid_type("type", "a string", event_type), event_id
    if event_type not in client_types:
        return unknown_type(event_type, client_types), event_id
    return from_decode_error(exc), event_id


def binary_frame() -> Refusal:
    """A binary WebSocket frame (1.4)."""
    return Refusal(
        "invalid_event", "Expected a text WebSocket message; binary frames are not supported."
    )


def commit_too_small(ms: float, minimum: int) -> Refusal:
    """A commit of less than ``minimum`` ms of audio (5.4; the amount to two decimals)."""
    return Refusal(
        "input_audio_buffer_commit_empty",
        "Error committing input audio buffer: buffer too small. Expected at least "
        f"{minimum}ms of audio, but buffer only has {ms:.2f}ms of audio.",
    )


def active_response(response_id: str) -> Refusal:
    """A second default-conversation response while one runs (5.9)."""
    return Refusal(
        "conversation_already_has_active_response",
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one.",
    )


def cancel_not_active() -> Refusal:
    """A cancel with nothing (or not the named response) running (5.8)."""
    return Refusal("response_cancel_not_active", "Cancellation failed: no active response found")


def session_expired(seconds: float) -> Refusal:
    """The session limit (6.2): ``30 minutes``, or seconds for a limit of odd length."""
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        duration = f"{minutes} minute" + ("s" if minutes != 1 else "")
    else:
        duration = f"{seconds:g} seconds"
    return Refusal("session_expired", f"Your session hit the maximum duration of {duration}.")


def connection_refusal(
    *, transcription: bool, model: str | None, allowed: frozenset[str] | None
) -> Refusal | None:
    """Why a connection's ``intent`` / ``model`` cannot open a session (1.1), if it cannot."""
    if transcription and model is not None:
        return Refusal(
            "invalid_model", "You must not provide a model parameter for transcription sessions."
        )
    if not transcription and model is None:
        return Refusal(
            "missing_model",
            "You must provide a model parameter, for example "
            "wss://api.openai.com/v1/realtime?model=gpt-4o-realtime-preview",
        )
    if model is not None and allowed is not None and model not in allowed:
        return Refusal(
            "invalid_model", f"The model '{model}' does not exist or you do not have access to it."
        )
    return None
