"""The codec: events to JSON text frames and back, through one cattrs converter.

The converter is the orjson preconf converter with a structure and an unstructure hook per
model class. The hooks are generated once, per class, as straight-line Python (as cattrs'
own ``make_dict_structure_fn`` does), because the receive path runs them for every event:

* strict primitives: a ``str`` field takes only a JSON string, an ``int`` field only a JSON
  integer (never a bool or a float), a ``float`` field an integer or a float, a ``bool``
  field only ``true``/``false``; nothing is coerced;
* omitted is not null: an absent optional field becomes ``UNSET`` and is not written back,
  ``null`` becomes ``None`` and is written back as ``null``;
* unknown fields are collected into ``extra`` and written back out;
* a failure raises ``_FieldError`` carrying the field path, which :func:`decode` turns into
  one :class:`~trio_realtime.ProtocolError` naming the event type and the path.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, Union

import attrs
import orjson
from cattrs.preconf.orjson import OrjsonConverter, make_converter

from ._errors import ProtocolError
from ._events import (
    CLIENT_EVENTS,
    GA_SERVER_EVENTS,
    NO_EXTRA,
    SERVER_EVENTS,
    Event,
    Model,
    UnknownEvent,
)
from ._unset import UNSET, UnsetType

__all__ = [
    "converter",
    "decode",
    "encode",
    "encode_bytes",
    "pack",
    "structure_function",
    "to_json_dict",
    "type_field_error",
    "unpack",
    "unstructure_function",
]

_StructureFn = Callable[[Any], Any]
_UnstructureFn = Callable[[Any], Any]


class _FieldError(Exception):
    """Raised inside generated hooks; ``parts`` is the path, innermost last."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(reason)
        self.parts = [part] if part else []
        self.reason = reason

    def path(self) -> str:
        out = ""
        for part in reversed(self.parts):
            if not part:
                continue
            out += part if part.startswith("[") or not out else "." + part
        return out


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def type_field_error(obj: dict[str, Any]) -> ProtocolError:
    """What is wrong with a frame whose ``type`` is missing or not a string (either dialect)."""
    event_type = obj.get("type")
    what = (
        "missing"
        if event_type is None and "type" not in obj
        else f"not a string ({_json_type(event_type)})"
    )
    return ProtocolError(f"the 'type' field is {what}")


_JSON_TYPE_NAMES: Final = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "array",
    dict: "object",
}


def _fail(part: str, expected: str, value: object) -> _FieldError:
    return _FieldError(part, f"expected {expected}, got {_json_type(value)}")


# ---------------------------------------------------------------------------------------------
# Annotation analysis: every field type is one "shape" plus whether null / omission is allowed.


@attrs.frozen
class _Shape:
    kind: str  # "str" "int" "float" "bool" "any" "list" "map" "model" "union" "usage"
    item: _Shape | None = None
    model: type | None = None
    options: tuple[_Shape, ...] = ()


def _shape_of(tp: Any) -> tuple[_Shape, bool, bool]:
    """Return (shape, nullable, omittable) for a resolved annotation."""
    if tp is Any:
        return _Shape("any"), True, True
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        omittable = any(a is UnsetType or _is_unset_literal(a) for a in args)
        nullable = type(None) in args
        rest = [
            a
            for a in args
            if a is not type(None) and a is not UnsetType and not _is_unset_literal(a)
        ]
        if len(rest) == 1:
            return _shape_of(rest[0])[0], nullable, omittable
        shapes = tuple(_shape_of(a)[0] for a in rest)
        kind = "usage" if any(s.kind == "map" for s in shapes) else "union"
        return _Shape(kind, options=shapes), nullable, omittable
    if origin is Literal:
        return _Shape("str"), False, False
    if origin is list:
        return _Shape("list", item=_shape_of(typing.get_args(tp)[0])[0]), False, False
    if origin is dict:
        return _Shape("map", item=_shape_of(typing.get_args(tp)[1])[0]), False, False
    if tp in (str, int, float, bool):
        return _Shape(tp.__name__), False, False
    if isinstance(tp, type) and attrs.has(tp):
        return _Shape("model", model=tp), False, False
    raise TypeError(f"unsupported annotation {tp!r}")  # pragma: no cover - a library bug


def _is_unset_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal and typing.get_args(tp) == (UNSET,)


# ---------------------------------------------------------------------------------------------
# Code generation.

_PRIMITIVE_CHECK: Final = {
    "str": ("type({v}) is not str", "str"),
    "int": ("type({v}) is not int", "int"),
    "float": ("type({v}) is not float and type({v}) is not int", "number"),
    "bool": ("type({v}) is not bool", "bool"),
}


