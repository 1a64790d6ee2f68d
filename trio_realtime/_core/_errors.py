"""The exceptions of the sans-I/O core: a message or audio that is not what it should be.

The connection's exceptions are in :mod:`trio_realtime._wire._errors`.
"""

from __future__ import annotations


class RealtimeError(Exception):
    """Base class of every exception trio_realtime raises on purpose."""


class ProtocolError(RealtimeError, ValueError):
    """A message could not be decoded into a protocol event.

    Raised by :func:`trio_realtime.decode` for malformed JSON, a JSON value that is not an
    object, a missing or non-string ``type``, and a known event whose fields have the wrong
    type or are missing. The message names the event type and the field path, for example
    ``response.done: response.output[0].content[1].type: expected str, got int``.

    Attributes:
        event_type: The wire ``type`` of the offending event, or ``None`` if it had none.
        path: Dotted field path into the event (``""`` for the event as a whole).
        reason: What was wrong at that path.
    """

    def __init__(self, reason: str, *, event_type: str | None = None, path: str = "") -> None:
        self.event_type = event_type
        self.path = path
        self.reason = reason
        where = ": ".join(part for part in (event_type, path) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class AudioFormatError(RealtimeError, ValueError):
    """Audio that is not in the expected format, or a format this module does not know.

    Raised for an unknown format name, a byte string that is not a whole number of samples,
    and a file that is not a WAV file or is one this module cannot read (compressed, for
    example). The message is one line.
    """
