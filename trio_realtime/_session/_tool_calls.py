"""What the session does with the function calls of a finished response, and running one.

:func:`plan_calls` is the decision, without I/O: every call of a response gets exactly one
output (the model stalls on a call without one, interrupted calls included; client-pitfalls
"tool calls left unanswered"), and exactly one follow-up response is asked for when the
response was not cancelled (an output alone starts nothing). :func:`run_call` runs one call
and always returns an output string: an unknown tool, arguments that do not fit, an
exception and a timeout each become an output that says so, and the session lives on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import final

import attrs
import orjson
import trio

from .._core._events import ConversationItem, Response, ResponseStatusDetails
from .._core._tools import FunctionTool, ToolArgumentsError

__all__ = ["ToolCall", "ToolPlan", "function_calls", "plan_calls", "run_call"]

logger = logging.getLogger("trio_realtime")


@final
@attrs.frozen(kw_only=True)
class ToolCall:
    """One ``function_call`` item of a finished response.

    Attributes:
        call_id: The id the output must name.
        name: The function's name.
        arguments: The JSON arguments, as the model wrote them.
        item_id: The item's id, if known.
        status: The item's status (``completed``, or ``incomplete`` when cut off).
    """

    call_id: str
    name: str
    arguments: str
    item_id: str | None = None
    status: str | None = None


@final
@attrs.frozen(kw_only=True)
class ToolPlan:
    """What to do with the calls of one finished response.

    Attributes:
        run: Calls to run; each gets the output its run produces.
        answer: Calls answered without running, with their outputs (the response was
            cancelled or failed, or the call's arguments were cut off).
        follow_up: Whether to ask for exactly one response once every output is sent.
    """

    run: tuple[ToolCall, ...]
    answer: tuple[tuple[ToolCall, str], ...]
    follow_up: bool


def function_calls(response: Response) -> tuple[ToolCall, ...]:
    """The ``function_call`` items of a ``response.done`` response, in output order."""
    output = response.output
    if not isinstance(output, list):
        return ()
    return tuple(
        _call(item)
        for item in output
        if item.type == "function_call" and isinstance(item.call_id, str)
    )


def _call(item: ConversationItem) -> ToolCall:
    return ToolCall(
        call_id=item.call_id if isinstance(item.call_id, str) else "",
        name=item.name if isinstance(item.name, str) else "",
        arguments=item.arguments if isinstance(item.arguments, str) else "",
        item_id=item.id if isinstance(item.id, str) else None,
        status=item.status if isinstance(item.status, str) else None,
    )


def plan_calls(response: Response) -> ToolPlan | None:
    """Decide what to do about the function calls of one finished default-conversation response.

    Every call gets exactly one output (the model stalls on a call without one, interrupted
    calls included; client-pitfalls "tool calls left unanswered"):

    * a ``completed`` or ``incomplete`` response: its completed calls are run, calls cut
      off mid-arguments are answered "not run", and one follow-up response is due (an
      output alone starts nothing);
    * a ``cancelled`` response (the user barged in, or the client cancelled) or a
      ``failed`` one: every call is answered "not run", and no follow-up is asked for
      (the user's new turn brings its own response).

    Returns:
        The plan, or ``None`` when the response has no function calls.
    """
    calls = function_calls(response)
    if not calls:
        return None
    status = response.status if isinstance(response.status, str) else None
    if status in ("cancelled", "failed"):
        details = response.status_details
        reason = (
            details.reason
            if isinstance(details, ResponseStatusDetails) and isinstance(details.reason, str)
            else None
        )
        why = f"the response was {status}" + (f" ({reason})" if reason else "")
        return ToolPlan(
            run=(),
            answer=tuple((c, _error_output(f"not run: {why}")) for c in calls),
            follow_up=False,
        )
    run = tuple(c for c in calls if c.status in (None, "completed"))
    answer = tuple(
        (c, _error_output("not run: the call was cut off before its arguments were complete"))
        for c in calls
        if c.status not in (None, "completed")
    )
    return ToolPlan(run=run, answer=answer, follow_up=True)


async def run_call(
    tools: Mapping[str, FunctionTool], call: ToolCall, default_timeout: float
) -> str:
    """Run one call and return its output; never raises for anything the tool does.

    An unknown tool, arguments that do not fit, an exception from the tool and a timeout
    each become an output saying so (``{"error": "..."}``), so the model learns what
    happened and the session carries on. A return value is sent as it is if it is a
    ``str``, else as JSON (``str()`` of it when it is not JSON-serialisable).
    """
    found = tools.get(call.name)
    if found is None:
        known = ", ".join(sorted(tools)) or "none"
        return _error_output(f"unknown tool {call.name!r} (known: {known})")
    try:
        kwargs = found.parse_arguments(call.arguments)
    except ToolArgumentsError as exc:
        return _error_output(f"tool {call.name!r}: {exc}")
    timeout = found.timeout if found.timeout is not None else default_timeout
    try:
        with trio.fail_after(timeout):
            if found.is_async:
                value = await found.func(**kwargs)
            elif found.thread:
                value = await trio.to_thread.run_sync(lambda: found.func(**kwargs))
            else:
                value = found.func(**kwargs)
    except trio.TooSlowError:
        return _error_output(f"tool {call.name!r} timed out after {timeout:g} s")
    except Exception as exc:  # the tool's bug or refusal is the model's information
        logger.warning("tool %r raised %s", call.name, type(exc).__name__, exc_info=True)
        return _error_output(f"tool {call.name!r} raised {type(exc).__name__}: {exc}")
    return _output_text(value)


def _error_output(message: str) -> str:
    return orjson.dumps({"error": message}).decode()


def _output_text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)
