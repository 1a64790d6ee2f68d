"""Value types a session hands out: what it receives, and its statistics snapshot."""

from __future__ import annotations

from typing import TypeAlias, final

import attrs

from .._core._decode_failure import DecodeFailure as DecodeFailure
from .._core._events import Event, UnknownEvent
from .._core._playback import PlaybackInterrupted
from ._resume_policy import SessionResumed

__all__ = ["DecodeFailure", "ReceivedEvent", "SessionStatistics"]


#: What :meth:`RealtimeSession.receive` and ``async for`` yield: a typed event (a server
#: event, in practice), an :class:`UnknownEvent` for a type this library does not know, a
#: :class:`DecodeFailure` for a frame that is not a valid event, or one of the session's own
#: notices: :class:`PlaybackInterrupted` after a barge-in, :class:`SessionResumed` after a
#: move to a new connection.
ReceivedEvent: TypeAlias = (
    Event | UnknownEvent | DecodeFailure | PlaybackInterrupted | SessionResumed
)


@final
@attrs.frozen(kw_only=True)
class SessionStatistics:
    """A snapshot of a session's queues and counters, from :meth:`RealtimeSession.statistics`.

    Attributes:
        outbound_buffer_used: Events accepted by ``send`` (or the audio pump) and not yet
            written to the socket.
        outbound_max_buffer_size: Capacity of the outbound queue; ``send`` waits when full.
        inbound_buffer_used: Events received and not yet read from the session's stream
            (``async for event in session``).
        inbound_max_buffer_size: Unread events at which the stream holds the receiver (once
            the application reads the stream, and while nobody waits on a handle, a
            ``wait_for`` or a request), and how many a never-read stream keeps.
        inbound_skipped: Events a never-read stream let go (it keeps the newest
            ``inbound_max_buffer_size``).
        inbound_dropped: Events dropped from the stream because it grew past its bounds
            (4,096 events, 16 MiB) while other readers needed the receiver to go on.
        events_sent: Events written to the socket.
        events_received: Frames received (decode failures included).
        bytes_sent: Bytes written to the connection, WebSocket framing and handshake included.
        bytes_received: Bytes read from the connection, likewise.
        audio_ms_sent: Milliseconds of input audio written (in the input format at the time).
        decode_failures: Frames that arrived as :class:`DecodeFailure`.
        receiver_stalls: Times the stream held the receiver (the application was behind).
        waiters: Calls to ``wait_for`` currently waiting.
        replies_pending: Sent events the protocol answers (``session.update``, item and
            buffer events) whose answer has not come yet.
        audio_streams: Audio pumps currently running.
        queued_responses: ``response.create`` requests waiting for the conversation to be
            free.
        response_handles: Handles waiting for their response to start or finish.
        tool_calls_running: Tool calls running now.
        errors_handled: Errors the library caused and handled without delivering them
            (a refused request it sent again, a cancel that raced ``response.done``).
        resumes: Times the session moved to a new connection (``connect(resume=...)``).
            ``bytes_sent`` and ``bytes_received`` count every connection's.
    """

    outbound_buffer_used: int
    outbound_max_buffer_size: int
    inbound_buffer_used: int
    inbound_max_buffer_size: int
    inbound_skipped: int
    inbound_dropped: int
    events_sent: int
    events_received: int
    bytes_sent: int
    bytes_received: int
    audio_ms_sent: float
    decode_failures: int
    receiver_stalls: int
    waiters: int
    replies_pending: int
    audio_streams: int
    queued_responses: int
    response_handles: int
    tool_calls_running: int
    errors_handled: int
    resumes: int = 0
