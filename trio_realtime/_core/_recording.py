"""Session recordings: every event, both directions, as JSON lines; and reading them back.

A recording is a text file. Its first line is a header object; every other line is one event::

    {"recording": "trio-realtime", "version": 1, "started_at": 1764000000.0, "url": "...", ...}
    {"t": 0.000412, "dir": "server", "event": {"type": "session.created", ...}}
    {"t": 0.001050, "dir": "client", "event": {"type": "session.update", ...}}

``t`` is seconds since the recording started on a monotonic clock (``trio.current_time()``
inside a session), so latencies can be read off it; ``dir`` is ``"client"`` for events the
client sent and ``"server"`` for events it received. The event is the frame exactly as it
crossed the wire, so nothing the library does not model is lost.

Secrets are never written: the API key is not part of any event (it rides in the handshake,
which is not recorded, and the header keeps only the URL without its query's secrets), and the
one protocol field that can carry a credential, a session's ``client_secret.value`` (an
ephemeral key), is replaced by ``"<redacted>"``.

Writing is synchronous into a buffered file: a line is a few kilobytes into the page cache, far
cheaper than handing it to a worker thread, and it keeps the session free of threads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any, Final, Literal

import attrs
import orjson

from ._codec import decode
from ._events import Event, UnknownEvent

__all__ = ["RecordedEvent", "Recorder", "Recording", "read_recording"]

FORMAT_NAME: Final = "trio-realtime"
FORMAT_VERSION: Final = 1
REDACTED: Final = "<redacted>"

Direction = Literal["client", "server"]

# Only these events can carry a session's client_secret; everything else is written untouched.
_MAY_CARRY_SECRETS: Final = frozenset(
    {
        "session.update",
        "session.created",
        "session.updated",
        "transcription_session.update",
        "transcription_session.created",
        "transcription_session.updated",
    }
)


def _redact(frame: str | bytes) -> bytes:
    obj = orjson.loads(frame)
    session = obj.get("session") if isinstance(obj, dict) else None
    secret = session.get("client_secret") if isinstance(session, dict) else None
    if isinstance(secret, dict) and "value" in secret:
        secret["value"] = REDACTED
    return orjson.dumps(obj)


class Recorder:
    """Writes a recording; the session calls it for every frame sent and received.

    Args:
        file: A binary file opened for writing; the recorder owns it and closes it.
        clock: Monotonic seconds (the session passes ``trio.current_time``).
        metadata: Extra header fields (url, model, intent...). Never put a key here.
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        clock: Any = time.monotonic,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._file = file
        self._clock = clock
        self._start = clock()
        header = {
            "recording": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "started_at": time.time(),
            **(metadata or {}),
        }
        file.write(orjson.dumps(header) + b"\n")
        self.events_written = 0

    @classmethod
    def open(cls, path: str | os.PathLike[str], **kwargs: Any) -> Recorder:
        """Create (or truncate) ``path`` and record into it."""
        return cls(open(path, "wb", buffering=256 * 1024), **kwargs)

    def record(self, direction: Direction, event_type: str, frame: str | bytes) -> None:
        """Append one frame as it crossed the wire (text or UTF-8 bytes)."""
        data = frame.encode() if isinstance(frame, str) else frame
        if event_type in _MAY_CARRY_SECRETS and b"client_secret" in data:
            data = _redact(data)
        t = self._clock() - self._start
        self._file.write(b'{"t":%.6f,"dir":"%s","event":%s}\n' % (t, direction.encode(), data))
        self.events_written += 1

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if not self._file.closed:
            self._file.close()


@attrs.frozen(kw_only=True)
class RecordedEvent:
    """One line of a recording.

    Attributes:
        t: Seconds since the recording started (monotonic).
        direction: ``"client"`` (sent) or ``"server"`` (received).
        event: The decoded event (an ``UnknownEvent`` for types the library does not know).
        raw: The event's JSON object as recorded.
    """

    t: float
    direction: Direction
    event: Event | UnknownEvent
    raw: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class Recording:
    """A whole recording: its header and its events in order."""

    header: Mapping[str, Any]
    events: tuple[RecordedEvent, ...]


def _iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, line


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording written by :class:`Recorder`.

    Raises:
        ValueError: The file is not a trio-realtime recording, or a line is malformed (the
            message names the line).
        FileNotFoundError: No such file.
    """
    lines = _iter_lines(path)
    try:
        _, first = next(lines)
        header = orjson.loads(first)
    except (StopIteration, orjson.JSONDecodeError):
        raise ValueError(f"{os.fspath(path)}: not a trio-realtime recording") from None
    if not isinstance(header, dict) or header.get("recording") != FORMAT_NAME:
        raise ValueError(f"{os.fspath(path)}: not a trio-realtime recording")
    if header.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)}: unsupported recording version {header.get('version')!r}"
        )
    events = []
    for number, line in lines:
        try:
            obj = orjson.loads(line)
            raw = obj["event"]
            direction = obj["dir"]
            if direction not in ("client", "server"):
                raise ValueError(f"bad direction {direction!r}")
            events.append(
                RecordedEvent(
                    t=float(obj["t"]), direction=direction, event=decode(orjson.dumps(raw)), raw=raw
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{os.fspath(path)}:{number}: malformed recording line: {exc}"
            ) from None
    return Recording(header=header, events=tuple(events))
