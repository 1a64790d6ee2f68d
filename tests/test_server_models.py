"""The reference server's model allow-list: the live service's model names by default,
``invalid_model`` and close 4000 for anything else, ``serve --models`` to change the list.

Rules these tests follow:

* State-machine tests use :class:`server_helpers.Harness` (every event validated).
* Wire tests use the real server (:func:`open_local_server`, or ``trio-realtime serve`` in a
  child process for the command's flags) and the raw client of ``test_server_wire``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import trio
from server_helpers import Harness, error_of, types
from test_cli_serve import _LISTENING, Port, _read_line
from test_server_wire import raw_client

from trio_realtime.server import DEFAULT_MODELS, ServerOptions
from trio_realtime.server._options import REALTIME_MODELS, TRANSCRIPTION_MODELS
from trio_realtime.server._state import ConnectionState
from trio_realtime.testing import open_local_server

UNDEFINED = "undefined"  # what openai-node 4.x/5.x put in the URL when no model was given


def test_the_default_list_is_the_catalogs_models_and_the_seeds() -> None:
    assert "gpt-4o-realtime-preview" in REALTIME_MODELS
    assert "gpt-realtime-2025-08-28" in REALTIME_MODELS
    assert REALTIME_MODELS | TRANSCRIPTION_MODELS | {"opeai/AudioLLM/Voice2"} == DEFAULT_MODELS
    assert ServerOptions().allowed_models == DEFAULT_MODELS


@pytest.mark.parametrize("model", sorted(DEFAULT_MODELS))
def test_every_default_model_opens_a_session(model: str) -> None:
    h = Harness(model)
    assert types(h.opening) == ["session.created"]
    assert h.opening[0]["session"]["model"] == model
    assert h.state.close is None


@pytest.mark.parametrize("model", [UNDEFINED, "gpt-4o-realtime", "null", "GPT-REALTIME"])
def test_an_unknown_model_gets_invalid_model_and_close_4000(model: str) -> None:
    h = Harness(model)
    error = error_of(h.opening)
    assert (error["type"], error["code"], error["param"], error["event_id"]) == (
        "invalid_request_error",
        "invalid_model",
        None,
        None,
    )
    assert model in error["message"]
    assert h.state.close == (4000, "invalid_request_error.invalid_model")


def _opening(model: str, allowed: frozenset[str] | None) -> list[str]:
    # Not through Harness: the spec's schema knows only the beta's own model names.
    engine: Any = None  # opening asks nothing of the engine
    options = ServerOptions(allowed_models=allowed)
    state = ConnectionState(intent=None, model=model, now=0.0, engine=engine, options=options)
    return [event.type for event in state.open()]


def test_allowed_models_none_accepts_any_name_and_a_list_only_its_own() -> None:
    assert _opening(UNDEFINED, None) == ["session.created"]
    mine = frozenset({"my-model"})
    assert _opening("my-model", mine) == ["session.created"]
    assert _opening("gpt-realtime", mine) == ["error"]


async def test_model_undefined_is_refused_on_the_wire_and_the_server_stays_up() -> None:
    with trio.fail_after(10):
        async with open_local_server() as server:
            async with raw_client(server, f"/v1/realtime?model={UNDEFINED}") as client:
                events, closed = await client.receive_until_closed()
            assert [e["error"]["code"] for e in events] == ["invalid_model"]
            assert (closed.code, closed.reason) == (4000, "invalid_request_error.invalid_model")
            async with raw_client(server, "/v1/realtime?model=gpt-realtime") as client:
                assert (await client.receive())["type"] == "session.created"


async def _serve(*args: str) -> tuple[trio.Process, Port]:
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0", *args]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    match = _LISTENING.fullmatch(await _read_line(process.stdout))
    assert match
    return process, Port(int(match[1]))


async def _first_event_and_close(port: Port, model: str) -> tuple[str, int | None]:
    async with raw_client(port, f"/v1/realtime?model={model}") as client:
        first = await client.receive()
        if first["type"] == "error":
            _events, closed = await client.receive_until_closed()
            return first["error"]["code"], closed.code
    return first["type"], None


@pytest.mark.parametrize(
    ("args", "accepted", "refused"),
    [
        ((), ["gpt-4o-realtime-preview", "opeai/AudioLLM/Voice2"], [UNDEFINED]),
        (("--models", "alpha,beta"), ["alpha", "beta"], ["gpt-realtime", UNDEFINED]),
        (("--models", "any"), [UNDEFINED, "x"], []),
    ],
    ids=["default", "a-list", "any"],
)
async def test_serve_models(args: tuple[str, ...], accepted: list[str], refused: list[str]) -> None:
    with trio.fail_after(30):
        process, port = await _serve(*args)
        try:
            for model in accepted:
                assert await _first_event_and_close(port, model) == ("session.created", None)
            for model in refused:
                assert await _first_event_and_close(port, model) == ("invalid_model", 4000)
        finally:
            process.terminate()
            with trio.CancelScope(shield=True):
                await process.wait()
                if process.stdout is not None:
                    await process.stdout.aclose()
