"""The client commands' terminal output: results on stdout, one progress line on stderr."""

from __future__ import annotations

import io
import os
import pty
import re
import sys
from pathlib import Path

import pytest
import trio
import trio.testing
from cli_helpers import DEADLINE, environment, speech_pcm, write_wav

from trio_realtime._cli._console import Console, OrderedLines, show_progress

ERASE = "\r\x1b[K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_is_erased_before_any_output() -> None:
    out, err = Terminal(), Terminal()
    console = Console(out, err)
    console.status("1.0/3.0 s sent")
    console.line("you:       hello")
    console.status("2.0/3.0 s sent")
    console.info("done")
    assert out.getvalue() == "you:       hello\n"
    assert err.getvalue() == f"{ERASE}1.0/3.0 s sent{ERASE}{ERASE}2.0/3.0 s sent{ERASE}done\n"


def test_no_status_line_off_a_terminal_or_when_quiet() -> None:
    for err, quiet in ((io.StringIO(), False), (Terminal(), True)):
        console = Console(io.StringIO(), err, quiet=quiet)
        assert not console.progress_enabled
        console.status("1.0/3.0 s sent")
        console.info("hello")
        console.message("server error: boom")
        assert err.getvalue() == ("" if quiet else "hello\n") + "server error: boom\n"


def test_the_status_line_waits_while_a_stdout_line_is_half_written() -> None:
    out, err = Terminal(), Terminal()
    console = Console(out, err)
    console.write("assistant: You sa")
    console.status("waiting")
    assert err.getvalue() == ""
    console.message("server error: boom")  # a message ends the half line first
    assert out.getvalue() == "assistant: You sa\n"


async def test_progress_is_redrawn_until_cancelled(autojump_clock: trio.testing.MockClock) -> None:
    err = Terminal()
    console = Console(io.StringIO(), err)
    ticks = iter(range(100))
    with trio.move_on_after(0.35):
        await show_progress(console, lambda: f"tick {next(ticks)}", interval=0.1)
    assert err.getvalue() == "".join(f"{ERASE}tick {n}" for n in range(4)) + ERASE


def test_ordered_lines_stream_the_first_and_hold_the_rest() -> None:
    out = io.StringIO()
    lines = OrderedLines(Console(out, io.StringIO()))
    lines.open("you", "you:       ")
    lines.open("assistant", "assistant: ")
    lines.add("assistant", "You said")  # held: the user's line is not finished
    assert out.getvalue() == "you:       "
    lines.add("you", "hel")
    lines.add("you", "lo")
    assert out.getvalue() == "you:       hello"
    lines.finish("you")
    assert out.getvalue() == "you:       hello\nassistant: You said"
    lines.add("assistant", ": hello")
    lines.finish("assistant", "You said: hello")
    lines.print("turn 1: ...")
    assert out.getvalue() == "you:       hello\nassistant: You said: hello\nturn 1: ...\n"


def test_a_final_text_that_differs_from_the_deltas_is_written_again() -> None:
    out = io.StringIO()
    lines = OrderedLines(Console(out, io.StringIO()))
    lines.open(1, "  [0.00-1.00] ")
    lines.add(1, "helo")
    lines.finish(1, "hello")
    lines.open(2, "x: ")
    lines.close()  # an unfinished line is written as it stands
    assert out.getvalue() == "  [0.00-1.00] helo\n  [0.00-1.00] hello\nx: \n"


@pytest.mark.slow  # real time
async def test_a_terminal_gets_a_progress_line_and_stdout_stays_clean(tmp_path: Path) -> None:
    write_wav(tmp_path / "one.wav", speech_pcm((1500,)))
    controller, terminal = pty.openpty()
    shown = bytearray()

    async def watch(screen: trio.lowlevel.FdStream) -> None:
        # Read as it is written, so the child never blocks on a full terminal buffer.
        try:
            while chunk := await screen.receive_some():
                shown.extend(chunk)
        except (OSError, trio.BrokenResourceError):
            pass  # EIO: the terminal's last writer is gone

    with trio.fail_after(DEADLINE):
        async with trio.lowlevel.FdStream(controller) as screen, trio.open_nursery() as nursery:
            nursery.start_soon(watch, screen)
            try:
                done = await trio.run_process(
                    [sys.executable, "-m", "trio_realtime", "transcribe", "one.wav"],
                    cwd=tmp_path,
                    env=environment(),
                    stdin=terminal,
                    stderr=terminal,
                    capture_stdout=True,
                    check=False,
                )
            finally:
                os.close(terminal)
    assert done.returncode == 0
    assert done.stdout.decode().splitlines()[1] == "  [0.00-1.63] 1.6 seconds of speech."
    status = shown.decode()
    # Redrawn while the audio streams at real time (which tenths show depends on the pace).
    sent = re.findall(rf"{re.escape(ERASE)}one\.wav: (\d\.\d)/1\.5 s sent, sending, ", status)
    assert any(0 < float(seconds) < 1.5 for seconds in sent), status
    assert status.endswith(ERASE)  # erased at the end
