"""Barge-in: what the application has played, and what to do when the user talks over it.

On a WebSocket the client plays the assistant's audio itself, so only it knows what the user
heard (server-behaviour.md 5.3, 5.12). :class:`Playback` keeps what the application reports
(``played(item_id, ms)`` or ``played_bytes(item_id, n)``) and, when server VAD says
``input_audio_buffer.speech_started``, decides with :meth:`Playback.barge_in`, without I/O:

* **cancel** the running default-conversation response, unless the server does so itself
  (``turn_detection.interrupt_response``, true by default): sending a cancel then would only
  earn a ``response_cancel_not_active`` error (5.8);
* **truncate** the assistant item being played at what was really heard, with
  :meth:`Conversation.truncation_for` (whole ms, never past the audio received, never past
  a truncate already sent; 5.11). Nothing is truncated when nothing was heard (the server
  refuses a truncate of an item with no audio, and there is nothing to cut), nor when the
  whole item was heard;
* **tell the application** to stop its playback: a :class:`PlaybackInterrupted` notice.

Which item is being played: the newest assistant audio item of the current turn (no user
message after it) that is either still streaming (its response runs or the item is not
done) or reported as played only partly. An item the application never reported on counts as
playing only while it streams, and :meth:`Playback.finished` marks one as heard in full.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar, Final, final

import attrs

from ._audio_format import audio_format
from ._conversation import Conversation
from ._conversation_views import ItemView
from ._events import (
    ConversationItemTruncate,
    InputAudioBufferSpeechStarted,
    ResponseCancel,
    Session,
    TurnDetection,
)

__all__ = ["BargeIn", "Playback", "PlaybackInterrupted"]

#: How many items' playback positions are remembered (older ones are forgotten first).
MAX_TRACKED_ITEMS: Final = 64
#: How many of the newest items a barge-in looks through for the one being played.
_MAX_WALK: Final = 1024


@final
@attrs.frozen(kw_only=True)
class PlaybackInterrupted:
    """The user started talking over assistant audio: stop playing it.

    Not a wire event: the session puts it in its event stream right after the
    ``input_audio_buffer.speech_started`` that caused it (so ``async for`` and ``wait_for``
    see it), once it has queued the cancel and the truncate. Audio deltas of the
    interrupted item may still arrive after it (the server had sent them before it
    stopped); an application drops them (compare ``item_id``).

    Attributes:
        item_id: The assistant item that was being played.
        response_id: The response that produced it, if known.
        played_ms: How much of it the application had reported as played (0.0 if nothing).
        audio_end_ms: Where the item was truncated (``conversation.item.truncate``), or
            ``None`` when nothing was truncated (nothing heard, or all of it).
        audio_received_ms: Milliseconds of the item's audio received so far.
        cancelled: Whether the session sent ``response.cancel`` (False when the server
            cancels by itself, or when the response had already finished).
        speech_item_id: The ``item_id`` of the ``speech_started`` (the user's new item).
    """

    #: Not a wire type: a name no server event can have, so ``wait_for`` can match it.
    type: ClassVar[str] = "trio_realtime.playback_interrupted"

    item_id: str
    response_id: str | None
    played_ms: float
    audio_end_ms: int | None
    audio_received_ms: float
    cancelled: bool
    speech_item_id: str | None


@final
@attrs.frozen(kw_only=True)
class BargeIn:
    """What to do about one ``speech_started``: send ``cancel``, then ``truncate``, then
    deliver ``notice`` (each ``None`` when not needed)."""

    cancel: ResponseCancel | None = None
    truncate: ConversationItemTruncate | None = None
    notice: PlaybackInterrupted | None = None


def server_interrupts(session: Session | None) -> bool:
    """Whether the server cancels a running response itself when speech starts (5.3).

    ``interrupt_response`` defaults to true when the server leaves it out; without turn
    detection there are no speech events at all.
    """
    if session is None:
        return True  # the server's default configuration: server VAD, interrupt_response true
    turn = session.turn_detection
    if not isinstance(turn, TurnDetection):
        return turn is not None  # UNSET: unknown, assume the default; None: no VAD
    return turn.interrupt_response is not False


@final
class Playback:
    """Playback progress reported by the application, and barge-in decisions; no I/O.

    The session makes one (:attr:`RealtimeSession.playback`) over its conversation; a
    replay script or a test can make its own.

    Positions are per item and absolute: ``played(item_id, 1200.0)`` means the first 1.2 s
    of that item's audio have been heard. They only move forward (a smaller value is
    ignored). Report what has left the speaker, not what was handed to a buffer.

    Args:
        conversation: The conversation the items live in (for their audio and formats).
        handle_interruptions: Whether :meth:`barge_in` acts at all.

    Attributes:
        handle_interruptions: Whether a ``speech_started`` interrupts playback (settable at
            any time).
    """

    __slots__ = ("_conversation", "_finished", "_interrupted", "_played", "handle_interruptions")

    def __init__(self, conversation: Conversation, *, handle_interruptions: bool = True) -> None:
        self._conversation = conversation
        self.handle_interruptions = handle_interruptions
        self._played: dict[str, float] = {}
        self._finished: dict[str, None] = {}
        self._interrupted: dict[str, None] = {}

    def __repr__(self) -> str:
        state = "on" if self.handle_interruptions else "off"
        return f"<Playback {len(self._played)} items tracked, interruptions {state}>"

    # --- what the application reports --------------------------------------------------------

    def played(self, item_id: str, ms: float) -> None:
        """Report that the first ``ms`` milliseconds of ``item_id``'s audio have been heard.

        Raises:
            ValueError: ``ms`` is negative or not finite.
        """
        if not (isinstance(ms, int | float) and math.isfinite(ms) and ms >= 0):
            raise ValueError(f"played ms must be a finite number >= 0, got {ms!r}")
        played = self._played
        old = played.get(item_id)
        if old is None:
            played[item_id] = float(ms)
            if len(played) > MAX_TRACKED_ITEMS:
                del played[next(iter(played))]  # the oldest (dicts keep order)
        elif ms > old:
            played[item_id] = float(ms)

    def played_bytes(self, item_id: str, nbytes: int) -> None:
        """Report that the first ``nbytes`` bytes of ``item_id``'s audio have been heard.

        Bytes are converted with the item's own audio format (48 bytes per ms for pcm16,
        8 for G.711).

        Raises:
            KeyError: The conversation has never seen ``item_id``.
            ValueError: ``nbytes`` is negative.
        """
        if nbytes < 0:
            raise ValueError(f"played bytes must be >= 0, got {nbytes!r}")
        item = self._conversation.item(item_id)
        fmt = item.audio_format or self._conversation.output_audio_format
        self.played(item_id, nbytes / audio_format(fmt).bytes_per_ms)

    def finished(self, item_id: str) -> None:
        """Report that ``item_id`` was played to its end: speech after it interrupts nothing."""
        finished = self._finished
        finished[item_id] = None
        if len(finished) > MAX_TRACKED_ITEMS:
            del finished[next(iter(finished))]  # the oldest (dicts keep order)

    def played_ms(self, item_id: str) -> float:
        """The position last reported for ``item_id`` (0.0 if none)."""
        return self._played.get(item_id, 0.0)

    def interrupted(self, item_id: str) -> bool:
        """Whether a barge-in interrupted ``item_id`` (among the last items tracked)."""
        return item_id in self._interrupted

    # --- the decision ------------------------------------------------------------------------

    def barge_in(self, event: InputAudioBufferSpeechStarted) -> BargeIn | None:
        """What to do now that the user started speaking; ``None`` when nothing.

        Marks the interrupted item, so a second ``speech_started`` does not truncate it again.
        """
        if not self.handle_interruptions:
            return None
        conversation = self._conversation
        active = conversation.active_response
        cancel = None
        if active is not None and not server_interrupts(conversation.session):
            cancel = ResponseCancel(response_id=active.id)
        item = self._playing_item()
        if item is None:
            return None if cancel is None else BargeIn(cancel=cancel)
        played = self._played.get(item.id, 0.0)
        received = item.audio_received_ms
        streaming = not item.done or (active is not None and item.response_id == active.id)
        truncate = None
        if played > 0 and (streaming or played < received):
            truncate = conversation.truncation_for(item.id, played)
        interrupted = self._interrupted
        interrupted[item.id] = None
        if len(interrupted) > MAX_TRACKED_ITEMS:
            del interrupted[next(iter(interrupted))]  # the oldest (dicts keep order)
        notice = PlaybackInterrupted(
            item_id=item.id,
            response_id=item.response_id,
            played_ms=played,
            audio_end_ms=None if truncate is None else truncate.audio_end_ms,
            audio_received_ms=received,
            cancelled=cancel is not None,
            speech_item_id=event.item_id,
        )
        return BargeIn(cancel=cancel, truncate=truncate, notice=notice)

    def _playing_item(self) -> ItemView | None:
        conversation = self._conversation
        active = conversation.active_response
        items = conversation.items_by_id
        # Newest first, stopping at the turn's start: a few steps, whatever the length of the
        # conversation (its private order list, to avoid copying every id). A turn of more
        # items than the walk's bound is not one a server sends: its reply is not looked for.
        for item_id in itertools.islice(reversed(conversation._order), _MAX_WALK):
            item = items[item_id]
            if item.type != "message":
                continue
            if item.role == "user":
                return None  # an earlier turn's reply is not what the user talks over
            if item.role != "assistant" or not item.audio_received_ms > 0:
                continue
            if item_id in self._interrupted or item_id in self._finished:
                return None
            streaming = not item.done or (active is not None and item.response_id == active.id)
            played = self._played.get(item_id)
            if streaming or (played is not None and played < item.audio_received_ms):
                return item
            return None
        return None
