"""Tools without a network: schemas from signatures, argument checks, the plan for a finished
response's calls, and running one call (whatever it does, it yields an output)."""

from __future__ import annotations

import time
from typing import Literal, Optional

import orjson
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import trio_realtime as rt
from trio_realtime._core._tools import FunctionTool, ToolArgumentsError, tool, tool_registry
from trio_realtime._session._tool_calls import ToolCall, plan_calls, run_call


def test_the_decorator_derives_name_description_and_schema_from_the_function() -> None:
    @tool
    def book_table(
        restaurant: str,
        people: int,
        when: Literal["lunch", "dinner"] = "dinner",
        budget: float | None = None,
        vegetarian: bool = False,
        notes: list[str] | None = None,
        extra: dict[str, int] | None = None,
        floor: Optional[int] = None,  # noqa: UP045 - the old spelling is supported too
    ) -> str:
        """Book a table.

        Longer explanation that the model does not need.

        Args:
            restaurant: The restaurant's name.
            people: How many guests,
                children included.
        """
        return "booked"

    assert isinstance(book_table, FunctionTool)
    assert book_table("x", 2) == "booked"  # still callable as the function
    definition = book_table.definition
    assert definition == rt.Tool(
        type="function",
        name="book_table",
        description="Book a table.",
        parameters={
            "type": "object",
            "properties": {
                "restaurant": {"type": "string", "description": "The restaurant's name."},
                "people": {"type": "integer", "description": "How many guests, children included."},
                "when": {"enum": ["lunch", "dinner"], "type": "string"},
                "budget": {"type": ["number", "null"]},
                "vegetarian": {"type": "boolean"},
                "notes": {"type": ["array", "null"], "items": {"type": "string"}},
                "extra": {"type": ["object", "null"]},
                "floor": {"type": ["integer", "null"]},
            },
            "required": ["restaurant", "people"],
            "additionalProperties": False,
        },
    )
    assert rt.encode(rt.SessionUpdate(session=rt.Session(tools=[definition])))


def test_options_override_and_explicit_schemas_are_taken_as_given() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}

    @tool(name="search-docs", description="Search.", parameters=schema, timeout=2.5)
    async def search(**kwargs: object) -> list[str]:
        return []

    assert (search.name, search.description, search.timeout) == ("search-docs", "Search.", 2.5)
    assert search.parameters == schema
    assert search.is_async
    # Without a derived schema only the object shape is checked.
    assert search.parse_arguments('{"anything": [1]}') == {"anything": [1]}
    assert "async" in repr(search)


@pytest.mark.parametrize(
    ("define", "error", "match"),
    [
        (lambda: FunctionTool(lambda *args: None, name="f"), TypeError, "ordinary or keyword"),
        (lambda: FunctionTool(lambda x: None, name="f"), TypeError, "needs a type annotation"),
        (lambda: FunctionTool(_complex_hint), TypeError, "parameter 'x': only X | None"),
        (lambda: FunctionTool(_object_hint), TypeError, "unsupported annotation"),
        (lambda: FunctionTool(_no_args, name="has space"), ValueError, "1-64 letters"),
        (lambda: FunctionTool(_no_args, description="x" * 1025), ValueError, "1024"),
        (lambda: FunctionTool(_async_no_args, thread=True), ValueError, "thread=True"),
        (lambda: FunctionTool(_no_args, timeout=0), ValueError, "timeout"),
        (lambda: FunctionTool("not callable"), TypeError, "callable"),  # type: ignore[arg-type]
        (lambda: tool_registry([_no_args, _no_args]), ValueError, "two tools"),
    ],
)
def test_bad_definitions_fail_at_once_with_a_clear_message(
    define: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        define()  # type: ignore[operator]


def _complex_hint(x: int | str) -> None: ...
def _object_hint(x: object) -> None: ...
def _no_args() -> None: ...
async def _async_no_args() -> None: ...


@tool
def _typed(
    city: str, days: int = 1, units: Literal["c", "f"] = "c", tags: list[int] | None = None
) -> None:
    """Typed."""


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ("{}", "missing required argument(s): city"),
        ('{"city": "x", "nope": 1}', "unexpected argument 'nope'"),
        ('{"city": 5}', "argument 'city': expected string, got integer"),
        ('{"city": "x", "days": true}', "expected integer, got boolean"),
        ('{"city": "x", "days": 1.5}', "expected integer, got number"),
        ('{"city": "x", "units": "k"}', "must be one of"),
        ('{"city": "x", "tags": [1, "a"]}', "[1]: expected integer, got string"),
    ],
)
def test_arguments_that_do_not_fit_are_refused_before_the_call(
    arguments: str, problem: str
) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        _typed.parse_arguments(arguments)
    assert problem in str(info.value)


def test_fitting_arguments_pass_through() -> None:
    assert _typed.parse_arguments('{"city": "Oslo", "tags": null, "days": 3}') == {
        "city": "Oslo",
        "tags": None,
        "days": 3,
    }
    assert FunctionTool(_no_args).parse_arguments("") == {}


