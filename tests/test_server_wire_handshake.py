"""The sans-I/O pieces of the server's handshake: reading the request, and the credentials."""

from __future__ import annotations

import pytest
import trio

from trio_realtime.server import serve
from trio_realtime.server._auth import ApiKeys, Credential, find_credential, mask_key
from trio_realtime.server._handshake import read_handshake, select_subprotocol

KEY = "sk-proj-secret-0123456789"


def test_a_bearer_header_is_found_whatever_the_case_of_name_and_scheme() -> None:
    found = find_credential([("AUTHORIZATION", f"bEaReR   {KEY} ")], [])
    assert found == Credential(key=KEY, source="header")


def test_the_header_key_wins_and_the_subprotocol_is_the_fallback() -> None:
    subprotocols = ["realtime", "openai-insecure-api-key.sub-key"]
    header = find_credential([("authorization", f"Bearer {KEY}")], subprotocols)
    assert header == Credential(key=KEY, source="header")
    sub = find_credential([("authorization", "Basic abc")], subprotocols)
    assert sub == Credential(key="sub-key", source="subprotocol")


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [([], []), ([("authorization", "Bearer ")], ["openai-insecure-api-key."])],
)
def test_empty_credentials_are_missing_credentials(
    headers: list[tuple[str, str]], subprotocols: list[str]
) -> None:
    assert find_credential(headers, subprotocols) is None


def test_keys_are_checked_against_every_configured_key() -> None:
    keys = ApiKeys(["first-key", KEY])
    assert keys.is_valid(KEY)
    assert keys.is_valid("first-key")
    assert not keys.is_valid(KEY + "x")
    assert not keys.is_valid("")
    assert ApiKeys().is_valid("anything")
    assert not ApiKeys().is_valid("")


def test_a_key_set_never_shows_its_keys() -> None:
    keys = ApiKeys([KEY])
    assert KEY not in repr(keys)
    assert KEY not in repr(Credential(key=KEY, source="header"))
    failure = keys.check(Credential(key="sk-wrong-key-abcdefghij", source="header"))
    assert failure is not None
    assert "sk-wrong" not in failure.message


def test_only_the_last_four_characters_of_a_long_key_are_shown() -> None:
    assert mask_key(KEY) == "****6789"
    assert mask_key("short-key") == "****"


@pytest.mark.parametrize("keys", [[], [""]])
def test_an_empty_key_set_is_refused(keys: list[str]) -> None:
    with pytest.raises(ValueError, match="api_keys"):
        ApiKeys(keys)


async def test_serve_refuses_bad_arguments_before_binding() -> None:
    with pytest.raises(ValueError, match="api_keys"):
        await serve("127.0.0.1", 0, api_keys=[])
    with pytest.raises(ValueError, match="stuck_client_timeout"):
        await serve("127.0.0.1", 0, stuck_client_timeout=0)
    with trio.fail_after(1), pytest.raises(ValueError, match="max_message_size"):
        await serve("127.0.0.1", 0, max_message_size=0)


def test_the_handshake_record_redacts_credentials_everywhere() -> None:
    handshake, credential = read_handshake(
        f"/v1/realtime?model=m&api-key={KEY}",
        [(b"Authorization", f"Bearer {KEY}".encode()), (b"User-Agent", b"OpenAI/Python 3.54")],
        ["realtime", f"openai-insecure-api-key.{KEY}"],
    )
    assert credential == Credential(key=KEY, source="header")
    assert KEY not in repr(handshake)
    assert handshake.header("authorization") == "Bearer <redacted>"
    assert handshake.header("USER-AGENT") == "OpenAI/Python 3.54"
    assert handshake.subprotocols == ("realtime", "openai-insecure-api-key.<redacted>")
    assert handshake.model == "m"
    assert ("api-key", "<redacted>") in handshake.query


def test_the_handshake_reads_model_intent_and_the_beta_marker() -> None:
    handshake, _ = read_handshake(
        "/v1/realtime?intent=transcription&extra=1",
        [(b"openai-beta", b"assistants=v2, realtime=v1")],
        [],
    )
    assert (handshake.path, handshake.model, handshake.intent) == (
        "/v1/realtime",
        None,
        "transcription",
    )
    assert handshake.beta_header
    assert handshake.beta
    plain, _ = read_handshake("/v1/realtime?model=", [(b"openai-beta", b"realtime=v2")], [])
    assert plain.model == ""
    assert not plain.beta


def test_only_realtime_is_ever_selected_as_subprotocol() -> None:
    assert select_subprotocol(["openai-insecure-api-key.k", "realtime"]) == "realtime"
    assert select_subprotocol(["openai-insecure-api-key.k"]) is None
    assert select_subprotocol([]) is None