class _Generator:
    """Builds the structure / unstructure functions of every model class, once."""

    def __init__(self) -> None:
        self.structure: dict[type, _StructureFn] = {}
        self.unstructure: dict[type, _UnstructureFn] = {}

    # -- structure ----------------------------------------------------------------------------

    def _value_code(
        self, shape: _Shape, src: str, dst: str, part: str, ns: dict[str, Any], indent: str
    ) -> list[str]:
        """Lines that validate ``src`` of ``shape`` and assign the structured value to ``dst``."""
        kind = shape.kind
        if kind in _PRIMITIVE_CHECK:
            check, name = _PRIMITIVE_CHECK[kind]
            return [
                f"{indent}if {check.format(v=src)}: raise _fail({part!r}, {name!r}, {src})",
                *([f"{indent}{dst} = {src}"] if dst != src else []),
            ]
        if kind == "any":
            return [f"{indent}{dst} = {src}"] if dst != src else []
        if kind == "model":
            assert shape.model is not None
            fn = f"_s_{shape.model.__name__}"
            ns[fn] = self._lazy_structure(shape.model)
            return [
                f"{indent}try: {dst} = {fn}({src})",
                f"{indent}except _FieldError as e: e.parts.append({part!r}); raise",
            ]
        if kind in ("list", "map"):
            assert shape.item is not None
            container, jname = ("list", "array") if kind == "list" else ("dict", "object")
            key = "i" if kind == "list" else "k"
            lines = [
                f"{indent}if type({src}) is not {container}: raise _fail({part!r}, {jname!r}, {src})"
            ]
            item_lines = self._value_code(shape.item, "x", "x", "", ns, indent + "        ")
            if not item_lines:
                return lines + ([f"{indent}{dst} = {src}"] if dst != src else [])
            iterator = f"enumerate({src})" if kind == "list" else f"{src}.items()"
            acc, add = ("[]", "out.append(x)") if kind == "list" else ("{}", "out[k] = x")
            where = f"'[' + str({key}) + ']'" if kind == "list" else f"'[' + repr({key}) + ']'"
            lines += [
                f"{indent}out = {acc}",
                f"{indent}for {key}, x in {iterator}:",
                f"{indent}    try:",
                *item_lines,
                f"{indent}    except _FieldError as e:",
                f"{indent}        e.parts.append({where})",
                f"{indent}        if {part!r}: e.parts.append({part!r})",
                f"{indent}        raise",
                f"{indent}    {add}",
                f"{indent}{dst} = out",
            ]
            return lines
        if kind == "union":
            # A string or a model (``tracing: "auto" | {...}``), or an int or a model.
            lines = []
            prims = [o for o in shape.options if o.kind in _PRIMITIVE_CHECK]
            models = [o for o in shape.options if o.kind == "model"]
            cond = " and ".join(_PRIMITIVE_CHECK[o.kind][0].format(v=src) for o in prims) or "True"
            names = " or ".join(
                [_PRIMITIVE_CHECK[o.kind][1] for o in prims] + ["object"] * bool(models)
            )
            if models:
                lines.append(f"{indent}if type({src}) is dict:")
                lines += self._value_code(models[0], src, dst, part, ns, indent + "    ")
                lines.append(f"{indent}elif {cond}: raise _fail({part!r}, {names!r}, {src})")
            else:
                lines.append(f"{indent}if {cond}: raise _fail({part!r}, {names!r}, {src})")
            if dst != src:
                lines.append(f"{indent}else: {dst} = {src}")
            return lines
        if kind == "usage":
            # Models told apart by their ``type`` literal; an unknown kind stays a dict.
            lines = [f"{indent}if type({src}) is not dict: raise _fail({part!r}, 'object', {src})"]
            first = True
            for option in shape.options:
                if option.kind != "model":
                    continue
                assert option.model is not None
                literal = attrs.fields_dict(option.model)["type"].default
                kw = "if" if first else "elif"
                first = False
                lines.append(f"{indent}{kw} {src}.get('type') == {literal!r}:")
                lines += self._value_code(option, src, dst, part, ns, indent + "    ")
            lines.append(f"{indent}else: {dst} = {src}")
            return lines
        raise AssertionError(kind)  # pragma: no cover

    def _lazy_structure(self, cls: type) -> _StructureFn:
        if cls not in self.structure:
            self.structure[cls] = self._make_structure(cls)
        return self.structure[cls]

    def _make_structure(self, cls: type) -> _StructureFn:
        hints = typing.get_type_hints(cls)
        fields = [f for f in attrs.fields(cls) if f.name != "extra"]
        ns: dict[str, Any] = {
            "_FieldError": _FieldError,
            "_fail": _fail,
            "_UNSET": UNSET,
            "_NO_EXTRA": NO_EXTRA,
            "_cls": cls,
            "_known": frozenset(
                [f.name for f in fields] + (["type"] if issubclass(cls, Event) else [])
            ),
        }
        placeholder: list[_StructureFn] = []
        self.structure[cls] = lambda o: placeholder[0](o)  # for recursive references
        lines = [
            "def structure(o):",
            "    if type(o) is not dict: raise _fail('', 'object', o)",
        ]
        required = 1 if issubclass(cls, Event) else 0
        for i, field in enumerate(fields):
            shape, nullable, omittable = _shape_of(hints[field.name])
            var = f"v{i}"
            name = field.name
            if omittable:
                lines.append(f"    {var} = o.get({name!r}, _UNSET)")
                guard = f"{var} is not _UNSET" + (f" and {var} is not None" if nullable else "")
                if not nullable:
                    lines.append(
                        f"    if {var} is None: raise _fail({name!r}, {_expected(shape)!r}, None)"
                    )
                body = self._value_code(shape, var, var, name, ns, "        ")
                if body:
                    lines.append(f"    if {guard}:")
                    lines += body
            else:
                required += 1
                lines += [
                    f"    try: {var} = o[{name!r}]",
                    f"    except KeyError: raise _FieldError({name!r}, 'missing required field') from None",
                ]
                if nullable:
                    body = self._value_code(shape, var, var, name, ns, "        ")
                    if body:
                        lines.append(f"    if {var} is not None:")
                        lines += body
                else:
                    lines += self._value_code(shape, var, var, name, ns, "    ")
        lines += [
            f"    if len(o) > {required}:",
            "        unknown = o.keys() - _known",
            "        extra = {k: o[k] for k in unknown} if unknown else _NO_EXTRA",
            "    else:",
            "        extra = _NO_EXTRA",
            # Slot descriptors set directly: a third faster than the attrs __init__.
            "    obj = _new(_cls)",
            "    _set_extra(obj, extra)",
            *(f"    _set_{f.name}(obj, v{i})" for i, f in enumerate(fields)),
            "    return obj",
        ]
        ns["_new"] = object.__new__
        for field in attrs.fields(cls):
            ns[f"_set_{field.name}"] = getattr(cls, field.name).__set__
        fn = _compile("\n".join(lines), ns, f"structure_{cls.__name__}")
        placeholder.append(fn)
        self.structure[cls] = fn
        return fn

    # -- unstructure --------------------------------------------------------------------------

    def _out_code(self, shape: _Shape, src: str, ns: dict[str, Any]) -> str:
        """An expression turning the model value ``src`` of ``shape`` into JSON data."""
        kind = shape.kind
        if kind in _PRIMITIVE_CHECK or kind in ("any",):
            return src
        if kind == "model":
            assert shape.model is not None
            fn = f"_u_{shape.model.__name__}"
            ns[fn] = self._lazy_unstructure(shape.model)
            return f"{fn}({src})"
        if kind == "list":
            assert shape.item is not None
            inner = self._out_code(shape.item, "x", ns)
            return src if inner == "x" else f"[{inner} for x in {src}]"
        if kind == "map":
            assert shape.item is not None
            inner = self._out_code(shape.item, "x", ns)
            return src if inner == "x" else f"{{k: {inner} for k, x in {src}.items()}}"
        if kind in ("union", "usage"):
            models = [o for o in shape.options if o.kind == "model"]
            expr = src
            for option in models:
                assert option.model is not None
                expr = f"({self._out_code(option, src, ns)} if type({src}) is _m_{option.model.__name__} else {expr})"
                ns[f"_m_{option.model.__name__}"] = option.model
            return expr
        raise AssertionError(kind)  # pragma: no cover

    def _lazy_unstructure(self, cls: type) -> _UnstructureFn:
        if cls not in self.unstructure:
            self.unstructure[cls] = self._make_unstructure(cls)
        return self.unstructure[cls]

    def _make_unstructure(self, cls: type, wire_type: str | None = None) -> _UnstructureFn:
        """The unstructure function of ``cls``; with ``wire_type``, one writing that ``type``
        instead of the class's (a dialect's name for the event: not cached here)."""
        hints = typing.get_type_hints(cls)
        fields = [f for f in attrs.fields(cls) if f.name != "extra"]
        ns: dict[str, Any] = {"_UNSET": UNSET}
        placeholder: list[_UnstructureFn] = []
        if wire_type is None:
            self.unstructure[cls] = lambda o: placeholder[0](o)
        name = wire_type if wire_type is not None else getattr(cls, "type", None)
        start = f"{{'type': {name!r}}}" if issubclass(cls, Event) else "{}"
        lines = ["def unstructure(obj):", f"    d = {start}"]
        for field in fields:
            shape, nullable, omittable = _shape_of(hints[field.name])
            expr = self._out_code(shape, "v", ns)
            lines.append(f"    v = obj.{field.name}")
            if expr != "v" and nullable:
                expr = f"None if v is None else {expr}"
            if omittable:
                lines.append(f"    if v is not _UNSET: d[{field.name!r}] = {expr}")
            else:
                lines.append(f"    d[{field.name!r}] = {expr}")
        lines += ["    if obj.extra: d.update(obj.extra)", "    return d"]
        fn = _compile("\n".join(lines), ns, f"unstructure_{cls.__name__}")
        placeholder.append(fn)
        if wire_type is None:
            self.unstructure[cls] = fn
        return fn


