"""Both dialects on the wire: how the reference server picks one, and how the client is told
when a server does not speak the one it asked for.

As on the live services, the beta marker (``OpenAI-Beta: realtime=v1``, or the browser's
``openai-beta.realtime-v1`` subprotocol) selects beta and its absence GA; ``dialects=``
(``serve --dialects``) restricts the server, and a GA-only server answers beta the way
OpenAI's endpoint has since 2026-05-12.
"""

from __future__ import annotations

from functools import partial

import pytest
import trio
from test_server_wire import BETA, DEADLINE, KEY, error_of, raw_client

import trio_realtime as rt
from trio_realtime.testing import open_local_server

AUTH = (b"Authorization", f"Bearer {KEY}".encode())
USER_TEXT = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
}


async def test_the_beta_marker_selects_beta_and_its_absence_ga() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server() as server:
            async with raw_client(server, headers=[AUTH, BETA]) as client:
                session = (await client.receive())["session"]
                assert session["modalities"] == ["text", "audio"]
                await client.send(USER_TEXT)
                assert (await client.receive())["type"] == "conversation.item.created"
            async with raw_client(server, headers=[AUTH]) as client:
                session = (await client.receive())["session"]
                assert session["type"] == "realtime"
                assert "modalities" not in session
                await client.send(USER_TEXT)
                added, done = await client.receive(), await client.receive()
                assert (added["type"], done["type"]) == (
                    "conversation.item.added",
                    "conversation.item.done",
                )
            subprotocols = ("realtime", f"openai-insecure-api-key.{KEY}")
            for offered, shape in ((("openai-beta.realtime-v1",), "beta"), ((), "ga")):
                async with raw_client(
                    server, headers=[], subprotocols=subprotocols + offered
                ) as client:
                    session = (await client.receive())["session"]
                    assert ("type" in session) == (shape == "ga")
            assert [c.dialect for c in server.connections] == ["beta", "ga", "beta", "ga"]


async def test_a_ga_only_server_answers_beta_as_openai_does() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(dialects=["ga"]) as server:
            async with raw_client(server, headers=[AUTH, BETA]) as client:
                events, closed = await client.receive_until_closed()
            (event,) = events
            error = error_of(event)
            assert error["code"] == "beta_api_shape_disabled"
            assert error["message"] == (
                "The Realtime Beta API is no longer supported. Please use /v1/realtime for the "
                "GA API."
            )
            assert (closed.code, closed.reason) == (
                4000,
                "invalid_request_error.beta_api_shape_disabled",
            )
            async with raw_client(server, headers=[AUTH]) as client:
                assert (await client.receive())["session"]["type"] == "realtime"


async def test_a_beta_only_server_refuses_a_client_without_the_marker() -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(dialects=["beta"]) as server:
            async with raw_client(server, headers=[AUTH]) as client:
                events, closed = await client.receive_until_closed()
            assert error_of(events[0])["code"] == "missing_beta_header"
            assert (closed.code, closed.reason) == (
                4000,
                "invalid_request_error.missing_beta_header",
            )


@pytest.mark.parametrize(
    ("served", "asked", "way_out"), [("ga", "beta", "ga"), ("beta", "ga", "beta")]
)
async def test_connect_says_which_dialect_to_use_instead(
    served: str, asked: str, way_out: str
) -> None:
    with trio.fail_after(DEADLINE):
        async with open_local_server(dialects=[served]) as server:
            with pytest.raises(rt.DialectRefused) as raised:
                async with rt.connect(
                    model="gpt-realtime",
                    url=server.url,
                    api_key=KEY,
                    dialect=asked,  # type: ignore[arg-type]
                ):
                    pass  # pragma: no cover - connect raises
    refused = raised.value
    assert isinstance(refused, rt.ConnectionClosed)
    assert (refused.code, refused.dialect, refused.suggestion) == (4000, asked, way_out)
    assert f'dialect="{way_out}"' in str(refused)
    assert KEY not in str(refused)


def test_the_server_checks_its_dialects() -> None:
    async def serve_with(**kwargs: object) -> None:
        async with open_local_server(**kwargs):  # type: ignore[arg-type]
            pass  # pragma: no cover

    with pytest.raises(ValueError, match="dialects must be"):
        trio.run(partial(serve_with, dialects=["v2"]))
    with pytest.raises(ValueError, match="dialects must be"):
        trio.run(partial(serve_with, dialects=[]))
    with pytest.raises(ValueError, match="strict_beta_header"):
        trio.run(partial(serve_with, dialects=["ga"], strict_beta_header=True))
