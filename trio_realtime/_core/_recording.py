"""Session recordings: every event, both directions, as JSON lines; and reading them back.

A recording is a text file. Its first line is a header object; every other line is one frame
(in the session's dialect: a GA session's header says ``"dialect": "ga"``, and its frames
read back through the GA decoder into the same classes)::

    {"recording": "trio-realtime", "version": 1, "started_at": 1764000000.0, "url": "...", ...}
    {"t": 0.000412, "dir": "server", "event": {"type": "session.created", ...}}
    {"t": 0.001050, "dir": "client", "event": {"type": "session.update", ...}}
    {"t": 0.002000, "dir": "server", "text": "not JSON"}
    {"t": 0.003000, "dir": "server", "binary": "AAEC"}

``t`` is seconds since the recording started on a monotonic clock (``trio.current_time()``
inside a session), so latencies can be read off it; ``dir`` is ``"client"`` for events the
client sent and ``"server"`` for events it received. ``event`` is the frame's JSON exactly as
it crossed the wire (secrets aside), so nothing the library does not model is lost; a frame
that is not JSON at all is kept as ``text`` (a text frame) or ``binary`` (base64). Reading
back, a frame the session could not decode is a :class:`~trio_realtime.DecodeFailure`, as it
was live, and the rest of the recording reads on.

Secrets are never written (:mod:`._redaction`): any ``client_secret`` (or other secret-named
field) at any depth of any frame, whatever its type, escaped key names included; the session's
API key and anything shaped like an OpenAI key wherever it appears (an error message that
echoes a key, say); in a frame that is not JSON, the keys in it, or all of it if it mentions a
secret field. The API key is not part of any event anyway (it rides in the handshake, which is
not recorded, and the header keeps only the URL without its query's secrets).

Writing is synchronous into a buffered file: a line is a few kilobytes into the page cache, far
cheaper than handing it to a worker thread, and it keeps the session free of threads. Most
frames (audio above all) are written without being parsed: a screen of their bytes shows that
nothing in them can need redacting.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, Final, Literal

import attrs
import orjson

from ._codec import decode
from ._decode_failure import DecodeFailure
from ._dialects import _ga_codec
from ._errors import ProtocolError
from ._events import Event, UnknownEvent
from ._redaction import REDACTED, Redactor

__all__ = ["REDACTED", "RecordedEvent", "Recorder", "Recording", "read_recording"]

FORMAT_NAME: Final = "trio-realtime"
FORMAT_VERSION: Final = 1

Direction = Literal["client", "server"]

#: The start of a line as this module writes it. One that is not JSON still reads back, as a
#: decode failure, when it is whole (an older version wrote a frame that is not JSON as it
#: came) or the file's last (cut short by a crash); a line torn anywhere else is corruption.
_WRITTEN_LINE: Final = re.compile(
    rb'\{"t":(-?[0-9.eE+-]+),"dir":"(client|server)","event":(.*)\Z', re.DOTALL
)


class Recorder:
    """Writes a recording; the session calls it for every frame sent and received.

    Args:
        file: A binary file opened for writing; the recorder owns it and closes it.
        clock: Monotonic seconds (the session passes ``trio.current_time``).
        metadata: Extra header fields (url, model, intent...). Never put a key here.
        secrets: Strings never to write, wherever they appear (the session's API key).
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        clock: Any = time.monotonic,
        metadata: Mapping[str, Any] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self._file = file
        self._clock = clock
        self._start = clock()
        self._redactor = Redactor(secrets)
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
        """Append one frame as it crossed the wire: ``str`` for a text frame, ``bytes`` for a
        binary one (or a text frame's UTF-8). ``event_type`` is what it decoded to (the
        :class:`~trio_realtime.DecodeFailure` type if it did not: it may not be JSON)."""
        data = frame.encode() if isinstance(frame, str) else bytes(frame)
        if event_type != DecodeFailure.type and not self._redactor.screen(data):
            body = b'"event":' + data  # decoded, so JSON; and nothing in it to redact
        else:
            body = self._redacted(frame, data)
        t = self._clock() - self._start
        self._file.write(b'{"t":%.6f,"dir":"%s",%s}\n' % (t, direction.encode(), body))
        self.events_written += 1

    def _redacted(self, frame: str | bytes, data: bytes) -> bytes:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            return b'"event":' + orjson.dumps(self._redactor.scrub_json(value))
        if isinstance(frame, str):
            return b'"text":' + orjson.dumps(self._redactor.scrub_opaque(frame))
        try:
            as_text = data.decode()
        except UnicodeDecodeError:
            as_text = data.decode("latin-1")  # only to look for secrets in it
        scrubbed = self._redactor.scrub_opaque(as_text)
        kept = data if scrubbed == as_text else scrubbed.encode()
        return b'"binary":"%s"' % base64.b64encode(kept)

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
        event: The decoded event (an ``UnknownEvent`` for types the library does not know, a
            :class:`~trio_realtime.DecodeFailure` for a frame that is not a valid event).
        raw: The event's JSON object as recorded (empty when the frame was not one).
    """

    t: float
    direction: Direction
    event: Event | UnknownEvent | DecodeFailure
    raw: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class Recording:
    """A whole recording: its header and its events in order."""

    header: Mapping[str, Any]
    events: tuple[RecordedEvent, ...]

    @property
    def decode_failures(self) -> int:
        """How many recorded frames read back as a :class:`~trio_realtime.DecodeFailure`."""
        return sum(1 for e in self.events if isinstance(e.event, DecodeFailure))


def _iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, line


_Decode = Callable[[str | bytes], Event | UnknownEvent]
#: How each direction's frames decode, by the header's ``dialect`` (absent: beta, as every
#: recording made before the GA dialect).
_DECODERS: Final[dict[object, dict[str, _Decode]]] = {
    "ga": {"client": _ga_codec.decode_sent_event, "server": _ga_codec.decode_server_event},
}
_BETA_DECODERS: Final[dict[str, _Decode]] = {"client": decode, "server": decode}


def _failure(frame: str | bytes, decode: _Decode = decode) -> DecodeFailure:
    try:
        decode(frame)
    except ProtocolError as exc:
        return DecodeFailure(raw=frame, error=exc)
    # Decodable after all (a binary frame holding JSON, say): still not what arrived live.
    return DecodeFailure(raw=frame, error=ProtocolError("recorded as a frame that is not JSON"))


def _frame_of(data: bytes) -> str | bytes:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def _read_line(
    line: bytes, *, last: bool, decoders: Mapping[str, _Decode] = _BETA_DECODERS
) -> RecordedEvent:
    """One line; raises ValueError (or KeyError, TypeError) when it is not one."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        written = _WRITTEN_LINE.match(line.strip())
        if written is None:
            raise
        t, direction, body = written.groups()
        if body.endswith(b"}"):
            body = body[:-1]
        elif not last:
            raise
        side: Direction = "client" if direction == b"client" else "server"
        return RecordedEvent(
            t=float(t), direction=side, event=_failure(_frame_of(body), decoders[side]), raw={}
        )
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    direction = obj["dir"]
    if direction not in ("client", "server"):
        raise ValueError(f"bad direction {direction!r}")
    t = float(obj["t"])
    decode = decoders[direction]
    event: Event | UnknownEvent | DecodeFailure
    if "event" in obj:
        raw = obj["event"]
        frame = orjson.dumps(raw)
        try:
            event = decode(frame)
        except ProtocolError as exc:
            event = DecodeFailure(raw=frame.decode(), error=exc)
        return RecordedEvent(
            t=t, direction=direction, event=event, raw=raw if isinstance(raw, dict) else {}
        )
    if isinstance(obj.get("text"), str):
        event = _failure(obj["text"], decode)
    elif isinstance(obj.get("binary"), str):
        try:
            event = _failure(base64.b64decode(obj["binary"], validate=True), decode)
        except binascii.Error:
            raise ValueError("binary frame is not base64") from None
    else:
        raise KeyError("event")
    return RecordedEvent(t=t, direction=direction, event=event, raw={})


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording written by :class:`Recorder`.

    A frame that was not a valid event (the session yielded a
    :class:`~trio_realtime.DecodeFailure` for it) reads back as one; so does a last line cut
    short (a session that crashed mid-write) and a line an older version wrote with a frame
    that is not JSON. Reading goes on after it.

    Raises:
        ValueError: The file is not a trio-realtime recording, or a line is not a recording
            line at all, or is torn before the last (the message names the line).
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
    decoders = _DECODERS.get(header.get("dialect"), _BETA_DECODERS)
    events = []
    ahead = next(lines, None)
    while ahead is not None:
        (number, line), ahead = ahead, next(lines, None)
        try:
            events.append(_read_line(line, last=ahead is None, decoders=decoders))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{os.fspath(path)}:{number}: malformed recording line: {exc}"
            ) from None
    return Recording(header=header, events=tuple(events))
