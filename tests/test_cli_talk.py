"""``trio-realtime talk``: speech to speech from a WAV file, as a user runs it.

See ``cli_helpers`` for the rules these tests follow (real subprocess, real files, real server).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

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
from trio_realtime._cli._common import example_pcm
from trio_realtime.audio import read_wav, silence
from trio_realtime.testing import open_local_server

TURN = re.compile(
    r"turn (\d+) \((server VAD|manual commit), speech ended at (\d+\.\d\d) s\): "
    r"first audio (\d+) ms, first text (\d+) ms, response done (\d+) ms; your transcript (\d+) ms"
)


def wav_info(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return (
            w.getframerate(),
            w.getnchannels(),
            w.getsampwidth(),
            w.getnframes() / w.getframerate(),
        )


@pytest.mark.slow  # real time
async def test_talk_with_no_arguments_runs_the_example_end_to_end(tmp_path: Path) -> None:
    # The demo as README.rst shows it: no flags, no key, no network, audio paced at real time.
    result = await run_cli("talk", cwd=tmp_path)
    assert result.status == 0, result
    you, assistant, turn, saved, usage = result.lines
    assert you == "you:       3.0 seconds of speech."
    assert assistant == "assistant: You said: 3.0 seconds of speech."
    match = TURN.fullmatch(turn)
    assert match, turn
    assert match[2] == "server VAD"
    assert 2.5 <= float(match[3]) <= 3.0  # VAD's end of speech, trailing silence included
    first_audio, done = int(match[4]), int(match[6])
    assert 0 < first_audio <= done  # realistic pacing: about 300 ms, then audio at real time
    assert saved == "reply audio: 1.92 s saved to reply.wav"
    assert usage.startswith("usage: 1 response, ")
    assert wav_info(tmp_path / "reply.wav") == (24000, 1, 2, 1.92)
    assert "talk: hello.wav (3.00 s) to the embedded reference server" in result.stderr


async def test_a_16khz_stereo_file_is_resampled_and_each_turn_answered(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_wav(tmp_path / "in" / "question.wav", speech_pcm((1500, 1200)), rate=16000, channels=2)
    result = await run_cli("talk", "in/question.wav", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    assert [line.split(" ", 1)[0] for line in result.lines] == [
        "you:",
        "assistant:",
        "turn",
        "you:",
        "assistant:",
        "turn",
        "reply",
        "usage:",
    ]
    assert result.lines[0] == "you:       1.6 seconds of speech."
    assert result.lines[1] == "assistant: You said: 1.6 seconds of speech."
    turns = [TURN.fullmatch(line) for line in result.lines if line.startswith("turn")]
    assert all(turns), result.lines
    assert [m[1] for m in turns if m] == ["1", "2"]
    out = tmp_path / "in" / "question-reply.wav"
    assert result.lines[-2] == "reply audio: 3.84 s saved to in/question-reply.wav"
    assert wav_info(out) == (24000, 1, 2, 3.84)
    assert read_wav(out).samples.std() > 0.01  # speech-like audio, not silence


async def test_manual_mode_commits_and_asks_for_the_response(tmp_path: Path) -> None:
    write_wav(tmp_path / "q.wav", speech_pcm((1500, 1200)))
    result = await run_cli(
        "talk", "q.wav", "--fast", "--manual", "--out", "answer.wav", "-q", cwd=tmp_path
    )
    assert result.status == 0, result
    assert result.stderr == ""
    assert result.lines[:2] == [
        "you:       3.5 seconds of speech.",
        "assistant: You said: 3.5 seconds of speech.",
    ]
    match = TURN.fullmatch(result.lines[2])
    assert match, result.lines[2]
    assert (match[2], match[3]) == ("manual commit", "3.50")
    assert (tmp_path / "answer.wav").is_file()


@pytest.mark.parametrize("dialect", ["beta", "ga"])
async def test_url_sends_the_key_and_record_writes_the_session(
    tmp_path: Path, dialect: str
) -> None:
    (tmp_path / "hello.wav").write_bytes(b"")  # --example is the bundled file, not this one
    async with open_local_server(api_keys=["sk-right-key"]) as server:
        result = await run_cli(
            "talk",
            "--example",
            "--fast",
            "--url",
            server.url,
            "--record",
            "talk.jsonl",
            "--dialect",
            dialect,
            cwd=tmp_path,
            env=environment(OPENAI_API_KEY="sk-right-key"),
        )
        (connection,) = server.connections
    assert result.status == 0, result
    heard = result.lines[0].removeprefix("you:").strip()
    assert heard.endswith("seconds of speech.")
    assert result.lines[1] == f"assistant: You said: {heard}"
    assert connection.handshake is not None
    assert connection.handshake.model == "gpt-4o-realtime-preview"
    assert connection.dialect == dialect
    recording = read_recording(tmp_path / "talk.jsonl")
    assert recording.header["dialect"] == dialect
    sent = [e.event.type for e in recording.events if e.direction == "client"]
    assert sent[0] == "session.update"
    # 3 s of example, then VAD's 200 ms silence_duration_ms + 300 ms of margin, 100 ms each.
    assert sent.count("input_audio_buffer.append") == 35
    assert b"sk-right-key" not in (tmp_path / "talk.jsonl").read_bytes()


async def test_a_server_that_does_not_speak_the_dialect_is_exit_4_naming_the_other(
    tmp_path: Path,
) -> None:
    async with open_local_server(dialects=["ga"]) as server:
        result = await run_cli(
            "talk", "--fast", "--url", server.url, cwd=tmp_path, env=environment(API_KEY="sk-x")
        )
    assert_one_line_error(result, 4, "trio-realtime talk: the server refused the connection:")
    assert "beta_api_shape_disabled" in result.stderr
    assert 'dialect="ga"' in result.stderr


async def test_a_rejected_key_is_exit_4_without_the_key(tmp_path: Path) -> None:
    async with open_local_server(api_keys=["sk-right-key"]) as server:
        result = await run_cli(
            "talk",
            "--fast",
            "--url",
            server.url,
            cwd=tmp_path,
            env=environment(API_KEY="sk-wrong-key"),
        )
    line = assert_one_line_error(result, 4, "trio-realtime talk: the server rejected the API key")
    assert "wrong" not in result.stderr
    assert not (tmp_path / "reply.wav").exists()
    assert line.endswith("(invalid_api_key)")


async def test_an_unwritable_output_is_exit_3_before_connecting(tmp_path: Path) -> None:
    result = await run_cli("talk", "--out", "no/such/dir/reply.wav", cwd=tmp_path)
    assert_one_line_error(result, 3, "cannot write the reply audio to no/such/dir/reply.wav")
    assert "talk:" not in result.stderr.split("\n", 1)[0].replace("trio-realtime talk:", "")


async def test_silence_is_reported_as_no_speech(tmp_path: Path) -> None:
    write_wav(tmp_path / "quiet.wav", silence(1000))
    result = await run_cli("talk", "quiet.wav", "--fast", cwd=tmp_path)
    assert_one_line_error(result, 1, "heard no speech", "--manual")


async def test_file_and_example_together_are_a_usage_error(tmp_path: Path) -> None:
    write_wav(tmp_path / "q.wav", speech_pcm())
    result = await run_cli("talk", "q.wav", "--example", cwd=tmp_path)
    assert_one_line_error(result, 2, "FILE or --example")


async def test_ctrl_c_is_exit_130(tmp_path: Path) -> None:
    with trio.fail_after(DEADLINE):
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "trio_realtime", "talk"],
            cwd=tmp_path,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        assert process.stdout is not None
        try:
            errors = b""
            while b"talk: hello.wav" not in errors:  # connected, now streaming at real time
                errors += await process.stderr.receive_some()
            process.send_signal(signal.SIGINT)
            async for chunk in process.stderr:
                errors += chunk
            assert await process.wait() == 130, errors.decode(errors="replace")
        finally:
            if process.returncode is None:
                process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
                await process.stdout.aclose()
                await process.stderr.aclose()
    assert errors.decode().splitlines()[-1] == "trio-realtime talk: interrupted"
    assert b"Traceback" not in errors
    assert not (tmp_path / "reply.wav").exists()


def test_the_bundled_example_is_the_documented_signal() -> None:
    from trio_realtime._cli._common import _bundled_example

    path = _bundled_example()
    assert path is not None
    assert path.stat().st_size < 200_000
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.readframes(w.getnframes()) == example_pcm()
