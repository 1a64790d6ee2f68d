"""Tools: Python functions the model can call, described by a JSON schema, run by the session.

:func:`tool` turns a function into a :class:`FunctionTool`: its name, its description (the
docstring's first paragraph), and a JSON schema derived from the type hints of a simple
signature (``str``, ``int``, ``float``, ``bool``, ``list[...]``, ``dict``, ``Literal[...]``,
``X | None``; a parameter with a default is not required; ``Args:`` lines of a Google-style
docstring describe the parameters). Anything richer takes an explicit ``parameters=`` schema.

The session sends the tools in ``session.update`` (see :func:`trio_realtime.connect`'s
``tools=``) and answers every call (:mod:`._tool_calls`).

Sync or async: an ``async def`` tool is awaited in the session's nursery, concurrently with
the other calls of the same response, and a per-call timeout cancels it. A plain ``def`` tool
runs *inline*, in the event loop: it blocks every other task while it runs, so it must be
quick (a dictionary lookup, a calculation), and no timeout can interrupt it. A blocking sync
function (file or network I/O, heavy work) should say ``@tool(thread=True)``: it then runs in
a worker thread (``trio.to_thread.run_sync``); the loop stays free, but the thread cannot be
cancelled, so its timeout takes effect only when the function returns, and closing the
session waits for it.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeVar, final, overload

import orjson

from ._events import Tool

__all__ = ["FunctionTool", "ToolArgumentsError", "tool", "tool_registry"]

_F = TypeVar("_F", bound=Callable[..., Any])
_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECTION: Final = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Yields|Raises|Example|Examples|Note|Notes):\s*$"
)
_ARG_LINE: Final = re.compile(r"^(\s*)\*{0,2}([A-Za-z_]\w*)(?:\s*\([^)]*\))?:\s*(.*)$")
#: The longest description the service accepted (server-behaviour.md 7).
MAX_DESCRIPTION: Final = 1024


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool (not JSON, not an object, wrong fields)."""


@final
class FunctionTool:
    """A Python callable the model may call: name, description, JSON schema, how to run it.

    Build one with the :func:`tool` decorator, or directly for a hand-written schema::

        lookup = FunctionTool(find_order, parameters={"type": "object", "properties": {...}})

    Calling the object calls the function unchanged, so a decorated function still works as
    a function.

    Args:
        func: The function, ``def`` or ``async def``. The model's arguments are passed as
            keyword arguments.
        name: The name the model sees; default: ``func.__name__``. 1-64 letters, digits,
            ``_`` or ``-``.
        description: What the tool does, for the model; default: the docstring's first
            paragraph. At most 1024 characters.
        parameters: A JSON schema object for the arguments; default: derived from the
            signature (arguments are then checked against it before the call).
        thread: Run a sync function in a worker thread instead of inline (see the module
            docstring). Not allowed for ``async def`` functions.
        timeout: Seconds a call may take; default: the session's ``tool_timeout``.

    Raises:
        TypeError: A signature the schema cannot be derived from (``*args``, positional-only
            parameters, an unsupported annotation); the message names the parameter.
        ValueError: A bad name, an over-long description, ``thread`` with an async function,
            or a timeout that is not positive.
    """

    __slots__ = ("_checked", "description", "func", "name", "parameters", "thread", "timeout")

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        thread: bool = False,
        timeout: float | None = None,
    ) -> None:
        if not callable(func):
            raise TypeError(f"a tool must be callable, got {type(func).__name__}")
        self.func = func
        self.name: str = name if name is not None else getattr(func, "__name__", "")
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
        self.description: str = summary if description is None else description
        if len(self.description) > MAX_DESCRIPTION:
            raise ValueError(
                f"tool {self.name!r}: the description has {len(self.description)} characters, "
                f"more than the {MAX_DESCRIPTION} the service accepts"
            )
        if thread and inspect.iscoroutinefunction(func):
            raise ValueError(f"tool {self.name!r} is async: thread=True is for sync functions")
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"tool {self.name!r}: timeout must be positive, got {timeout!r}")
        self.thread = thread
        self.timeout = timeout
        self._checked = parameters is None
        self.parameters: dict[str, Any] = (
            _schema_for(func, self.name, arg_docs) if parameters is None else dict(parameters)
        )

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "thread" if self.thread else "inline"
        return f"<FunctionTool {self.name!r} ({kind})>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        """Whether the function is an ``async def`` (awaited rather than called)."""
        return inspect.iscoroutinefunction(self.func)

    @property
    def definition(self) -> Tool:
        """The tool as sent in ``session.update``: ``{type: function, name, description,
        parameters}``."""
        return Tool(
            type="function",
            name=self.name,
            description=self.description,
            parameters=self.parameters,
        )

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """The model's JSON ``arguments`` as keyword arguments, checked.

        Raises:
            ToolArgumentsError: Not JSON, not an object, or (with a derived schema) a missing
                required field, an unknown field or a value of the wrong type.
        """
        try:
            value = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ToolArgumentsError(f"arguments must be a JSON object, got {type(value).__name__}")
        if self._checked:
            properties = self.parameters["properties"]
            missing = [n for n in self.parameters["required"] if n not in value]
            if missing:
                raise ToolArgumentsError(f"missing required argument(s): {', '.join(missing)}")
            for key, item in value.items():
                if key not in properties:
                    raise ToolArgumentsError(f"unexpected argument {key!r}")
                problem = _mismatch(item, properties[key])
                if problem is not None:
                    raise ToolArgumentsError(f"argument {key!r}: {problem}")
        return value


@overload
def tool(func: _F, /) -> FunctionTool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    thread: bool = False,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    thread: bool = False,
    timeout: float | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a function a tool the model can call: ``@tool`` or ``@tool(thread=True, ...)``.

    Example::

        @trio_realtime.tool
        def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
            '''The current weather in a city.

            Args:
                city: The city's name.
                unit: Celsius or Fahrenheit.
            '''
            return f"22 degrees {unit} in {city}"

    gives the model ``{"name": "get_weather", "description": "The current weather in a
    city.", "parameters": {"type": "object", "properties": {"city": {"type": "string",
    "description": "The city's name."}, "unit": {"type": "string", "enum": ["c", "f"],
    ...}}, "required": ["city"], "additionalProperties": false}}``.

    The keyword arguments are those of :class:`FunctionTool`.
    """
    options: dict[str, Any] = {
        "name": name,
        "description": description,
        "parameters": parameters,
        "thread": thread,
        "timeout": timeout,
    }
    if func is not None:
        return FunctionTool(func, **options)
    return lambda f: FunctionTool(f, **options)


