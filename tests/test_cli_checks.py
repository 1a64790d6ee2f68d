"""What the command checks before any connection is made, and how it words a refusal.

Arguments and files are checked first, so a mistake costs no session: a port out of range, an
output that cannot be written, a second FILE, each gets its usage or one line and the
documented exit status. A server's HTTP refusal shows the server's reason; a WAV file cut short
is used as far as it goes, with a warning.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import trio
from cli_helpers import assert_one_line_error, environment, run_cli, speech_pcm, write_wav

from trio_realtime import ConnectionRejected
from trio_realtime._cli._common import classify
from trio_realtime._cli._main import main
from trio_realtime.audio import read_wav
from trio_realtime.audio import write_wav as write_pcm_wav
from trio_realtime.testing import open_local_server


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err


# --- usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["99999", "-1", "65536", "http"])
def test_serve_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str], port: str) -> None:
    err = _usage_error(capsys, "serve", "--port", port)
    assert err.startswith("usage: trio-realtime serve ")
    assert "trio-realtime serve: error: argument --port: " in err


def test_a_second_file_is_talks_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "talk", "a.wav", "b.wav")
    assert err.startswith("usage: trio-realtime talk ")
    assert err.endswith("trio-realtime talk: error: unrecognized arguments: b.wav\n")


def test_an_unknown_option_before_the_command_is_the_top_level_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _usage_error(capsys, "--bogus", "talk")
    assert err.startswith("usage: trio-realtime [-h]")
    assert err.endswith("trio-realtime: error: unrecognized arguments: --bogus\n")


# --- outputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "what"), [("--out", "reply audio"), ("--record", "recording")])
async def test_an_output_that_cannot_be_created_fails_before_the_session(
    tmp_path: Path, option: str, what: str
) -> None:
    # /proc takes no new files, not even root's, whatever its permission bits say.
    result = await run_cli("talk", "--fast", option, "/proc/x.out", cwd=tmp_path)
    assert_one_line_error(result, 3, f"cannot write the {what} to /proc/x.out")
    assert result.stdout == ""  # no session ran
    assert "Exception ignored" not in result.stderr


async def test_checking_an_output_leaves_no_file_behind_when_the_session_fails(
    tmp_path: Path,
) -> None:
    write_wav(tmp_path / "q.wav", speech_pcm())
    result = await run_cli(
        "talk", "q.wav", "--fast", "--url", "ws://127.0.0.1:1/v1/realtime", cwd=tmp_path,
        env=environment(API_KEY="sk-test"),
    )  # fmt: skip
    assert_one_line_error(result, 4, "cannot connect")
    assert [p.name for p in await trio.Path(tmp_path).iterdir()] == ["q.wav"]


def test_write_wav_to_an_impossible_path_raises_without_an_unraisable_traceback() -> None:
    # wave.open(path) failing to open leaves a half-made Wave_write whose __del__ used to
    # print "Exception ignored"; pytest turns that into an error here.
    with pytest.raises(FileNotFoundError):
        write_pcm_wav("/proc/x.wav", b"\0\0" * 10)


# --- refusals ----------------------------------------------------------------------------------


async def test_an_http_404_shows_the_servers_reason(tmp_path: Path) -> None:
    async with open_local_server() as server:
        url = server.url.replace("/v1/realtime", "/v2/nope")
        result = await run_cli(
            "talk", "--fast", "--url", url, cwd=tmp_path, env=environment(API_KEY="sk-test")
        )
    assert_one_line_error(
        result,
        4,
        "trio-realtime talk: the server refused the connection: "
        "HTTP 404 Not Found: Invalid URL (GET /v2/nope)",
    )


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (404, b'{"error": {"message": "Invalid URL (GET /x)", "type": "x"}}', "HTTP 404 Not Found: Invalid URL (GET /x)"),
        (403, b'{"error": "forbidden here"}', "HTTP 403 Forbidden: forbidden here"),
        (429, b'{"message": "slow down"}', "HTTP 429 Too Many Requests: slow down"),
        (502, b"<html><head><title>502 Bad Gateway</title></head><body>...</body></html>", "HTTP 502 Bad Gateway: 502 Bad Gateway"),
        (503, b"upstream busy\r\nretry later", "HTTP 503 Service Unavailable: upstream busy retry later"),
        (418, b"", "HTTP 418 I'm a Teapot"),
        (599, b"\x1b[31mred\x1b[0m", "HTTP 599: [31mred[0m"),
        (401, b"bad header Authorization: Bearer sk-secret-123", "HTTP 401 Unauthorized: bad header Authorization: Bearer [redacted]"),
    ],
)  # fmt: skip
def test_a_refusal_is_worded_from_its_status_and_body(status: int, body: bytes, shown: str) -> None:
    verdict = classify(ConnectionRejected(status, (), body))
    assert verdict == (4, f"the server refused the connection: {shown}")


def test_a_long_refusal_body_is_cut_to_one_short_line() -> None:
    verdict = classify(ConnectionRejected(500, (), b"x" * 5000))
    assert verdict is not None
    assert verdict[1].endswith("x...")
    assert len(verdict[1]) < 300


# --- truncated WAV files -----------------------------------------------------------------------


def _cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    header = 44
    path.write_bytes(data[: header + int((len(data) - header) * keep)])


def test_a_wav_cut_short_is_read_as_far_as_it_goes_and_says_what_it_lacks(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "cut.wav", speech_pcm((2000,)))
    _cut(path, 0.5)
    wav = read_wav(path)
    assert wav.duration_ms == 1000
    assert wav.missing_ms == 1000
    assert read_wav(write_wav(tmp_path / "whole.wav", speech_pcm((2000,)))).missing_ms == 0


def test_a_streamed_wav_with_an_unknown_size_lacks_nothing(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "streamed.wav", speech_pcm((1000,)))
    data = bytearray(path.read_bytes())
    assert data[36:40] == b"data"
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # what a writer that cannot seek leaves
    path.write_bytes(bytes(data))
    wav = read_wav(path)
    assert (wav.duration_ms, wav.missing_ms) == (1000, 0)


async def test_a_wav_cut_short_is_transcribed_with_a_warning(tmp_path: Path) -> None:
    _cut(write_wav(tmp_path / "cut.wav", speech_pcm((2000,))), 0.5)
    result = await run_cli("transcribe", "cut.wav", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    assert result.lines[0] == "cut.wav (1.00 s)"
    assert (
        "warning: cut.wav is cut short: its header announces 2.00 s of audio, the file holds "
        "1.00 s; using what is there"
    ) in result.stderr.splitlines()