def _expected(shape: _Shape) -> str:
    if shape.kind in _PRIMITIVE_CHECK:
        return _PRIMITIVE_CHECK[shape.kind][1]
    return {"list": "array", "map": "object", "model": "object"}.get(shape.kind, "a value")


def _compile(source: str, ns: dict[str, Any], name: str) -> Callable[[Any], Any]:
    """Compile generated source defining one function, named ``name`` for tracebacks."""
    defined = source[4 : source.index("(")]
    exec(compile(source, f"<trio_realtime codec: {name}>", "exec"), ns)
    fn: Callable[[Any], Any] = ns.pop(defined)
    fn.__name__ = fn.__qualname__ = name
    return fn


_EVENT_CLASSES: Final[dict[str, type[Event]]] = {**CLIENT_EVENTS, **SERVER_EVENTS}
# The GA-only events are protocol classes too (their hooks are generated like the others'),
# but :func:`decode` does not dispatch to them: only a GA connection's decoder does.
_CONCRETE_EVENTS: Final = frozenset([*_EVENT_CLASSES.values(), *GA_SERVER_EVENTS.values()])
_GENERATOR: Final = _Generator()


def _is_model(tp: Any) -> bool:
    """Whether ``tp`` is a protocol class the generated hooks handle."""
    return isinstance(tp, type) and (
        tp in _CONCRETE_EVENTS or (issubclass(tp, Model) and tp is not Model)
    )


