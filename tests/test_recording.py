"""Recordings: every frame both ways as JSON lines, read back typed, secrets never written."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import trio_realtime as rt
from trio_realtime._core._recording import REDACTED, Recorder, read_recording


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_recording_reads_back_every_frame_in_order_with_times(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "session.jsonl"
    recorder = Recorder.open(
        path, clock=clock, metadata={"model": "m", "url": "ws://h/v1/realtime"}
    )
    sent = rt.InputAudioBufferAppend.from_pcm(bytes(4800), event_id="evt_1")
    recorder.record("client", sent.type, rt.encode(sent))
    clock.now = 100.25
    frame = b'{"type":"x.future","event_id":"event_1","n":1}'
    recorder.record("server", "x.future", frame)
    recorder.close()
    recorder.close()  # idempotent

    recording = read_recording(path)
    assert recording.header["model"] == "m"
    assert [(e.t, e.direction) for e in recording.events] == [(0.0, "client"), (0.25, "server")]
    assert recording.events[0].event == sent
    assert recording.events[1].event == rt.UnknownEvent(
        raw={"type": "x.future", "event_id": "event_1", "n": 1}
    )


def test_ephemeral_keys_are_redacted_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "secret.jsonl"
    recorder = Recorder.open(path)
    update = rt.SessionUpdate(
        session=rt.Session(client_secret=rt.ClientSecret(value="ek_abc123secret"))
    )
    recorder.record("client", update.type, rt.encode(update))
    created = (
        b'{"type":"session.created","event_id":"event_1",'
        b'"session":{"id":"sess_1","client_secret":{"value":"ek_server_secret","expires_at":1}}}'
    )
    recorder.record("server", "session.created", created)
    recorder.close()
    text = path.read_text()
    assert "ek_abc123secret" not in text
    assert "ek_server_secret" not in text
    events = read_recording(path).events
    assert events[1].raw["session"]["client_secret"] == {"value": REDACTED, "expires_at": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a trio-realtime recording"),
        (b"hello\n", "not a trio-realtime recording"),
        (b'{"recording":"trio-realtime","version":99}\n', "unsupported recording version 99"),
        (b'{"recording":"trio-realtime","version":1}\n{"t":0}\n', ":2: malformed recording line"),
        (
            b'{"recording":"trio-realtime","version":1}\n{"t":0,"dir":"up","event":{"type":"a"}}\n',
            ":2: malformed",
        ),
    ],
)
def test_a_file_that_is_not_a_recording_gets_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_recording(path)


def test_each_line_is_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    recorder = Recorder.open(path)
    for i in range(3):
        recorder.record(
            "client",
            "input_audio_buffer.commit",
            rt.encode(rt.InputAudioBufferCommit(event_id=f"e{i}")),
        )
    recorder.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4
    assert all(isinstance(orjson.loads(line), dict) for line in lines)
