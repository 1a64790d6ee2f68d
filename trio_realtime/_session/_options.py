"""The session's sizes and timeouts: the arguments of :func:`trio_realtime.connect`, checked."""

from __future__ import annotations

import math
from typing import Final

import attrs

from .._core._tools import FunctionTool
from ._resume_policy import ResumePolicy

__all__ = ["BACKLOG_BYTES", "BACKLOG_EVENTS", "SessionOptions"]

#: The most the session's own stream holds while other readers (handles, ``wait_for``,
#: ``request``) need the receiver to keep going: events, and bytes of their frames.
BACKLOG_EVENTS: Final = 4096
BACKLOG_BYTES: Final = 16 * 1024 * 1024


@attrs.frozen(kw_only=True)
class SessionOptions:
    """The session's sizes and timeouts (the arguments of :func:`trio_realtime.connect`)."""

    outbound_queue_size: int = 64
    inbound_queue_size: int = 64
    close_timeout: float = 5.0
    keepalive: float | None = 20.0
    request_timeout: float = 30.0
    sent_log_events: int = 1024
    sent_log_bytes: int = 1024 * 1024
    track_conversation: bool = True
    keep_audio_seconds: float | None = None
    tools: tuple[FunctionTool, ...] = ()
    tool_timeout: float = 30.0
    #: ``None``: on when the conversation is tracked (barge-in needs it).
    handle_interruptions: bool | None = None
    max_queued_responses: int = 32
    #: Carry the session on over new connections (``None``: a lost connection ends it).
    resume: ResumePolicy | None = None
    #: Seconds one connection attempt may take (a resume's, up to its replay's last answer).
    connect_timeout: float = 10.0

    def __attrs_post_init__(self) -> None:
        for name in (
            "outbound_queue_size",
            "inbound_queue_size",
            "sent_log_events",
            "sent_log_bytes",
            "max_queued_responses",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not self.close_timeout > 0:
            raise ValueError(f"close_timeout must be positive, got {self.close_timeout!r}")
        if self.keepalive is not None and not (
            math.isfinite(self.keepalive) and self.keepalive > 0
        ):
            raise ValueError(f"keepalive must be positive or None, got {self.keepalive!r}")
        for name in ("tool_timeout", "request_timeout", "connect_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.handle_interruptions and not self.track_conversation:
            raise ValueError(
                "handle_interruptions=True needs track_conversation=True (barge-in truncates "
                "at the audio the conversation received)"
            )
        if self.resume is not None and not self.track_conversation:
            raise ValueError(
                "resume needs track_conversation=True (the conversation is the history a new "
                "connection replays)"
            )