def _structure_factory(tp: type) -> Callable[[Any, Any], Any]:
    return _adapt_structure(_GENERATOR._lazy_structure(tp))


def _unstructure_factory(tp: type) -> _UnstructureFn:
    return _GENERATOR._lazy_unstructure(tp)


def _build_converter() -> OrjsonConverter:
    # Hooks are generated on a class's first use, not here: generating all of them takes
    # longer than importing the rest of the package, and most programs use a fraction.
    conv = make_converter()
    conv.register_structure_hook_factory(_is_model, _structure_factory)
    conv.register_unstructure_hook_factory(_is_model, _unstructure_factory)
    conv.register_unstructure_hook(UnknownEvent, _unstructure_unknown)
    return conv


def _unstructure_unknown(event: UnknownEvent) -> dict[str, Any]:
    return dict(event.raw)


def _adapt_structure(fn: _StructureFn) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _type: Any) -> Any:
        try:
            return fn(value)
        except _FieldError as exc:
            raise ProtocolError(exc.reason, path=exc.path()) from None

    return hook


#: The one cattrs converter behind :func:`encode` and :func:`decode`. Use it to structure a
#: nested object on its own: ``converter.structure({"type": "server_vad"}, TurnDetection)``.
converter: Final = _build_converter()

#: Structure functions by wire type and unstructure functions by class, filled as each event
#: type is first decoded or encoded (the hot paths read these dicts, not the converter).
_STRUCTURE_BY_TYPE: Final[dict[str, _StructureFn]] = {}
_UNSTRUCTURE_BY_CLASS: Final[dict[type, _UnstructureFn]] = {UnknownEvent: _unstructure_unknown}


def _structure_for(event_type: str) -> _StructureFn | None:
    """The structure function of a known wire type, generated on first use; else None."""
    cls = _EVENT_CLASSES.get(event_type)
    if cls is None:
        return None
    fn = _STRUCTURE_BY_TYPE[event_type] = _GENERATOR._lazy_structure(cls)
    return fn


