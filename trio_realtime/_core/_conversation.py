"""The client's view of a Realtime session: a sans-I/O state machine fed events.

:class:`Conversation` never touches a socket or trio. The I/O layer (or a test, or a replay
script) hands it every server event it receives with :meth:`Conversation.apply` and every
client event it sent with :meth:`Conversation.sent`; the conversation keeps the ordered items,
their text, audio and transcripts, every response with its status and usage, and the input
buffer's speech state, and reads them back through live views
(:mod:`trio_realtime._core._conversation_views`).

Rules it follows (section numbers refer to the protocol's ``server-behaviour.md``):

* Items are ordered by ``previous_item_id`` (null or ``"root"`` first; 5.11); out-of-band
  responses' items are not in the conversation but are reachable from their response (5.6).
* Deltas are attributed by ``item_id`` and ``content_index``, never by arrival order; input
  transcripts that arrive before their item are buffered by id (5.10).
* ``.done`` values replace what the deltas assembled; a difference is an :class:`Anomaly`.
* A truncation cuts the item's audio at ``audio_end_ms`` and drops its transcript (5.11).
* Nothing the server sends raises: events the conversation cannot place are counted as
  anomalies instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, final

import attrs

from ._audio_format import audio_format
from ._conversation_apply import ConversationHandlers
from ._conversation_stats import Anomaly, ConversationStatistics, UsageTotals, usage_totals
from ._conversation_views import ItemView, ResponseView
from ._events import (
    ClientEvent,
    ConversationItemTruncate,
    ErrorDetails,
    RateLimit,
    ResponseStatusDetails,
    ServerEvent,
    Session,
    TranscriptionSession,
    UnknownEvent,
)

#: The status :meth:`Conversation.connection_lost` gives the responses it ends. Not a wire
#: value: no server sends it, so it cannot be mistaken for the server's own ending.
INTERRUPTED: Final = "interrupted"

__all__ = ["Conversation"]


@final
class Conversation(ConversationHandlers):
    """The client's view of one Realtime session, fed events; no I/O.

    Feed it every server event with :meth:`apply` and every client event the application
    sent with :meth:`sent`. Read the state back through:

    * :attr:`items` (the default conversation, in order), :meth:`item` and
      :attr:`items_by_id` (any item ever seen, out-of-band and deleted ones included);
    * :attr:`responses`, :meth:`response` and :attr:`active_response`;
    * :attr:`usage_totals`, :attr:`session`, :attr:`user_speaking` and friends;
    * :meth:`truncation_for`, the ``conversation.item.truncate`` to send after a barge-in;
    * :attr:`anomalies` and :meth:`statistics`, to see what could not be placed and what
      is held in memory.

    Items, parts and responses are live views (:class:`ItemView`, :class:`ContentPartView`,
    :class:`ResponseView`); :class:`UsageTotals`, :class:`Anomaly` and
    :class:`ConversationStatistics` are frozen snapshots.

    Memory: text is kept whole; audio is kept per content part, all of it by default, only
    the last ``keep_audio_seconds`` otherwise, and none with ``0``, while every duration is
    still counted. Input audio the client appends is only counted, unless
    ``keep_input_audio_seconds`` asks for some of it. A finished
    response keeps its final wire ``Response`` as JSON text, unpacked when
    :attr:`ResponseView.raw` (or a field drawn from it) is read: thousands of finished
    responses then cost the garbage collector nothing to scan.

    Example::

        conversation = Conversation(keep_audio_seconds=30)
        for event in events:               # decoded server events, in arrival order
            conversation.apply(event)
        for item in conversation.items:
            print(item.role, item.text or item.transcript or item.input_transcript)
        print(conversation.usage_totals.total_tokens)

    Args:
        output_audio_format: The assistant audio format to assume until ``session.created``
            (or a response) says otherwise.
        input_audio_format: The input audio format to assume until the session says otherwise;
            used to count the duration of the audio the client appends.
        keep_audio_seconds: How much audio to keep per content part: ``None`` keeps all of it,
            ``0`` keeps none (durations are still counted), ``N`` keeps the last N seconds.
            Input audio the client appends is kept only as ``keep_input_audio_seconds`` says.
        max_anomalies: How many recent anomalies :attr:`anomalies` keeps.
        keep_input_audio_seconds: Keep the user's input audio, up to this many seconds in all
            (in the input format at the start; the newest kept), and give each committed user
            item the audio appended for it (its input audio part's :attr:`ContentPartView.audio`;
            with server VAD that starts with the silence before the speech). ``0`` (default)
            keeps none. A resumed session replays user turns whose audio is kept as audio.

    Raises:
        AudioFormatError: An unknown audio format name.
        ValueError: ``keep_audio_seconds`` is negative or not finite, or ``max_anomalies`` < 0.
    """

    def __init__(
        self,
        *,
        output_audio_format: str = "pcm16",
        input_audio_format: str = "pcm16",
        keep_audio_seconds: float | None = None,
        max_anomalies: int = 100,
        keep_input_audio_seconds: float = 0.0,
    ) -> None:
        audio_format(output_audio_format)
        audio_format(input_audio_format)
        if keep_audio_seconds is not None and not (
            isinstance(keep_audio_seconds, int | float)
            and math.isfinite(keep_audio_seconds)
            and keep_audio_seconds >= 0
        ):
            raise ValueError(
                f"keep_audio_seconds must be None or a finite number >= 0, got {keep_audio_seconds!r}"
            )
        if max_anomalies < 0:
            raise ValueError(f"max_anomalies must be >= 0, got {max_anomalies}")
        if not (
            isinstance(keep_input_audio_seconds, int | float)
            and math.isfinite(keep_input_audio_seconds)
            and keep_input_audio_seconds >= 0
        ):
            raise ValueError(
                "keep_input_audio_seconds must be a finite number >= 0, got "
                f"{keep_input_audio_seconds!r}"
            )
        super().__init__(
            output_audio_format,
            input_audio_format,
            keep_audio_seconds,
            max_anomalies,
            keep_input_audio_seconds,
        )

    def __repr__(self) -> str:
        active = self._active._id if self._active is not None else None
        return (
            f"<Conversation {len(self._order)} items, {len(self._responses)} responses, "
            f"active={active!r}, {self._anomaly_count} anomalies>"
        )

    # --- feeding -----------------------------------------------------------------------------

    def apply(self, event: ServerEvent | UnknownEvent) -> None:
        """Update the state with one event received from the server.

        Never raises for anything a server may send: an event that refers to an unknown item
        or response is counted in :attr:`anomalies`; :class:`~trio_realtime.UnknownEvent`
        and ``error`` events are counted and otherwise ignored.

        Raises:
            TypeError: ``event`` is a client event (use :meth:`sent`) or not an event at all.
        """
        handler = self._server_handlers.get(type(event))
        if handler is not None:
            handler(self, event)
        elif isinstance(event, UnknownEvent):
            self._unknown_events += 1
        elif isinstance(event, ServerEvent):
            self._anomaly("unhandled_event", event, f"no rule for {type(event).__name__}")
        else:
            raise TypeError(
                f"apply() takes server events (client events go to sent()), got {type(event).__name__}"
            )

    def sent(self, event: ClientEvent | UnknownEvent) -> None:
        """Record one event the client sent.

        Appends are counted (:attr:`input_audio_sent_ms`), not kept (unless
        ``keep_input_audio_seconds`` asks); a truncate limits
        later :meth:`truncation_for` results until the server confirms it. Other client
        events change nothing: the server's answer does.

        Raises:
            TypeError: ``event`` is a server event (use :meth:`apply`) or not an event at all.
        """
        handler = self._client_handlers.get(type(event))
        if handler is not None:
            handler(self, event)
        elif not isinstance(event, ClientEvent | UnknownEvent):
            raise TypeError(
                f"sent() takes client events (server events go to apply()), got {type(event).__name__}"
            )

    def connection_lost(self, reason: str = "connection_lost") -> tuple[ResponseView, ...]:
        """The connection under the conversation was lost, and a new one will carry it on.

        Every response still running ends here with status ``"interrupted"`` (the client's
        own status, never a server's) and ``status_details`` ``{"type": "interrupted",
        "reason": reason}``; its unfinished items end ``"incomplete"``, keeping what arrived.
        The input buffer is taken as empty and the user as silent: the server that held them
        is gone. Items and finished responses are kept: they are the history to carry on.

        Returns:
            The responses it ended, in the order they started.
        """
        ended = []
        details = ResponseStatusDetails(type=INTERRUPTED, reason=reason)
        for response in self._responses.values():
            if response.done:
                continue
            wire = attrs.evolve(response._response, status=INTERRUPTED, status_details=details)
            response._finish(wire)
            for item in response._output:
                if not item._done:
                    item._status = "incomplete"
                self._finish_item(item)
            ended.append(response)
        self._active = None
        self._user_speaking = False
        self._input_ms_at_reset = self._input_ms_sent
        if self._keeper is not None:
            self._keeper.cleared()
        return tuple(ended)

    # --- barge-in helper ---------------------------------------------------------------------

    def truncation_for(self, item_id: str, played_ms: float) -> ConversationItemTruncate | None:
        """The ``conversation.item.truncate`` to send after the user heard ``played_ms`` of an item.

        ``played_ms`` is what playback reports as played of this item's audio. The result's
        ``audio_end_ms`` is a whole number of milliseconds, at most ``played_ms``, at most the
        audio received for the item (so never past what the server holds), and at most any
        truncate already sent for it; ``content_index`` is the item's audio part.

        Returns:
            The event to send, or ``None`` when there is nothing to truncate: nothing was
            heard (``played_ms`` <= 0 or NaN), or the item is unknown, deleted, out-of-band,
            not an assistant message, or holds no audio (yet). When nothing was heard of an
            item the user should not be told about, delete it instead
            (:class:`~trio_realtime.ConversationItemDelete`).
        """
        if not played_ms > 0:
            return None
        item = self._items.get(item_id)
        if (
            item is None
            or not item._in_conversation
            or item._type != "message"
            or item._role != "assistant"
        ):
            return None
        index = next(
            (i for i, p in enumerate(item._parts) if p._type == "audio" and p._audio_end > 0), -1
        )
        if index < 0:
            return None
        part = item._parts[index]
        end_ms = part._audio_end // part._bpm
        if played_ms < end_ms:
            end_ms = math.floor(played_ms)
        limit = part._truncate_limit_ms
        if limit is not None and limit < end_ms:
            end_ms = limit
        return ConversationItemTruncate(item_id=item_id, content_index=index, audio_end_ms=end_ms)

    # --- read API ----------------------------------------------------------------------------

    @property
    def items(self) -> tuple[ItemView, ...]:
        """The default conversation's items, in the server's order (a new tuple of live views)."""
        items = self._items
        return tuple(items[item_id] for item_id in self._order)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """The ids of :attr:`items`, in order."""
        return tuple(self._order)

    def item(self, item_id: str) -> ItemView:
        """The item ``item_id``: in the conversation, deleted, or from an out-of-band response.

        Raises:
            KeyError: No event ever named the item.
        """
        return self._items[item_id]

    @property
    def items_by_id(self) -> Mapping[str, ItemView]:
        """Every item ever seen, by id (a live read-only mapping; ``.get`` for optional lookups)."""
        return MappingProxyType(self._items)

    @property
    def responses(self) -> tuple[ResponseView, ...]:
        """Every response seen, in the order they started (out-of-band ones included)."""
        return tuple(self._responses.values())

    def response(self, response_id: str) -> ResponseView:
        """The response ``response_id``.

        Raises:
            KeyError: No event ever named the response.
        """
        return self._responses[response_id]

    @property
    def active_response(self) -> ResponseView | None:
        """The default-conversation response running now (``response.created`` until ``.done``).

        Out-of-band responses never count: only one default-conversation response can run.
        """
        return self._active

    @property
    def usage_totals(self) -> UsageTotals:
        """Token usage summed over every response's ``response.done`` (a snapshot)."""
        return usage_totals(self._usage_count, self._usage_sums)

    @property
    def session(self) -> Session | None:
        """The session configuration from the last ``session.created`` / ``session.updated``."""
        return self._session

    @property
    def transcription_session(self) -> TranscriptionSession | None:
        """The configuration from the last ``transcription_session.created`` / ``.updated``."""
        return self._transcription_session

    @property
    def conversation_id(self) -> str | None:
        """The default conversation's id (from ``conversation.created`` or a response)."""
        return self._conversation_id

    @property
    def output_audio_format(self) -> str:
        """The session's assistant audio format (or the constructor's until the session says)."""
        return self._output_format

    @property
    def input_audio_format(self) -> str:
        """The session's input audio format (or the constructor's until the session says)."""
        return self._input_format

    @property
    def keep_audio_seconds(self) -> float | None:
        """How many seconds of audio are kept per part (``None``: all)."""
        return self._keep_audio_seconds

    @property
    def user_speaking(self) -> bool:
        """Whether server VAD heard speech start and not yet stop (or a commit or clear)."""
        return self._user_speaking

    @property
    def speech_item_id(self) -> str | None:
        """The ``item_id`` of the last ``input_audio_buffer.speech_started``."""
        return self._speech_item_id

    @property
    def speech_started_ms(self) -> int | None:
        """``audio_start_ms`` of the last ``speech_started`` (audio clock, not wall time)."""
        return self._speech_started_ms

    @property
    def speech_stopped_ms(self) -> int | None:
        """``audio_end_ms`` of the last ``speech_stopped`` (audio clock, not wall time)."""
        return self._speech_stopped_ms

    @property
    def last_committed_item_id(self) -> str | None:
        """The ``item_id`` of the last ``input_audio_buffer.committed``."""
        return self._last_committed_item_id

    @property
    def input_audio_sent_ms(self) -> float:
        """Milliseconds of input audio the client appended (counted)."""
        return self._input_ms_sent

    @property
    def input_audio_sent_bytes(self) -> int:
        """Bytes of input audio the client appended (counted)."""
        return self._input_bytes_sent

    @property
    def input_audio_uncommitted_ms(self) -> float:
        """Milliseconds of input audio appended and not committed, as far as the client can
        tell: since the input buffer was last emptied (a commit or clear sent, or its answer
        received, a VAD commit received, or :meth:`connection_lost`). With server VAD on
        (the session's ``turn_detection`` is not null), only speech counts: the audio since
        VAD heard speech start while the user is speaking, else 0 (a server lets idle audio
        go, but for the prefix padding of the next turn)."""
        session = self._session or self._transcription_session
        if session is not None and session.turn_detection is not None:
            if not self._user_speaking:
                return 0.0
            return self._input_ms_sent - max(self._input_ms_at_speech, self._input_ms_at_reset)
        return self._input_ms_sent - self._input_ms_at_reset

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """The entries of the last ``rate_limits.updated``."""
        return self._rate_limits

    @property
    def last_error(self) -> ErrorDetails | None:
        """The ``error`` of the last ``error`` event, if any (the conversation ignores them)."""
        return self._last_error

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """The latest events the conversation could not place (at most ``max_anomalies``).

        Empty for a well-behaved server. :attr:`anomaly_count` counts every one.
        """
        return tuple(self._anomalies or ())

    @property
    def anomaly_count(self) -> int:
        """How many anomalies were counted in all, including those no longer listed."""
        return self._anomaly_count

    def statistics(self) -> ConversationStatistics:
        """Counts describing the conversation's size and health (a snapshot)."""
        kept = received = 0
        for item in self._items.values():
            for part in item._parts:
                kept += part._kept_len()
                received += part._audio_received
        return ConversationStatistics(
            items=len(self._order),
            items_known=len(self._items),
            responses=len(self._responses),
            audio_bytes_kept=kept,
            audio_bytes_received=received,
            input_audio_ms_sent=self._input_ms_sent,
            pending_transcripts=len(self._pending),
            anomalies=self._anomaly_count,
            errors=self._errors,
            unknown_events=self._unknown_events,
        )


Conversation._server_handlers = Conversation._make_server_handlers()
Conversation._client_handlers = Conversation._make_client_handlers()