def tool_registry(tools: Iterable[FunctionTool | Callable[..., Any]]) -> dict[str, FunctionTool]:
    """Tools by name; plain callables are wrapped with :func:`tool`.

    Raises:
        ValueError: Two tools share a name.
    """
    registry: dict[str, FunctionTool] = {}
    for item in tools:
        wrapped = item if isinstance(item, FunctionTool) else FunctionTool(item)
        if wrapped.name in registry:
            raise ValueError(f"two tools are named {wrapped.name!r}")
        registry[wrapped.name] = wrapped
    return registry


# --- schemas from signatures ---------------------------------------------------------------------


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and the ``Args:`` descriptions by parameter name."""
    lines = doc.splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line):
            break
        summary.append(line.strip())
    args: dict[str, str] = {}
    in_args = False
    current: str | None = None
    indent = 0
    for line in lines:
        section = _SECTION.match(line)
        if section:
            in_args = section.group(1) in ("Args", "Arguments", "Parameters")
            current = None
            continue
        if not in_args or not line.strip():
            continue
        match = _ARG_LINE.match(line)
        if match and (current is None or len(match.group(1)) <= indent):
            indent = len(match.group(1))
            current = match.group(2)
            args[current] = match.group(3).strip()
        elif current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(summary), args


def _schema_for(func: Callable[..., Any], name: str, docs: Mapping[str, str]) -> dict[str, Any]:
    try:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func)
    except (TypeError, ValueError, NameError) as exc:
        raise TypeError(f"tool {name!r}: cannot read the signature: {exc}") from None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(
                f"tool {name!r}: parameter {param.name!r} must be an ordinary or keyword "
                "parameter (the model's arguments are passed by name); give parameters= "
                "for anything else"
            )
        if param.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {param.name!r} needs a type annotation")
        try:
            schema = _json_schema(hints[param.name])
        except TypeError as exc:
            raise TypeError(f"tool {name!r}: parameter {param.name!r}: {exc}") from None
        if docs.get(param.name):
            schema = {**schema, "description": docs[param.name]}
        properties[param.name] = schema
        if param.default is param.empty:
            required.append(param.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_PRIMITIVES: Final[dict[Any, str]] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
}


def _json_schema(hint: Any) -> dict[str, Any]:
    if hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is list or origin in (list, Sequence):
        return {"type": "array", "items": _json_schema(args[0])} if args else {"type": "array"}
    if hint is dict or origin is dict:
        return {"type": "object"}
    if origin is Literal:
        kinds = {_PRIMITIVES.get(type(a)) for a in args}
        if None in kinds:
            raise TypeError(f"Literal values must be str, int, float or bool: {hint!r}")
        schema: dict[str, Any] = {"enum": list(args)}
        if len(kinds) == 1:
            schema["type"] = kinds.pop()
        return schema
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            inner = _json_schema(rest[0])
            if isinstance(inner.get("type"), str):
                return {**inner, "type": [inner["type"], "null"]}
            return {"anyOf": [inner, {"type": "null"}]}
        raise TypeError(f"only X | None unions are supported, not {hint!r}")
    raise TypeError(
        f"unsupported annotation {hint!r} (use str, int, float, bool, list[...], dict, "
        "Literal[...] or X | None, or give parameters=)"
    )


def _mismatch(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not fit a schema :func:`_json_schema` made, or ``None``."""
    if "enum" in schema:
        return None if value in schema["enum"] else f"must be one of {schema['enum']!r}"
    if "anyOf" in schema:
        if value is None:
            return None
        return _mismatch(value, schema["anyOf"][0])
    kinds: Any = schema.get("type")
    if isinstance(kinds, list):
        if value is None and "null" in kinds:
            return None
        kinds = kinds[0]
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(str(kinds), True)
    if not ok:
        return f"expected {kinds}, got {_json_name(value)}"
    if kinds == "array" and "items" in schema:
        for index, element in enumerate(value):
            problem = _mismatch(element, schema["items"])
            if problem is not None:
                return f"[{index}]: {problem}"
    return None


def _json_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)