def _unstructure_for(cls: type) -> _UnstructureFn:
    """The unstructure function of a protocol class, generated on first use."""
    if not _is_model(cls):
        raise TypeError(f"not a protocol event: {cls.__name__}")
    fn = _UNSTRUCTURE_BY_CLASS[cls] = _GENERATOR._lazy_unstructure(cls)
    return fn


def structure_function(cls: type) -> _StructureFn:
    """The generated structure function of protocol class ``cls``, made on first use.

    For the dialect codecs (:mod:`._dialects`): it takes the JSON object and raises
    ``_FieldError`` (with the field path) where :func:`decode` raises ``ProtocolError``.
    """
    return _GENERATOR._lazy_structure(cls)


def unstructure_function(cls: type, *, wire_type: str | None = None) -> _UnstructureFn:
    """The generated unstructure function of protocol class ``cls`` (see :func:`to_json_dict`).

    With ``wire_type``, a new function that writes that ``type`` (a dialect's name for the
    event, at no cost over the class's own); the caller keeps it.
    """
    if wire_type is not None:
        if not _is_model(cls):
            raise TypeError(f"not a protocol event: {cls.__name__}")
        return _GENERATOR._make_unstructure(cls, wire_type)
    try:
        return _UNSTRUCTURE_BY_CLASS[cls]
    except KeyError:
        return _unstructure_for(cls)


_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError


def decode(data: str | bytes) -> Event | UnknownEvent:
    """Decode one text frame into its typed event.

    Args:
        data: One JSON object, as ``str`` or UTF-8 ``bytes``.

    Returns:
        An instance of the event class registered for the object's ``type``, or an
        :class:`~trio_realtime.events.UnknownEvent` keeping the whole object when the type is
        not one this library knows.

    Raises:
        ProtocolError: The data is not JSON, not an object, has no string ``type``, or a known
            event's field is missing or of the wrong type. The message names the event type
            and the field path.
    """
    try:
        obj = _loads(data)
    except _JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None
    if type(obj) is not dict:
        raise ProtocolError(f"expected a JSON object, got {_json_type(obj)}")
    event_type = obj.get("type")
    structure = _STRUCTURE_BY_TYPE.get(event_type) if type(event_type) is str else None
    if structure is None:
        if type(event_type) is not str:
            raise type_field_error(obj)
        structure = _structure_for(event_type)
        if structure is None:
            return UnknownEvent(raw=obj)
    try:
        return structure(obj)  # type: ignore[no-any-return]
    except _FieldError as exc:
        raise ProtocolError(exc.reason, event_type=event_type, path=exc.path()) from None


def to_json_dict(event: Event | UnknownEvent) -> dict[str, Any]:
    """The JSON object (plain dicts and lists) that :func:`encode` would serialise."""
    try:
        unstructure = _UNSTRUCTURE_BY_CLASS[type(event)]
    except KeyError:
        unstructure = _unstructure_for(type(event))
    return unstructure(event)  # type: ignore[no-any-return]


def encode_bytes(event: Event | UnknownEvent) -> bytes:
    """Encode an event as UTF-8 JSON bytes (for recordings; frames must be text)."""
    return _dumps(to_json_dict(event))


def encode(event: Event | UnknownEvent) -> str:
    """Encode an event as the JSON text of one WebSocket text frame.

    Fields left :data:`~trio_realtime.UNSET` are omitted, ``None`` becomes ``null``, and
    unknown fields kept in ``extra`` (or an :class:`UnknownEvent`'s ``raw``) are written back.

    Raises:
        TypeError: ``event`` is not a protocol event, or holds a value JSON cannot carry.
    """
    try:
        unstructure = _UNSTRUCTURE_BY_CLASS[type(event)]
    except KeyError:
        unstructure = _unstructure_for(type(event))
    try:
        return _dumps(unstructure(event)).decode()
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"cannot encode {type(event).__name__}: {exc}") from None


_T = TypeVar("_T")


def pack(value: object) -> str:
    """Any protocol value (an event or a nested class such as ``Response``) as the JSON
    text the wire would carry: exact, unknown fields and explicit nulls included.

    A held string costs the garbage collector nothing, where the value's objects are
    tracked; :func:`unpack` gives an equal value back. Text rather than orjson's bytes:
    those keep orjson's whole output buffer (4 KiB for a 750-byte response).
    """
    return _dumps(converter.unstructure(value)).decode()


def unpack(data: str | bytes, cls: type[_T]) -> _T:
    """The value of class ``cls`` that :func:`pack` made ``data`` from."""
    return converter.structure(orjson.loads(data), cls)
