"""The reference server's state machine: the settings a response runs with, and its failures.

Rules these tests follow:

* Every emitted event is validated by :class:`server_helpers.Harness` (schemas, ids, names).
* The engine is :class:`server_helpers.FakeEngine`: fixed outputs, optional pacing.
* Time is a number the test chooses; ``Harness.advance`` releases what fell due.
* ``# checklist N`` names the item of server-behaviour.md section 10 a test covers.
"""

from __future__ import annotations

from typing import Any

import pytest
from server_helpers import create_response, error_of, responding_harness, types


def test_settings_are_taken_from_the_config_at_response_start() -> None:
    h = responding_harness()
    h.update(
        voice="verse",
        output_audio_format="g711_ulaw",
        temperature=1.1,
        max_response_output_tokens=200,
    )
    response = create_response(h)[0]["response"]
    assert (response["voice"], response["output_audio_format"]) == ("verse", "g711_ulaw")
    assert (response["temperature"], response["max_output_tokens"]) == (1.1, 200)
    request = h.engine.requests[0]
    assert (request.voice, request.output_audio_format, request.max_output_tokens) == (
        "verse",
        "g711_ulaw",
        200,
    )


def test_per_response_overrides_apply_to_that_response_only() -> None:
    h = responding_harness()
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    response = create_response(
        h,
        instructions="Say hi.",
        voice="ash",
        tools=[tool],
        tool_choice="required",
        temperature=0.7,
    )[0]["response"]
    assert response["voice"] == "ash"
    assert response["temperature"] == 0.7
    request = h.engine.requests[0]
    assert request.instructions == "Say hi."
    assert request.tool_choice == "required"
    assert [t.name for t in request.tools] == ["f"]
    assert create_response(h)[0]["response"]["voice"] == "alloy"


def test_max_output_tokens_in_a_request_is_an_unknown_parameter() -> None:
    error = error_of(create_response(responding_harness(), max_output_tokens=100))
    assert (error["code"], error["param"]) == ("unknown_parameter", "response.max_output_tokens")


@pytest.mark.parametrize(
    ("response", "param"),
    [
        ({"conversation": "conv_1"}, "response.conversation"),
        ({"modalities": ["audio"]}, "response.modalities"),
        ({"temperature": 2.0}, "response.temperature"),
        ({"voice": "robot"}, "response.voice"),
        ({"max_response_output_tokens": 5000}, "response.max_response_output_tokens"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "response.metadata"),
        ({"tool_choice": "nothing"}, "response.tool_choice"),
    ],
)
def test_invalid_overrides_are_refused(response: dict[str, Any], param: str) -> None:
    h = responding_harness()
    error = error_of(create_response(h, **response))
    assert (error["code"], error["param"]) == ("invalid_value", param)
    assert h.engine.requests == []


def test_long_metadata_values_are_refused() -> None:
    error = error_of(create_response(responding_harness(), metadata={"k": "v" * 513}))
    assert (error["code"], error["param"]) == ("string_above_max_length", "response.metadata.k")


def test_voice_is_frozen_once_assistant_audio_exists() -> None:  # checklist 15
    h = responding_harness()
    assert h.update(voice="ash")[0]["session"]["voice"] == "ash"  # free before any audio
    create_response(h)
    error = error_of(
        h.send({"type": "session.update", "event_id": "v1", "session": {"voice": "coral"}})
    )
    assert error["code"] == "cannot_update_voice"
    assert error["message"] == "Cannot update a conversation's voice if assistant audio is present."
    assert error["param"] is None
    assert error["event_id"] == "v1"
    assert h.update()[0]["session"]["voice"] == "ash"
    assert types(h.update(voice="ash")) == ["session.updated"]  # re-sending it is fine
    assert error_of(create_response(h, voice="coral"))["code"] == "cannot_update_voice"


def test_a_failing_engine_fails_the_response_not_the_session() -> None:
    def boom(request: Any) -> Any:
        raise RuntimeError("no model today")

    h = responding_harness()
    h.engine.outputs = boom
    events = create_response(h)
    assert types(events) == ["response.created", "response.done", "rate_limits.updated"]
    done = events[1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "engine_error"
    assert h.state.close is None
