"""Recordings of hostile sessions: no secret is ever written, and every line reads back.

The frames come from a scripted server to a real session that records (the path a user
takes); the recording is then checked byte by byte for the secrets, read back, and replayed
with the ``trio-realtime replay`` command.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
from cli_helpers import run_cli
from fake_server import ServerConnection, client, fake_server, session_created
from hypothesis import given
from hypothesis import strategies as st

import trio_realtime as rt
from trio_realtime._core._recording import REDACTED, Recorder, read_recording
from trio_realtime._core._redaction import Redactor

API_KEY = "sk-proj-Session0Key0ABCDEFGHIJKLMNOP"
SECRET = "ek_68f0c0ffee00ephemeral0secret"

#: Frames a server (or a proxy) might send that carry a secret, by how they carry it.
HOSTILE_FRAMES: dict[str, str | bytes] = {
    "session event that fails to decode": orjson.dumps(
        {
            "type": "session.created",
            "event_id": "event_1",
            "session": {"modalities": 5, "client_secret": {"value": SECRET, "expires_at": 1}},
        }
    ).decode(),
    "escaped key name": (
        '{"type":"session.updated","event_id":"event_2",'
        '"session":{"client\\u005fsecret":{"value":"' + SECRET + '","expires_at":2}}}'
    ),
    "escaped key and value": (
        '{"type":"session.updated","event_id":"event_3","session":{"\\u0063lient_secret":'
        '{"value":"' + "".join(f"\\u{ord(c):04x}" for c in SECRET) + '"}}}'
    ),
    "bare string": orjson.dumps(
        {"type": "session.updated", "event_id": "event_4", "session": {"client_secret": SECRET}}
    ).decode(),
    "unknown event type": orjson.dumps(
        {"type": "x.future", "event_id": "event_5", "client_secret": {"value": SECRET}}
    ).decode(),
    "deep in an unknown field": orjson.dumps(
        {"type": "x.future", "a": [{"b": {"Client_Secret": [SECRET]}}]}
    ).decode(),
    "text that is not JSON": '{"type":"session.created","client_secret":"' + SECRET + '" oops',
    "binary frame": b"\x00\x01client_secret=" + SECRET.encode(),
    "an error echoing the API key": orjson.dumps(
        {
            "type": "error",
            "event_id": "event_6",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": f"Incorrect API key provided: {API_KEY}.",
                "param": None,
                "event_id": None,
            },
        }
    ).decode(),
    "a key-shaped string in a transcript": orjson.dumps(
        {
            "type": "response.text.delta",
            "event_id": "event_7",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": f"your key is {SECRET}, do not share it",
        }
    ).decode(),
}
WHOLE_SECRETS = (SECRET, API_KEY)


def secret_forms(secret: str) -> list[bytes]:
    """The ways ``secret`` could appear in a file: plain, JSON-escaped, base64 at any offset."""
    forms = [secret.encode(), "".join(f"\\u{ord(c):04x}" for c in secret).encode()]
    for offset in range(3):
        encoded = base64.b64encode(b"x" * offset + secret.encode())
        forms.append(encoded[4 : len(encoded) - 4])
    return forms


async def record_hostile_session(path: Path) -> list[Any]:
    async def script(conn: ServerConnection) -> None:
        await conn.send(session_created())
        for frame in HOSTILE_FRAMES.values():
            await conn.send(frame)
        await conn.close(1000, "done")

    received: list[Any] = []
    with trio.fail_after(10):
        async with (
            fake_server(script) as server,
            client(server, api_key=API_KEY, record=path) as session,
        ):
            async for event in session:
                received.append(event)
    return received


async def test_no_secret_is_written_whatever_its_shape(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    received = await record_hostile_session(path)
    assert len(received) == 1 + len(HOSTILE_FRAMES)  # the session delivered every frame
    data = path.read_bytes()
    for secret in WHOLE_SECRETS:
        for form in secret_forms(secret):
            assert form not in data, (secret, form)
    assert REDACTED.encode() in data
    for line in data.splitlines():
        orjson.loads(line)  # every line is JSON, whatever the frame was


def test_a_secret_object_keeps_its_shape_and_null_stays_null(tmp_path: Path) -> None:
    path = tmp_path / "shape.jsonl"
    recorder = Recorder.open(path)
    for secret in ({"value": SECRET, "expires_at": 7}, None):
        frame = orjson.dumps(
            {"type": "session.created", "event_id": "e", "session": {"client_secret": secret}}
        )
        recorder.record("server", "session.created", frame)
    recorder.close()
    first, second = read_recording(path).events
    assert first.raw["session"]["client_secret"] == {"value": REDACTED, "expires_at": 7}
    assert second.raw["session"]["client_secret"] is None


def test_frames_without_secrets_are_written_exactly_as_they_came(tmp_path: Path) -> None:
    frame = '{"type":"x.future","event_id":"event_1","text":"ask-me anything","n":[1,2]}'
    path = tmp_path / "plain.jsonl"
    recorder = Recorder.open(path, secrets=[API_KEY])
    recorder.record("server", "x.future", frame)
    recorder.close()
    assert path.read_bytes().splitlines()[1].endswith(b'"event":' + frame.encode() + b"}")


# --- Reading back ------------------------------------------------------------------------------


async def test_a_recording_with_undecodable_frames_reads_back_in_full(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    received = await record_hostile_session(path)
    recording = read_recording(path)
    assert len(recording.events) == len(received)
    failures = [e for e in recording.events if isinstance(e.event, rt.DecodeFailure)]
    live = [e for e in received if isinstance(e, rt.DecodeFailure)]
    # The session event with a bad field, the bare-string secret, the text that is not
    # JSON and the binary frame.
    assert len(failures) == len(live) == recording.decode_failures == 4
    assert all(e.direction == "server" for e in failures)
    first = failures[0].event
    assert isinstance(first, rt.DecodeFailure)
    assert (first.error.event_type, first.error.path) == ("session.created", "session.modalities")


def test_lines_cut_short_or_written_by_older_versions_read_back_as_decode_failures(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.jsonl"
    path.write_bytes(
        b'{"recording":"trio-realtime","version":1}\n'
        b'{"t":0.1,"dir":"server","event":{"type":"input_audio_buffer.cleared","event_id":"e"}}\n'
        b'{"t":0.2,"dir":"server","event":not json at all}\n'
        b'{"t":0.3,"dir":"server","event":{"type":"input_audio_buffer.cleared","event_id":"f"}}\n'
        b'{"t":0.4,"dir":"server","event":{"type":"response.audio.del'
    )
    events = read_recording(path).events
    assert [type(e.event).__name__ for e in events] == [
        "InputAudioBufferCleared",
        "DecodeFailure",
        "InputAudioBufferCleared",
        "DecodeFailure",
    ]
    assert events[1].event.raw == "not json at all"  # type: ignore[union-attr]
    assert events[3].t == 0.4


@pytest.mark.parametrize("as_json", [False, True])
async def test_replay_goes_on_past_undecodable_frames(tmp_path: Path, as_json: bool) -> None:
    path = tmp_path / "hostile.jsonl"
    await record_hostile_session(path)
    result = await run_cli("replay", str(path), *(["--json"] if as_json else []), cwd=tmp_path)
    assert result.status == 0, result.stderr
    if as_json:
        assert orjson.loads(result.stdout)["decode_failures"] == 4
    else:
        assert "decode failures: 4 frames" in result.stdout
    assert SECRET not in result.stdout + result.stderr


# --- The screen is sound ---------------------------------------------------------------------

_KEYS = st.sampled_from(
    ["type", "delta", "event_id", "client_secret", "Secret", "api_key", "x", "password", "a_b"]
)
_STRINGS = st.text(alphabet='abcesk-_: "\\é' + "0123456789ABCDEFGHIJKLMNOP", max_size=40)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@given(value=_JSON, indent=st.booleans(), ascii_only=st.booleans())
def test_a_frame_the_screen_passes_has_nothing_to_redact(
    value: Any, indent: bool, ascii_only: bool
) -> None:
    data = json.dumps(value, indent=1 if indent else None, ensure_ascii=ascii_only).encode()
    redactor = Redactor([API_KEY])
    if not redactor.screen(data):
        parsed = json.loads(data)
        assert redactor.scrub_json(copy.deepcopy(parsed)) == parsed
