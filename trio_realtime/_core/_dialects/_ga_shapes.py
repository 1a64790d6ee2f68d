"""The GA shapes of sessions, responses and items, as JSON, to and from the beta shapes.

Every function takes a JSON object and returns it in the other dialect's shape. The ``*_to_ga``
functions (encoding) build new objects and never modify their input, which may share values
with the event (``extra``, free JSON); the ``*_from_ga`` ones (decoding) translate in place,
since their input was just parsed and nothing else holds it (cheaper: no copies). The mapping (verified field by field against
the openai SDK 3.63's ``types/realtime/`` and ``types/beta/realtime/`` and the head OpenAPI
snapshot) is the table in README.rst, "Dialects":

=====================================  ===============================================
beta (the library's classes)           GA wire
=====================================  ===============================================
``modalities``                         ``output_modalities``
``input_audio_format: "pcm16"``        ``audio.input.format: {"type": "audio/pcm",
                                       "rate": 24000}`` (``g711_ulaw``: ``audio/pcmu``,
                                       ``g711_alaw``: ``audio/pcma``)
``output_audio_format``                ``audio.output.format``
``voice``, ``speed``                   ``audio.output.voice``, ``audio.output.speed``
``input_audio_transcription``          ``audio.input.transcription``
``input_audio_noise_reduction``        ``audio.input.noise_reduction``
``turn_detection``                     ``audio.input.turn_detection``
``max_response_output_tokens``         ``max_output_tokens`` (sessions, ``response.create``)
(the session's class)                  ``session.type``: ``realtime`` / ``transcription``
item content ``text`` / ``audio``      ``output_text`` / ``output_audio``
=====================================  ===============================================

Decoding a GA object is lenient or strict. Lenient (a client reading a server): what has no
beta place stays, in its GA shape, in the model's ``extra`` (a custom voice object, an audio
format this library does not know, ``audio.input.noise_reduction.strength``), and goes back
out in the same shape. Strict (the reference server reading a GA client): a beta-only name
(``modalities``, ``temperature``...), an unknown key of ``audio``, or an unsupported format
raises :class:`~trio_realtime.ProtocolError` with the GA path and one of the reasons
:data:`UNKNOWN_FIELD` or a message starting ``Invalid value``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .._errors import ProtocolError

__all__ = [
    "UNKNOWN_FIELD",
    "config_from_ga",
    "config_to_ga",
    "ga_path",
    "item_from_ga",
    "item_to_ga",
    "response_from_ga",
    "response_to_ga",
    "session_from_ga",
    "session_to_ga",
]

_Json = dict[str, Any]

#: The :attr:`ProtocolError.reason` of a strict decode that met a field the GA shape lacks.
UNKNOWN_FIELD: Final = "unknown field"

_FORMAT_TO_GA: Final[dict[str, _Json]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_FROM_GA: Final = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}
_FORMAT_RATES: Final = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
_CONTENT_TO_GA: Final = {"text": "output_text", "audio": "output_audio"}
_CONTENT_FROM_GA: Final = {"output_text": "text", "output_audio": "audio"}
_SESSION_KINDS: Final = ("realtime", "transcription")

#: Beta names with no place in a GA session (or ``response.create``): strict decoding refuses
#: them as unknown, as a GA server does.
_BETA_ONLY_SESSION: Final = frozenset(
    {
        "modalities",
        "voice",
        "speed",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "input_audio_noise_reduction",
        "turn_detection",
        "max_response_output_tokens",
        "temperature",
    }
)
_BETA_ONLY_CONFIG: Final = frozenset(
    {"modalities", "voice", "output_audio_format", "max_response_output_tokens", "temperature"}
)

#: Beta field paths and the GA paths they come from, for messages: ``(beta, GA)`` prefixes.
_PATHS: Final = (
    ("session.modalities", "session.output_modalities"),
    ("session.max_response_output_tokens", "session.max_output_tokens"),
    ("session.input_audio_format", "session.audio.input.format"),
    ("session.output_audio_format", "session.audio.output.format"),
    ("session.voice", "session.audio.output.voice"),
    ("session.speed", "session.audio.output.speed"),
    ("session.input_audio_transcription", "session.audio.input.transcription"),
    ("session.input_audio_noise_reduction", "session.audio.input.noise_reduction"),
    ("session.turn_detection", "session.audio.input.turn_detection"),
    ("response.modalities", "response.output_modalities"),
    ("response.max_response_output_tokens", "response.max_output_tokens"),
    ("response.voice", "response.audio.output.voice"),
    ("response.output_audio_format", "response.audio.output.format"),
)


def ga_path(path: str) -> str:
    """The GA spelling of a beta field path (``session.turn_detection.threshold`` is
    ``session.audio.input.turn_detection.threshold``); other paths are returned unchanged."""
    for beta, ga in _PATHS:
        if path.startswith(beta) and (len(path) == len(beta) or path[len(beta)] in ".["):
            return ga + path[len(beta) :]
    return path


def _json_name(value: object) -> str:
    if value is None:
        return "null"
    return {str: "str", int: "int", float: "float", bool: "bool", list: "array"}.get(
        type(value), "object"
    )


def _expected_object(value: object, path: str) -> ProtocolError:
    return ProtocolError(f"expected object, got {_json_name(value)}", path=path)


def _invalid(value: object, allowed: tuple[object, ...], path: str) -> ProtocolError:
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    if len(allowed) == 2:
        listed = f"'{allowed[0]}' and '{allowed[1]}'"
    return ProtocolError(f"Invalid value: '{value}'. Supported values are: {listed}.", path=path)


# --- audio formats -------------------------------------------------------------------------------

_KEEP: Final = object()  # "no beta value: keep the GA object where it was"


def _format_to_ga(value: object) -> object:
    if isinstance(value, str):
        known = _FORMAT_TO_GA.get(value)
        return dict(known) if known is not None else {"type": value}
    return value


def _format_from_ga(fmt: object, where: str, strict: bool) -> object:
    """The beta format name of a GA format object, ``None`` for null, or :data:`_KEEP`.

    A known format at its only rate is its beta name; ``{"type": NAME}`` of an unknown
    ``NAME`` is ``NAME`` (and goes back out as ``{"type": NAME}``); anything else is kept.
    ``where`` is the path of the object holding ``format`` (paths are made only for errors:
    this runs for every session event).
    """
    if fmt is None:
        return None
    if type(fmt) is dict:
        kind = fmt.get("type")
        name = _FORMAT_FROM_GA.get(kind) if type(kind) is str else None
        if name is not None:
            expected = _FORMAT_RATES[kind]  # type: ignore[index]
            size = len(fmt)
            if size == 1 or (size == 2 and fmt.get("rate", None) == expected):
                return name
            if strict:
                unknown = next((k for k in fmt if k not in ("type", "rate")), None)
                if unknown is not None:
                    raise ProtocolError(UNKNOWN_FIELD, path=f"{where}.format.{unknown}")
                raise ProtocolError(
                    f"Invalid value: {fmt.get('rate')!r}. Supported values are: {expected}.",
                    path=f"{where}.format.rate",
                )
        elif strict:
            raise _invalid(kind, tuple(_FORMAT_FROM_GA), f"{where}.format.type")
        elif type(kind) is str and len(fmt) == 1:
            return kind  # a format this library does not know, by its name: {"type": name}
    elif strict:
        raise _expected_object(fmt, f"{where}.format")
    return _KEEP


# --- sessions ------------------------------------------------------------------------------------


def _audio_from_ga(
    audio: object, out: _Json, path: str, strict: bool, parts: tuple[str, ...]
) -> None:
    """Move ``audio.input`` / ``audio.output`` (those of ``parts``) into ``out``'s beta
    fields; what has no beta field stays under ``out["audio"]``."""
    if type(audio) is not dict:
        if strict:
            raise _expected_object(audio, path)
        out["audio"] = audio
        return
    rest: _Json | None = None
    for part, value in audio.items():
        if part in parts and type(value) is dict:
            move = _input_from_ga if part == "input" else _output_from_ga
            left = move(value, out, path, strict)
            if left:
                if rest is None:
                    rest = {}
                rest[part] = left
        elif strict:
            if part in parts:
                raise _expected_object(value, f"{path}.{part}")
            raise ProtocolError(UNKNOWN_FIELD, path=f"{path}.{part}")
        else:
            if rest is None:
                rest = {}
            rest[part] = value
    if rest:
        out["audio"] = rest


def _input_from_ga(audio_in: _Json, out: _Json, path: str, strict: bool) -> _Json | None:
    left: _Json | None = None
    for key, value in audio_in.items():
        if key == "format":
            name = _format_from_ga(value, f"{path}.input" if strict else path, strict)
            if name is not _KEEP:
                out["input_audio_format"] = name
                continue
        elif key == "transcription":
            out["input_audio_transcription"] = value
            continue
        elif key == "noise_reduction":
            out["input_audio_noise_reduction"] = value
            continue
        elif key == "turn_detection":
            out["turn_detection"] = value
            continue
        elif strict:
            raise ProtocolError(UNKNOWN_FIELD, path=f"{path}.input.{key}")
        if left is None:
            left = {}
        left[key] = value
    return left


def _output_from_ga(audio_out: _Json, out: _Json, path: str, strict: bool) -> _Json | None:
    left: _Json | None = None
    for key, value in audio_out.items():
        if key == "format":
            name = _format_from_ga(value, f"{path}.output" if strict else path, strict)
            if name is not _KEEP:
                out["output_audio_format"] = name
                continue
        elif key == "voice" and (value is None or type(value) is str):
            out["voice"] = value
            continue
        elif key == "speed":
            out["speed"] = value
            continue
        elif strict:
            if key == "voice":  # a custom voice object: no beta place
                raise ProtocolError(
                    "Invalid value: custom voice objects are not supported; give a voice name.",
                    path=f"{path}.output.voice",
                )
            raise ProtocolError(UNKNOWN_FIELD, path=f"{path}.output.{key}")
        if left is None:
            left = {}
        left[key] = value
    return left


def session_from_ga(session: _Json, path: str = "session", *, strict: bool = False) -> _Json:
    """A GA session object (realtime or transcription) in the beta shape, *in place*.

    ``type`` (``realtime`` / ``transcription``) is dropped: the event class says it.
    """
    if strict:
        for key in session:
            if key in _BETA_ONLY_SESSION:
                raise ProtocolError(UNKNOWN_FIELD, path=f"{path}.{key}")
    _rename(session, "output_modalities", "modalities")
    _rename(session, "max_output_tokens", "max_response_output_tokens")
    if session.get("type", None) in _SESSION_KINDS:
        del session["type"]
    if "audio" in session:
        _audio_from_ga(session.pop("audio"), session, f"{path}.audio", strict, ("input", "output"))
    return session


def _rename(obj: _Json, old: str, new: str) -> None:
    if old in obj:
        obj[new] = obj.pop(old)


def _merge(base: object, changes: _Json) -> _Json:
    """``changes`` laid over ``base`` (a kept GA leftover), one level of dicts deep."""
    if type(base) is not dict:
        return changes
    merged = dict(base)
    for key, value in changes.items():
        old = merged.get(key)
        merged[key] = {**old, **value} if type(old) is dict and type(value) is dict else value
    return merged


def session_to_ga(session: _Json, kind: str) -> _Json:
    """A beta session object as the GA session of ``kind`` (``realtime`` / ``transcription``)."""
    out: _Json = {"type": kind}
    audio_in: _Json = {}
    audio_out: _Json = {}
    kept: object = None
    for key, value in session.items():
        if key == "modalities":
            out["output_modalities"] = value
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key == "input_audio_format":
            audio_in["format"] = _format_to_ga(value)
        elif key == "output_audio_format":
            audio_out["format"] = _format_to_ga(value)
        elif key == "voice":
            audio_out["voice"] = value
        elif key == "speed":
            audio_out["speed"] = value
        elif key == "input_audio_transcription":
            audio_in["transcription"] = value
        elif key == "input_audio_noise_reduction":
            audio_in["noise_reduction"] = value
        elif key == "turn_detection":
            audio_in["turn_detection"] = value
        elif key == "audio":
            kept = value
        else:
            out[key] = value
    if audio_in or audio_out or kept is not None:
        audio: _Json = {}
        if audio_in:
            audio["input"] = audio_in
        if audio_out:
            audio["output"] = audio_out
        out["audio"] = _merge(kept, audio) if kept is not None else audio
    return out


# --- items ---------------------------------------------------------------------------------------


def _map_content(item: object, names: dict[str, str]) -> object:
    """``item`` with its content types renamed by ``names`` (the same object if none is)."""
    if type(item) is not dict:
        return item
    content = item.get("content")
    if type(content) is not list:
        return item
    parts = None
    for index, part in enumerate(content):
        kind = part.get("type") if type(part) is dict else None
        renamed = names.get(kind) if type(kind) is str else None
        if renamed is not None:
            if parts is None:
                parts = list(content)
            parts[index] = {**part, "type": renamed}
    return item if parts is None else {**item, "content": parts}


def _rename_content(item: object, names: dict[str, str]) -> object:
    """:func:`_map_content` *in place*: for JSON just decoded, which nothing else holds."""
    content = item.get("content") if type(item) is dict else None
    if type(content) is list:
        for part in content:
            if type(part) is dict:
                kind = part.get("type")
                if type(kind) is str and kind in names:
                    part["type"] = names[kind]
    return item


def item_to_ga(item: object) -> object:
    """A beta item with assistant content types ``text`` / ``audio`` renamed for GA."""
    return _map_content(item, _CONTENT_TO_GA)


def item_from_ga(item: object, path: str = "item", *, strict: bool = False) -> object:
    """A GA item with ``output_text`` / ``output_audio`` content renamed for beta, in place.

    Strict: the beta names ``text`` / ``audio`` are refused (not GA content types).
    """
    if strict and type(item) is dict:
        content = item.get("content")
        if type(content) is list:
            for index, part in enumerate(content):
                kind = part.get("type") if type(part) is dict else None
                if kind in _CONTENT_TO_GA:
                    raise _invalid(
                        kind,
                        ("input_text", "input_audio", "input_image", "output_text", "output_audio"),
                        f"{path}.content[{index}].type",
                    )
    return _rename_content(item, _CONTENT_FROM_GA)


def _items(items: object, convert: Callable[[object], object]) -> object:
    return [convert(item) for item in items] if type(items) is list else items


# --- responses and response.create ---------------------------------------------------------------


def response_from_ga(response: _Json) -> _Json:
    """A GA response object (``response.created`` / ``.done``) in the beta shape, in place."""
    _rename(response, "output_modalities", "modalities")
    if "audio" in response:
        _audio_from_ga(response.pop("audio"), response, "response.audio", False, ("output",))
    output = response.get("output")
    if type(output) is list:
        for item in output:
            _rename_content(item, _CONTENT_FROM_GA)
    return response


def _config_audio_to_ga(audio_out: _Json, kept: object, out: _Json) -> None:
    if audio_out or kept is not None:
        audio: _Json = {"output": audio_out} if audio_out else {}
        out["audio"] = _merge(kept, audio) if kept is not None else audio


def response_to_ga(response: _Json) -> _Json:
    """A beta response object in the GA shape."""
    return _response_shape_to_ga(response, "output")


def config_from_ga(config: _Json, path: str = "response", *, strict: bool = False) -> _Json:
    """The GA ``response`` of ``response.create`` in the beta shape, in place."""
    if strict:
        for key in config:
            if key in _BETA_ONLY_CONFIG:
                raise ProtocolError(UNKNOWN_FIELD, path=f"{path}.{key}")
    _rename(config, "output_modalities", "modalities")
    _rename(config, "max_output_tokens", "max_response_output_tokens")
    if "audio" in config:
        _audio_from_ga(config.pop("audio"), config, f"{path}.audio", strict, ("output",))
    items = config.get("input")
    if type(items) is list:
        for i, item in enumerate(items):
            item_from_ga(item, f"{path}.input[{i}]", strict=strict)
    return config


def config_to_ga(config: _Json) -> _Json:
    """The beta ``response`` of ``response.create`` in the GA shape."""
    return _response_shape_to_ga(config, "input")


def _response_shape_to_ga(beta: _Json, items_key: str) -> _Json:
    """A response object (its items under ``output``) or a response request (``input``): the
    two share their renames (modalities, token limit, voice and format under ``audio``)."""
    out: _Json = {}
    audio_out: _Json = {}
    kept: object = None
    for key, value in beta.items():
        if key == "modalities":
            out["output_modalities"] = value
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key == "voice":
            audio_out["voice"] = value
        elif key == "output_audio_format":
            audio_out["format"] = _format_to_ga(value)
        elif key == items_key:
            out[key] = _items(value, item_to_ga)
        elif key == "audio":
            kept = value
        else:
            out[key] = value
    _config_audio_to_ga(audio_out, kept, out)
    return out
