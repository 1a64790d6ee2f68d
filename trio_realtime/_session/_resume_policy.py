"""Resuming a session on a new connection: the policy, and the notice the application reads.

Sans-I/O: :class:`ResumePolicy` says which endings are worth a new connection, how long to
wait between attempts (exponential backoff with full jitter) and when to recycle a session
before the server expires it; :class:`SessionResumed` is what the application reads once a
new connection carries the session on. The machinery that acts on them is :mod:`._resume`.
"""

from __future__ import annotations

import math
import random
from typing import ClassVar, Final, final

import attrs

from .._core._events import ErrorDetails
from .._wire._errors import ConnectionClosed

__all__ = ["RECOVERABLE_CLOSE_CODES", "ConnectionInterrupted", "ResumePolicy", "SessionResumed"]

#: Close codes a new connection can get past: going away (1001, the code after
#: ``session_expired``), no status (1005), no close frame at all (1006: a dropped
#: connection, a dead peer the keepalive found), server error (1011), service restart (1012),
#: try again later (1013).
RECOVERABLE_CLOSE_CODES: Final = frozenset({1001, 1005, 1006, 1011, 1012, 1013})
#: ``error.code`` values, sent right before a close, that a new connection gets past.
RECOVERABLE_ERRORS: Final = frozenset({"session_expired"})
#: Codes no policy may call recoverable: a normal close (the server meant it), an
#: authentication failure (3000: the same key fails again) and a request-level failure
#: (4000: a bad model or URL fails again).
_NEVER: Final = frozenset({1000, 3000, 4000})


def _positive(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and value > 0 and not math.isnan(value)):
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _at_least_one(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an int >= 1, got {value!r}")


def _codes(_instance: object, attribute: attrs.Attribute[frozenset[int]], value: object) -> None:
    if not isinstance(value, frozenset) or not all(isinstance(c, int) for c in value):
        raise ValueError(f"{attribute.name} must be a frozenset of ints")
    never = sorted(value & _NEVER)
    if never:
        raise ValueError(
            f"close codes {never} are never recoverable (a normal close, an authentication "
            "failure, or a request the server refused)"
        )


@final
@attrs.frozen(kw_only=True)
class ResumePolicy:
    """When and how a session carries on over a new connection (``connect(resume=...)``).

    A connection that ends with a recoverable close code, or with a recoverable ``error``
    right before its close (``session_expired``), or that the keepalive finds dead (1006),
    does not end the session: the session opens a new connection, replays its configuration
    and its conversation there, sends what waited meanwhile, and puts a
    :class:`SessionResumed` in its stream. An authentication failure (3000), a refused request
    (4000), a normal close (1000) and the application's own close always end the session.

    Attributes:
        max_attempts: Connection attempts per gap before the session gives up and ends with
            the original close's :class:`~trio_realtime.ConnectionClosed`.
        max_gap: Seconds from the loss within which the session must be carried on; past
            them it gives up likewise.
        initial_backoff: The wait before the first attempt is drawn from 0 to this many
            seconds (full jitter), and the bound doubles with each attempt...
        max_backoff: ... up to this many seconds.
        recycle_before: Seconds before the session's ``expires_at`` (from ``session.created``)
            in which the session looks for a quiet point (from a random moment of the first
            half of that window, never in the first half of the session's life) to move to a
            new connection on its own: no response running or requested, no tool call running, and an empty input
            buffer (with server VAD: the user is not speaking). So a long session never meets
            the server's limit in the middle of a turn. ``None`` never recycles (an expired
            session still resumes after ``session_expired``).
        close_codes: The recoverable close codes (default :data:`RECOVERABLE_CLOSE_CODES`).
            1000, 3000 and 4000 are refused.
        error_codes: The recoverable ``error.code`` values (default ``session_expired``).
        max_replay_items: Replay only the newest this many items of the conversation
            (``None``: all of them); older ones are reported as lost.
        input_audio_seconds: Replay user turns as their audio, not their transcripts, for
            the newest this many seconds of input audio in all: the conversation keeps that
            much (``Conversation(keep_input_audio_seconds=...)``). ``0`` (default): every
            audio turn is replayed as its transcript, and no input audio is kept.
        seed: Seeds the jitter, for repeatable tests (``None``: the system's randomness).
    """

    max_attempts: int = attrs.field(default=8, validator=_at_least_one)
    max_gap: float = attrs.field(default=60.0, validator=_positive)
    initial_backoff: float = attrs.field(default=0.25, validator=_positive)
    max_backoff: float = attrs.field(default=10.0, validator=_positive)
    recycle_before: float | None = attrs.field(default=60.0)
    close_codes: frozenset[int] = attrs.field(default=RECOVERABLE_CLOSE_CODES, validator=_codes)
    error_codes: frozenset[str] = RECOVERABLE_ERRORS
    max_replay_items: int | None = attrs.field(default=None)
    input_audio_seconds: float = attrs.field(default=0.0)
    seed: int | None = None

    @recycle_before.validator
    def _check_recycle(self, attribute: attrs.Attribute[float | None], value: object) -> None:
        if value is not None:
            _positive(self, attribute, value)  # type: ignore[arg-type]

    @max_replay_items.validator
    def _check_items(self, attribute: attrs.Attribute[int | None], value: object) -> None:
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"max_replay_items must be an int >= 0 or None, got {value!r}")

    @input_audio_seconds.validator
    def _check_audio(self, attribute: attrs.Attribute[float], value: object) -> None:
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValueError(f"input_audio_seconds must be a finite number >= 0, got {value!r}")

    def recoverable(self, code: int, error: ErrorDetails | None) -> bool:
        """Whether a connection that ended with ``code`` (after ``error``, if one explained
        the close) is worth a new one."""
        if code in _NEVER:
            return False
        if code in self.close_codes:
            return True
        return error is not None and isinstance(error.code, str) and error.code in self.error_codes

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The wait before attempt ``attempt`` (1 for the first): full jitter, uniform from 0
        to ``min(max_backoff, initial_backoff * 2 ** (attempt - 1))``."""
        bound = min(self.max_backoff, self.initial_backoff * 2.0 ** min(attempt - 1, 60))
        return rng.uniform(0.0, bound)

    def random(self) -> random.Random:
        """The jitter's random source."""
        return random.Random(self.seed)


