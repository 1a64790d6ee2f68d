"""``trio-realtime transcribe``: live transcripts of WAV files, as a user runs it.

See ``cli_helpers`` for the rules these tests follow (real subprocess, real files, real server).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cli_helpers import assert_one_line_error, environment, run_cli, speech_pcm, write_wav

from trio_realtime import read_recording
from trio_realtime.testing import open_local_server


async def test_a_wav_file_is_transcribed_segment_by_segment(tmp_path: Path) -> None:
    write_wav(tmp_path / "two.wav", speech_pcm((1500, 1200)))
    result = await run_cli("transcribe", "two.wav", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    # The simulated engine transcribes a segment as its duration: one line per VAD segment,
    # with its place in the file.
    assert result.lines == [
        "two.wav (3.50 s)",
        "  [0.00-1.63] 1.6 seconds of speech.",
        "  [2.00-3.64] 1.6 seconds of speech.",
    ]
    assert "transcribe: 1 file (3.50 s) with gpt-4o-transcribe" in result.stderr
    assert "\r" not in result.stderr  # no progress line when stderr is not a terminal


async def test_json_lines_describe_every_event_and_every_file(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", speech_pcm((1500, 1200)))
    write_wav(tmp_path / "b.wav", speech_pcm((900,), seed=5), rate=16000, channels=2)
    result = await run_cli("transcribe", "a.wav", "b.wav", "--fast", "--json", "-q", cwd=tmp_path)
    assert result.status == 0, result
    assert result.stderr == ""
    objects = [orjson.loads(line) for line in result.lines]
    files = [o for o in objects if o["type"] == "file"]
    assert [(f["file"], f["segments"], f["failed"]) for f in files] == [
        ("a.wav", 2, 0),
        ("b.wav", 1, 0),
    ]
    assert files[0]["duration_ms"] == 3500.0
    assert files[1]["text"] == "0.9 seconds of speech." or files[1]["text"].endswith(
        "seconds of speech."
    )
    transcripts = [o for o in objects if o["type"] == "transcript"]
    assert [t["file"] for t in transcripts] == ["a.wav", "a.wav", "b.wav"]
    for transcript in transcripts:
        deltas = [
            o["delta"]
            for o in objects
            if o.get("item_id") == transcript["item_id"] and o["type"] == "delta"
        ]
        assert "".join(deltas) == transcript["text"]  # gpt-4o-transcribe streams word by word
        assert len(deltas) == 4
        assert 0 <= transcript["start_ms"] < transcript["end_ms"]
        assert transcript["latency_ms"] >= 0
    # Times are relative to each file: b.wav's segment starts at its own beginning.
    assert transcripts[2]["start_ms"] == 0.0
    assert objects[-1]["type"] == "file"


async def test_the_bundled_example_is_transcribed_with_no_file(tmp_path: Path) -> None:
    result = await run_cli("transcribe", "--model", "whisper-1", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    assert result.lines == ["hello.wav (3.00 s)", "  [0.00-2.95] 3.0 seconds of speech."]


async def test_manual_mode_commits_each_file_whole(tmp_path: Path) -> None:
    write_wav(tmp_path / "two.wav", speech_pcm((1500, 1200)))
    result = await run_cli("transcribe", "two.wav", "--fast", "--manual", cwd=tmp_path)
    assert result.status == 0, result
    assert result.lines == ["two.wav (3.50 s)", "  [0.00-3.50] 3.5 seconds of speech."]


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_url_and_record_reach_the_given_server(tmp_path: Path, dialect: str) -> None:
    write_wav(tmp_path / "one.wav", speech_pcm((1000,)))
    async with open_local_server(api_keys=["sk-test-key"]) as server:
        result = await run_cli(
            "transcribe",
            "one.wav",
            "--fast",
            "--url",
            server.url,
            "--record",
            "rec.jsonl",
            "--dialect",
            dialect,
            cwd=tmp_path,
            env=environment(API_KEY="sk-test-key"),
        )
        (connection,) = server.connections
    assert result.status == 0, result
    assert result.lines == ["one.wav (1.00 s)", "  [0.00-1.20] 1.2 seconds of speech."]
    assert connection.handshake is not None
    assert connection.handshake.intent == "transcription"
    assert connection.dialect == dialect
    recording = read_recording(tmp_path / "rec.jsonl")
    assert "intent=transcription" in recording.header["url"]
    assert b"sk-test-key" not in (tmp_path / "rec.jsonl").read_bytes()
    types = {e.event.type for e in recording.events}
    assert "conversation.item.input_audio_transcription.completed" in types


async def test_a_missing_file_is_exit_3_in_one_line(tmp_path: Path) -> None:
    result = await run_cli("transcribe", "nope.wav", cwd=tmp_path)
    assert_one_line_error(result, 3, "trio-realtime transcribe: nope.wav: no such file")
    assert result.stdout == ""


async def test_a_file_that_is_not_a_wav_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("these are my notes, not audio\n")
    result = await run_cli("transcribe", "notes.wav", cwd=tmp_path)
    assert_one_line_error(result, 3, "notes.wav: not a supported WAV file")


async def test_a_refused_connection_is_exit_4(tmp_path: Path) -> None:
    write_wav(tmp_path / "one.wav", speech_pcm((500,)))
    result = await run_cli(
        "transcribe",
        "one.wav",
        "--url",
        "ws://127.0.0.1:1/v1/realtime",
        cwd=tmp_path,
        env=environment(API_KEY="sk-anything"),
    )
    assert_one_line_error(result, 4, "cannot connect", "refused")


async def test_url_without_a_key_is_exit_4(tmp_path: Path) -> None:
    write_wav(tmp_path / "one.wav", speech_pcm((500,)))
    result = await run_cli(
        "transcribe", "one.wav", "--url", "ws://127.0.0.1:1/v1/realtime", cwd=tmp_path
    )
    assert_one_line_error(result, 4, "no API key", "API_KEY")


@pytest.mark.parametrize(
    "args",
    [
        ["transcribe", "--timeout", "0"],
        ["transcribe", "--no-such-flag"],
        ["transcribe", "--url", "http://example.invalid/"],
    ],
)
async def test_usage_errors_are_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = await run_cli(*args, cwd=tmp_path, env=environment(API_KEY="sk-x"))
    assert result.status == 2, result
    assert "Traceback" not in result.stderr


async def test_help_documents_the_exit_codes(tmp_path: Path) -> None:
    result = await run_cli("--help", cwd=tmp_path)
    assert result.status == 0
    for line in (
        "0    success",
        "2    usage error",
        "3    input or output file",
        "4    could not connect",
        "130  interrupted",
    ):
        assert line in result.stdout
    for command in ("serve", "transcribe", "talk", "replay"):
        assert command in result.stdout
    sub = await run_cli("transcribe", "--help", cwd=tmp_path)
    assert "--json writes JSON lines" in sub.stdout
    assert "130  interrupted" in sub.stdout
