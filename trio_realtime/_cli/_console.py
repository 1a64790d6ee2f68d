"""The terminal side of the client subcommands: results on stdout, one progress line on stderr.

:class:`Console` writes results to stdout (whole lines, or a line growing as deltas arrive) and
keeps a single updating status line on stderr while a long file is sent: seconds sent out of
the total, events received. The status line is drawn only when stderr is a terminal and
``--quiet`` is off; it is erased before anything else is written, so the two streams never
garble each other on one terminal, and it is never drawn while a stdout line is half written.

:class:`OrderedLines` streams several growing lines (a user transcript, the assistant's reply,
another file's segment) in a fixed order: the first unfinished line streams live, the ones
after it are held and printed when their turn comes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

import trio

__all__ = ["Console", "OrderedLines", "show_progress"]

_ERASE = "\r\x1b[K"


class Console:
    """stdout for results, stderr for status; see the module docstring.

    Args:
        out: Where results go (``sys.stdout``).
        err: Where the status line and messages go (``sys.stderr``).
        quiet: Suppress the status line and :meth:`info` messages.
    """

    def __init__(self, out: TextIO, err: TextIO, *, quiet: bool = False) -> None:
        self._out = out
        self._err = err
        self._quiet = quiet
        self._progress = not quiet and _isatty(err)
        self._status_shown = False
        self._partial = False  # stdout holds an unfinished line

    @property
    def progress_enabled(self) -> bool:
        """Whether :meth:`status` draws anything."""
        return self._progress

    def write(self, text: str) -> None:
        """Write ``text`` to stdout as is (it may leave a line unfinished)."""
        if not text:
            return
        self.clear_status()
        self._out.write(text)
        self._out.flush()
        self._partial = not text.endswith("\n")

    def line(self, text: str = "") -> None:
        """Write one whole line to stdout, finishing any unfinished one first."""
        self.end_line()
        self.write(text + "\n")

    def end_line(self) -> None:
        """Finish the unfinished stdout line, if there is one."""
        if self._partial:
            self.write("\n")

    def info(self, text: str) -> None:
        """A status message on stderr (not with ``quiet``)."""
        if not self._quiet:
            self.message(text)

    def message(self, text: str) -> None:
        """A message on stderr, even with ``quiet`` (errors and warnings)."""
        self.clear_status()
        if self._partial and _isatty(self._out) and _isatty(self._err):
            self._out.write("\n")  # do not split a half-written line on the same terminal
            self._out.flush()
            self._partial = False
        self._err.write(text + "\n")
        self._err.flush()

    def status(self, text: str) -> None:
        """Draw ``text`` as the status line (only on a terminal, never mid-line)."""
        if not self._progress or self._partial:
            return
        self._err.write(_ERASE + text)
        self._err.flush()
        self._status_shown = True

    def clear_status(self) -> None:
        """Erase the status line, if it is drawn."""
        if self._status_shown:
            self._err.write(_ERASE)
            self._err.flush()
            self._status_shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


async def show_progress(console: Console, render: Callable[[], str], interval: float = 0.1) -> None:
    """Redraw the status line from ``render()`` every ``interval`` seconds until cancelled."""
    if not console.progress_enabled:
        return
    try:
        while True:
            console.status(render())
            await trio.sleep(interval)
    finally:
        console.clear_status()


class _Line:
    __slots__ = ("done", "prefix", "shown", "text")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.text = ""
        self.shown = 0  # characters of prefix + text already written
        self.done = False

    @property
    def full(self) -> str:
        return self.prefix + self.text


class OrderedLines:
    """Lines that grow (transcript deltas) and must come out in the order they were opened.

    The first unfinished line streams to the console as it grows; later ones are held until
    every line before them is finished, then written at once (and stream from there on).
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lines: dict[object, _Line] = {}
        self._queue: list[object] = []  # keys not yet fully written, in order

    def open(self, key: object, prefix: str) -> None:
        """Start a line (no-op if ``key`` is already open or was written)."""
        if key not in self._lines:
            self._lines[key] = _Line(prefix)
            self._queue.append(key)
            self._flush()

    def is_open(self, key: object) -> bool:
        """Whether ``key`` was opened (finished or not)."""
        return key in self._lines

    def add(self, key: object, delta: str) -> None:
        """Append text to line ``key`` (opened with an empty prefix if new)."""
        self.open(key, "")
        line = self._lines[key]
        if not line.done:
            line.text += delta
            self._flush()

    def finish(self, key: object, text: str | None = None) -> None:
        """Finish line ``key``; ``text``, if given, is its final text.

        A final text that differs from what was already streamed is written in full on a new
        line, so the result is never a mix of the two.
        """
        self.open(key, "")
        line = self._lines[key]
        if line.done:
            return
        if text is not None and text != line.text:
            if line.shown > len(line.prefix):  # part of the old text is out: start over
                self._console.end_line()
                line.shown = 0
            line.text = text
        line.done = True
        self._flush()

    def print(self, text: str) -> None:
        """A finished line, in order with the others."""
        key = object()
        self.open(key, text)
        self.finish(key)

    def close(self) -> None:
        """Write everything still held, unfinished lines included, and end the last line."""
        for key in self._queue:
            line = self._lines[key]
            self._console.write(line.full[line.shown :])
            self._console.end_line()
        self._queue.clear()

    def _flush(self) -> None:
        while self._queue:
            line = self._lines[self._queue[0]]
            self._console.write(line.full[line.shown :])
            line.shown = len(line.full)
            if not line.done:
                return
            self._console.end_line()
            self._queue.pop(0)