@final
@attrs.frozen(kw_only=True)
class SessionResumed:
    """The session now runs on a new connection: what was carried over, and what was not.

    Not a wire event: the session puts it in its stream (``async for``, ``receive()``,
    ``wait_for(rt.SessionResumed)``) before any event of the new connection. It holds no
    credential.

    Attributes:
        cause: Why the old connection was left: ``"recycled"`` (before ``expires_at``, at a
            quiet point), ``"session_expired"``, ``"closed 1012 (reason)"``, ``"keepalive:
            ..."``, ``"connection lost"``.
        code: The old connection's close code (``None`` for a recycle).
        attempts: Connection attempts it took.
        gap_s: Seconds from the loss (or the start of the recycle) until the new connection
            took over; sends made meanwhile waited in the outbound queue.
        attempt_s: Seconds the successful attempt took, from opening the connection to the
            replay's last answer (the gap less the backoff waits and failed attempts).
        session_id: The new server session's id.
        expires_at: The new session's ``expires_at`` (Unix seconds), if the server said.
        config_replayed: Whether the last configuration the server reported was sent again
            (tools, instructions, voice, formats, turn detection...) and accepted.
        items_replayed: Ids of the items created again, in order (ids are kept).
        items_as_text: Those of them that held audio and were replayed as their transcripts.
        items_as_audio: Those of them replayed with their user audio (``input_audio_seconds``).
        resent: ``"type event_id"`` of each event written before the loss and not answered,
            sent again after the replay (the answer comes from the new connection).
        interrupted_responses: Ids of the responses that were running: they ended with status
            ``"interrupted"`` (their handles' results say so).
        interrupted_requests: ``"type event_id"`` of each request written before the loss
            that could not be sent again (a commit or truncate: what it acted on did not
            survive); its ``request()`` raised :class:`~trio_realtime.ConnectionInterrupted`.
        lost_input_audio_ms: Input audio appended since the last commit (or clear) before the
            loss: the old server's input buffer, gone with it.
        lost: One line per thing not carried over (an item without a transcript, a refused
            replay, the calls of an interrupted response, ...); empty when nothing was.
    """

    #: Not a wire type: a name no server event can have, so ``wait_for`` can match it.
    type: ClassVar[str] = "trio_realtime.session_resumed"

    cause: str
    code: int | None
    attempts: int
    gap_s: float
    attempt_s: float
    session_id: str | None
    expires_at: int | None
    config_replayed: bool
    items_replayed: tuple[str, ...]
    items_as_text: tuple[str, ...]
    items_as_audio: tuple[str, ...]
    resent: tuple[str, ...]
    interrupted_responses: tuple[str, ...]
    interrupted_requests: tuple[str, ...]
    lost_input_audio_ms: float
    lost: tuple[str, ...]


class ConnectionInterrupted(ConnectionClosed):
    """The connection an operation depended on was lost, and the operation could not be
    carried over to the new one the session resumed on.

    Raised by :meth:`~trio_realtime.RealtimeSession.request` for an
    ``input_audio_buffer.commit`` or a ``conversation.item.truncate`` written before the loss
    and not answered: the uncommitted input audio, or the item's audio, did not survive the
    old server (the replay carries audio as transcripts). The session itself lives on; only
    this operation failed. ``code`` and ``reason`` are the lost connection's.
    """
