"""A frame that could not be decoded into an event: what the session yields in its place,
and what a recording reads back for it."""

from __future__ import annotations

from typing import ClassVar, final

import attrs

from ._errors import ProtocolError

__all__ = ["DecodeFailure"]


def _short(value: str | bytes) -> str:
    return (
        repr(value)
        if len(value) <= 80
        else f"<{len(value)} {type(value).__name__}: {value[:40]!r}...>"
    )


@final
@attrs.frozen(kw_only=True)
class DecodeFailure:
    """A frame from the server that could not be decoded into an event.

    The session's receiver never stops on a bad frame: it yields one of these in the
    frame's place and carries on (server-behaviour.md 1.4; client-pitfalls "unknown events
    crash"). An event of an *unknown type* is not a failure: it arrives as an
    :class:`~trio_realtime.UnknownEvent`. :func:`~trio_realtime.read_recording` reads such a
    frame back as one of these too.

    Attributes:
        raw: The frame exactly as received (``str`` for text frames, ``bytes`` for binary);
            read back from a recording, as recorded (secrets redacted).
        error: Why it failed; ``error.event_type`` and ``error.path`` locate the problem.
    """

    #: Not a wire type: a name no server event can have, so ``wait_for`` can match it.
    type: ClassVar[str] = "trio_realtime.decode_failure"

    raw: str | bytes = attrs.field(repr=_short)
    error: ProtocolError