def _response(status: str, *items: rt.ConversationItem, reason: str | None = None) -> rt.Response:
    details = rt.ResponseStatusDetails(type=status, reason=reason) if reason else None
    return rt.Response(id="resp_1", status=status, status_details=details, output=list(items))


def _call(call_id: str, status: str = "completed", name: str = "f") -> rt.ConversationItem:
    return rt.ConversationItem(
        id=f"item_{call_id}",
        type="function_call",
        call_id=call_id,
        name=name,
        arguments="{}",
        status=status,
    )


def test_a_completed_response_runs_its_calls_and_wants_one_follow_up() -> None:
    message = rt.ConversationItem(id="m", type="message", role="assistant", content=[])
    plan = plan_calls(_response("completed", message, _call("c1"), _call("c2")))
    assert plan is not None
    assert [c.call_id for c in plan.run] == ["c1", "c2"]
    assert plan.answer == ()
    assert plan.follow_up
    assert plan_calls(_response("completed", message)) is None


def test_calls_cut_off_are_answered_without_running() -> None:
    plan = plan_calls(_response("incomplete", _call("c1"), _call("c2", status="incomplete")))
    assert plan is not None
    assert [c.call_id for c in plan.run] == ["c1"]
    ((cut, output),) = plan.answer
    assert cut.call_id == "c2"
    assert "cut off" in orjson.loads(output)["error"]
    assert plan.follow_up


@pytest.mark.parametrize("status", ["cancelled", "failed"])
def test_calls_of_a_cancelled_or_failed_response_all_get_an_output_and_no_follow_up(
    status: str,
) -> None:
    plan = plan_calls(_response(status, _call("c1"), _call("c2"), reason="turn_detected"))
    assert plan is not None
    assert plan.run == ()
    assert [c.call_id for c, _ in plan.answer] == ["c1", "c2"]
    assert f"the response was {status} (turn_detected)" in plan.answer[0][1]
    assert not plan.follow_up


async def _sleepy(seconds: float) -> str:
    await trio.sleep(seconds)
    return "slept"


def _boom() -> str:
    raise RuntimeError("disk on fire")


def _blocking() -> dict[str, int]:
    time.sleep(0.01)
    return {"answer": 42}


async def test_run_call_turns_every_outcome_into_an_output(
    autojump_clock: trio.testing.MockClock,
) -> None:
    tools = tool_registry(
        [
            tool(timeout=1)(_sleepy),
            _boom,
            FunctionTool(lambda x: x * 2, name="double", parameters={"type": "object"}),
            FunctionTool(lambda: object(), name="opaque", parameters={"type": "object"}),
        ]
    )

    async def run(name: str, arguments: str = "{}") -> str:
        return await run_call(tools, ToolCall(call_id="c", name=name, arguments=arguments), 30)

    assert await run("_sleepy", '{"seconds": 0.5}') == "slept"
    assert orjson.loads(await run("_sleepy", '{"seconds": 5}')) == {
        "error": "tool '_sleepy' timed out after 1 s"
    }
    assert orjson.loads(await run("_boom")) == {
        "error": "tool '_boom' raised RuntimeError: disk on fire"
    }
    assert "unknown tool 'nope' (known: _boom, _sleepy, double, opaque)" in await run("nope")
    assert "missing required argument(s): seconds" in await run("_sleepy")
    assert await run("double", '{"x": [1]}') == "[1,1]"  # JSON for anything but str
    assert (await run("opaque")).startswith("<object object")  # str() when not JSON


async def test_a_thread_tool_runs_off_the_event_loop() -> None:
    blocking = tool(thread=True)(_blocking)
    with trio.fail_after(5):
        output = await run_call(
            {"_blocking": blocking}, ToolCall(call_id="c", name="_blocking", arguments=""), 5
        )
    assert orjson.loads(output) == {"answer": 42}
    assert "thread" in repr(blocking)


@given(
    status=st.sampled_from(["completed", "incomplete", "cancelled", "failed"]),
    calls=st.lists(st.sampled_from(["completed", "incomplete", "in_progress"]), max_size=6),
    messages=st.integers(min_value=0, max_value=2),
)
def test_every_call_of_any_response_gets_exactly_one_output(
    status: str, calls: list[str], messages: int
) -> None:
    items = [_call(f"c{i}", s) for i, s in enumerate(calls)]
    items += [
        rt.ConversationItem(id=f"m{i}", type="message", role="assistant") for i in range(messages)
    ]
    plan = plan_calls(_response(status, *items))
    if not calls:
        assert plan is None
        return
    assert plan is not None
    answered = [c.call_id for c in plan.run] + [c.call_id for c, _ in plan.answer]
    assert sorted(answered) == sorted(f"c{i}" for i in range(len(calls)))
    assert plan.follow_up == (status in ("completed", "incomplete"))
    assert all(c.status == "completed" for c in plan.run)
    assert all(orjson.loads(output)["error"].startswith("not run") for _, output in plan.answer)
