"""The session's shape: a final facade owning parts, no mixins, no import cycle; parts that
work without a socket (the h11 way: events in, what it sent out)."""

from __future__ import annotations

import ast
from typing import Any

import pytest
import trio
import trio.testing
from test_layers import PACKAGE, SOURCES, _imports, _module_name

import trio_realtime as rt
from trio_realtime._session._layer import READY, ResponseLayer
from trio_realtime._session._response_handles import REQUEST_KEY


def test_the_session_is_a_final_facade_with_no_bases_of_its_own() -> None:
    assert rt.RealtimeSession.__mro__ == (rt.RealtimeSession, object)
    assert getattr(rt.RealtimeSession, "__final__", False)
    assert "__dict__" not in dir(rt.RealtimeSession)  # slotted: no attributes appear later
    with pytest.raises(TypeError, match="no public constructor"):
        rt.RealtimeSession()


def test_no_part_of_the_session_stands_in_for_another() -> None:
    for path in (PACKAGE / "_session").glob("*.py"):
        assert "NotImplementedError" not in path.read_text(), path.name


def _cycles(names: set[str]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        name = _module_name(path)
        if name not in names:
            continue
        deps = set()
        for module in _imports(path):  # TYPE_CHECKING imports count too
            while module and module not in names:
                module = module.rpartition(".")[0]
            if module and module != name:
                deps.add(module)
        graph[name] = deps
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


@pytest.mark.parametrize("layer", ["_core", "_wire", "_session"])
def test_no_import_cycle_within_a_layer(layer: str) -> None:
    names = {
        _module_name(p) for p in SOURCES if _module_name(p).startswith(f"trio_realtime.{layer}")
    }
    assert _cycles(names) == []


def test_the_response_layer_never_sees_the_session() -> None:
    tree = ast.parse((PACKAGE / "_session" / "_layer.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "_session" not in imported
    assert "_inbound" not in imported


# --- The response layer alone --------------------------------------------------------------


class ListOutbox:
    """A list-backed outbox: what the layer sent, in order."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self._ids = iter(range(1, 10_000))

    def new_id(self) -> str:
        return f"id{next(self._ids)}"

    async def send(self, event: Any) -> Any:
        self.sent.append(event)
        return event

    async def send_quietly(self, event: rt.ClientEvent) -> bool:
        self.sent.append(event)
        return True


class Gauge:
    waiting = 0

    def enter(self) -> None:
        self.waiting += 1

    def exit(self) -> None:
        self.waiting -= 1


class Quiet:
    """No server error to mention; deadlines kept by nobody."""

    pokes = 0

    def last_error_note(self) -> str:
        return ""

    def poke(self) -> None:
        self.pokes += 1


def make_layer(**kwargs: Any) -> tuple[ResponseLayer, ListOutbox, list[Any]]:
    outbox, spawned = ListOutbox(), []
    layer = ResponseLayer(
        outbox,
        lambda fn, *args, name=None: spawned.append((fn, args)),
        Gauge(),
        Quiet(),
        Quiet(),
        None,
        tools=kwargs.pop("tools", {}),
        tool_timeout=5,
        request_timeout=kwargs.pop("request_timeout", 30),
        handle_interruptions=True,
        max_queued_responses=8,
    )
    return layer, outbox, spawned


def created(response_id: str, metadata: Any) -> rt.ResponseCreated:
    """``response.created``; ``metadata`` a dict, ``None`` (null) or ``rt.UNSET`` (absent)."""
    response = rt.Response(id=response_id, conversation_id="conv_1", metadata=metadata)
    return rt.ResponseCreated(event_id="s", response=response)


def done(response_id: str) -> rt.ResponseDone:
    return rt.ResponseDone(
        event_id="s",
        response=rt.Response(id=response_id, conversation_id="conv_1", status="completed"),
    )


async def test_requests_go_one_at_a_time_and_are_matched_by_their_tag() -> None:
    layer, outbox, _ = make_layer()
    first = await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    second = await layer.request(rt.ResponseConfig(instructions="2"), rt.UNSET, 16)
    assert [type(e) for e in outbox.sent] == [rt.ResponseCreate]  # the second one waits
    tag = outbox.sent[0].response.metadata[REQUEST_KEY]
    layer.response_created(created("resp_1", metadata={REQUEST_KEY: tag}))
    assert first.response_id == "resp_1"
    layer.response_done(done("resp_1"))
    assert layer.followups == [READY]
    next_request = layer.take_ready()
    assert next_request is not None
    assert next_request.response.instructions == "2"
    assert second.request is next_request


async def test_an_untagged_response_is_matched_by_order_once_the_server_refused_metadata() -> None:
    layer, outbox, _ = make_layer()
    handle = await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    refusal = rt.ErrorEvent(
        event_id="s",
        error=rt.ErrorDetails(
            type="invalid_request_error",
            message="Specifying `response.metadata` is not supported. The server...",
        ),
    )
    assert layer.error(refusal) is True  # its own tag's refusal: handled
    layer.response_created(created("resp_1", metadata=rt.UNSET))
    assert handle.response_id == "resp_1"
    layer.response_done(done("resp_1"))
    await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    assert outbox.sent[-1].response.metadata is rt.UNSET  # no tag any more


async def test_a_server_that_echoes_metadata_never_has_an_untagged_response_taken_for_ours() -> (
    None
):
    layer, _outbox, _ = make_layer()
    mine = await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    layer.response_created(created("resp_vad", metadata=None))  # metadata: null, no tag
    assert mine.response_id is None


async def test_a_collision_with_a_vad_response_is_sent_again_after_it() -> None:
    layer, outbox, _ = make_layer()
    await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    event_id = outbox.sent[0].event_id
    collision = rt.ErrorEvent(
        event_id="s",
        error=rt.ErrorDetails(
            type="invalid_request_error",
            code="conversation_already_has_active_response",
            message="busy",
            event_id=event_id,
        ),
    )
    layer.response_created(created("resp_vad", metadata=None))
    assert layer.error(collision) is True
    layer.response_done(done("resp_vad"))
    again = layer.take_ready()
    assert again is not None
    assert again.event_id != event_id
    assert layer.errors_handled == 1


async def test_a_request_past_its_deadline_fails_and_lets_the_next_one_go(
    autojump_clock: trio.testing.MockClock,
) -> None:
    layer, _outbox, spawned = make_layer(request_timeout=3)
    first = await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    await layer.request(rt.ResponseConfig(), rt.UNSET, 16)
    assert layer.deadline == pytest.approx(trio.current_time() + 3)
    layer.expire(trio.current_time() + 3)
    with pytest.raises(trio.TooSlowError, match="within 3 s"):
        await first.done()
    assert len(spawned) == 1  # a task sends the next request
