"""``trio-realtime replay``: recorded sessions rebuilt offline and re-sent, as a user runs it.

See ``cli_helpers`` for the rules these tests follow (real subprocess, real files, real server).
The recordings are made by the commands themselves (``talk --record``, ``transcribe --record``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import trio
from cli_helpers import (
    DEADLINE,
    assert_one_line_error,
    environment,
    run_cli,
    speech_pcm,
    write_wav,
)

from trio_realtime import read_recording
from trio_realtime.testing import open_local_server

TURN = re.compile(r"turn (\d) \(server VAD, speech ended at \d+\.\d\d s\): first audio \d+ ms, .*")


def record(directory: Path, *args: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "trio_realtime", *args, "--fast", "-q", "--record", "rec.jsonl"],
        cwd=directory,
        env=environment(),
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done
    return directory / "rec.jsonl"


@pytest.fixture(scope="module")
def talk_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("talk")
    write_wav(directory / "q.wav", speech_pcm((1500, 1200)), rate=16000, channels=2)
    return record(directory, "talk", "q.wav")


async def test_a_talk_recording_is_rebuilt_offline(talk_recording: Path, tmp_path: Path) -> None:
    result = await run_cli("replay", str(talk_recording), cwd=tmp_path)
    assert result.status == 0, result
    head, *lines, usage = result.lines
    assert re.fullmatch(
        r"recording: .*rec\.jsonl: \d+ events over \d+\.\d\d s, ws://127\.0\.0\.1:\d+/v1/realtime\?model=gpt-4o-realtime-preview",
        head,
    ), head
    assert lines[0] == "you:       1.6 seconds of speech."
    assert lines[1] == "assistant: You said: 1.6 seconds of speech."
    assert TURN.fullmatch(lines[2]), lines[2]
    assert lines[3].startswith("you:       ")
    assert TURN.fullmatch(lines[5]), lines[5]
    assert len(lines) == 6
    assert usage.startswith("usage: 2 responses, ")


async def test_json_gives_items_turns_and_usage(talk_recording: Path, tmp_path: Path) -> None:
    result = await run_cli("replay", str(talk_recording), "--json", cwd=tmp_path)
    assert result.status == 0, result
    (line,) = result.lines
    data = orjson.loads(line)
    assert data["model"] == "gpt-4o-realtime-preview"
    assert data["intent"] is None
    assert [(i["role"], i["input_transcript"] or i["transcript"]) for i in data["items"]] == [
        ("user", "1.6 seconds of speech."),
        ("assistant", "You said: 1.6 seconds of speech."),
        ("user", data["items"][2]["input_transcript"]),
        ("assistant", f"You said: {data['items'][2]['input_transcript']}"),
    ]
    assert [t["trigger"] for t in data["turns"]] == ["server_vad", "server_vad"]
    assert [t["audio_end_ms"] for t in data["turns"]] == [1630, 3640]
    for turn in data["turns"]:
        assert 0 <= turn["first_audio"] <= turn["response_done"]
        assert turn["response_status"] == "completed"
    assert data["usage"]["responses"] == 2
    assert data["errors"] == []
    recording = read_recording(talk_recording)
    assert data["events"] == len(recording.events)


async def test_send_replays_the_session_to_an_embedded_server(
    talk_recording: Path, tmp_path: Path
) -> None:
    result = await run_cli("replay", str(talk_recording), "--send", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    assert [line.split(" ", 1)[0] for line in result.lines] == [
        "you:",
        "assistant:",
        "turn",
        "you:",
        "assistant:",
        "turn",
        "usage:",
    ]
    assert result.lines[0] == "you:       1.6 seconds of speech."
    assert "replay: re-sending" in result.stderr


async def test_send_to_a_url_with_its_own_recording(talk_recording: Path, tmp_path: Path) -> None:
    async with open_local_server(api_keys=["sk-replay"]) as server:
        result = await run_cli(
            "replay",
            str(talk_recording),
            "--send",
            "--speed",
            "4",
            "--url",
            server.url,
            "--record",
            "again.jsonl",
            "--json",
            cwd=tmp_path,
            env=environment(API_KEY="sk-replay"),
        )
        (connection,) = server.connections
    assert result.status == 0, result
    assert connection.handshake is not None
    assert connection.handshake.model == "gpt-4o-realtime-preview"
    data = orjson.loads(result.stdout)
    original = read_recording(talk_recording)
    assert data["sent_events"] == sum(1 for e in original.events if e.direction == "client")
    assert data["usage"]["responses"] == 2
    # The new session's own recording replays offline like any other.
    again = await run_cli("replay", "again.jsonl", cwd=tmp_path)
    assert again.status == 0, again
    assert again.lines[1] == "you:       1.6 seconds of speech."


async def test_a_transcription_recording_shows_each_segment_and_its_latency(tmp_path: Path) -> None:
    write_wav(tmp_path / "two.wav", speech_pcm((1500, 1200)))
    recording = record(tmp_path, "transcribe", "two.wav")
    result = await run_cli("replay", str(recording), cwd=tmp_path)
    assert result.status == 0, result
    assert len(result.lines) == 5  # no responses, so no usage line
    assert result.lines[1::2] == ["you:       1.6 seconds of speech."] * 2
    for number, line in enumerate(result.lines[2::2], start=1):
        pattern = (
            rf"turn {number} \(server VAD, speech ended at \d\.\d\d s\): your transcript \d+ ms"
        )
        assert re.fullmatch(pattern, line), line
    sent = await run_cli("replay", str(recording), "--send", "--fast", cwd=tmp_path)
    assert sent.status == 0, sent
    assert sent.lines[::2] == ["you:       1.6 seconds of speech."] * 2
    assert [line.split(" (")[0] for line in sent.lines[1::2]] == ["turn 1", "turn 2"]


async def test_a_missing_recording_is_exit_3(tmp_path: Path) -> None:
    result = await run_cli("replay", "gone.jsonl", cwd=tmp_path)
    assert_one_line_error(result, 3, "trio-realtime replay: gone.jsonl: no such file")


async def test_a_file_that_is_not_a_recording_is_exit_3(tmp_path: Path) -> None:
    write_wav(tmp_path / "audio.wav", speech_pcm((200,)))
    result = await run_cli("replay", "audio.wav", cwd=tmp_path)
    assert_one_line_error(result, 3, "audio.wav: not a trio-realtime recording")


async def test_a_malformed_line_is_exit_3_and_named(talk_recording: Path, tmp_path: Path) -> None:
    lines = (await trio.Path(talk_recording).read_bytes()).splitlines()
    lines[3] = lines[3][: len(lines[3]) // 2]  # torn mid-line, as a crash would leave it
    await trio.Path(tmp_path / "torn.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = await run_cli("replay", "torn.jsonl", cwd=tmp_path)
    assert_one_line_error(result, 3, "torn.jsonl:4: malformed recording line")


async def test_send_options_without_send_are_a_usage_error(
    talk_recording: Path, tmp_path: Path
) -> None:
    result = await run_cli(
        "replay", str(talk_recording), "--url", "ws://x/", "--speed", "2", cwd=tmp_path
    )
    assert_one_line_error(result, 2, "--url, --speed only go with --send")
