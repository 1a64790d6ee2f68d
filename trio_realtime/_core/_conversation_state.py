"""The state of a :class:`~trio_realtime.Conversation`, its helpers and its simple rules.

:class:`ConversationState` declares the attributes, merges wire items into the live views,
and handles the session, input-buffer and client events; the item and response rules are in
:mod:`trio_realtime._core._conversation_apply`.
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Final

from ._audio_format import FORMATS, bytes_for_ms
from ._conversation_stats import USAGE_FIELD_COUNT, Anomaly
from ._conversation_views import ContentPartView, ItemView, ResponseView, _joined, b64_decoded_len
from ._events import (
    ClientEvent,
    ContentPart,
    ConversationCreated,
    ConversationItem,
    ConversationItemTruncate,
    ErrorDetails,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    RateLimit,
    RateLimitsUpdated,
    ServerEvent,
    Session,
    SessionCreated,
    SessionUpdated,
    TranscriptionSession,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)
from ._events import (
    Response as WireResponse,
)
from ._input_audio import InputAudioKeeper

__all__ = [
    "MAX_OUTPUT_ITEMS",
    "MAX_PARTS",
    "MAX_PLAUSIBLE_MS",
    "ConversationState",
    "b64_decoded_len",
]

# Bounds on what one server event can make the conversation allocate or walk. A value past
# them is implausible: it becomes an ``implausible_value`` anomaly, and the event is applied
# as far as the bound allows (a missing part is not created, a duration is kept as a number).
#: Content parts tracked per item (real items have a handful). A ``content_index`` past it
#: would otherwise allocate every part up to it: 10**6 cost 2 s and 200 MiB, 2**63 never ends.
MAX_PARTS: Final = 256
#: Output items tracked per response (real responses have a few).
MAX_OUTPUT_ITEMS: Final = 1024
#: Milliseconds past which a duration is implausible: a day (sessions last an hour at most).
MAX_PLAUSIBLE_MS: Final = 86_400_000


def _b64decode(text: str) -> bytes | None:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


class ConversationState:
    """Attributes, helpers and the session and input-buffer rules of a conversation."""

    #: Dispatch tables of plain functions ``(conversation, event)``, one per class.
    _server_handlers: ClassVar[dict[type[Any], Callable[[Any, Any], None]]]
    _client_handlers: ClassVar[dict[type[Any], Callable[[Any, Any], None]]]

    def __init__(
        self,
        output_audio_format: str,
        input_audio_format: str,
        keep_audio_seconds: float | None,
        max_anomalies: int,
        keep_input_audio_seconds: float = 0.0,
    ) -> None:
        self._keep_audio_seconds = keep_audio_seconds
        self._caps: dict[str, int | None] = {}
        self._output_format = output_audio_format
        self._input_format = input_audio_format
        self._session: Session | None = None
        self._transcription_session: TranscriptionSession | None = None
        self._conversation_id: str | None = None
        self._items: dict[str, ItemView] = {}
        self._order: list[str] = []  # ids of the default conversation's items, in order
        self._responses: dict[str, ResponseView] = {}
        self._active: ResponseView | None = None
        self._usage_sums = [0] * USAGE_FIELD_COUNT
        self._usage_count = 0
        self._pending: dict[str, list[ServerEvent]] = {}  # early input transcripts, by item id
        self._pending_events = 0  # in all the lists of ``_pending``
        # Made on the first anomaly: an empty deque is 600 bytes, and most sessions have none.
        self._anomalies: deque[Anomaly] | None = None
        self._max_anomalies = max_anomalies
        self._anomaly_count = 0
        self._errors = 0
        self._last_error: ErrorDetails | None = None
        self._unknown_events = 0
        self._rate_limits: tuple[RateLimit, ...] = ()
        self._user_speaking = False
        self._speech_item_id: str | None = None
        self._speech_started_ms: int | None = None
        self._speech_stopped_ms: int | None = None
        self._last_committed_item_id: str | None = None
        self._input_bytes_sent = 0
        self._input_ms_sent = 0.0
        # ``_input_ms_sent`` when the input buffer was last emptied (a commit or clear sent,
        # or their answers received, a VAD commit included).
        self._input_ms_at_reset = 0.0
        self._input_ms_at_speech = 0.0  # ``_input_ms_sent`` when VAD last heard speech start
        self._keeper: InputAudioKeeper | None = None  # only when asked to keep input audio
        if keep_input_audio_seconds > 0:
            cap = bytes_for_ms(keep_input_audio_seconds * 1000, input_audio_format)
            self._keeper = InputAudioKeeper(cap)

    # --- helpers -----------------------------------------------------------------------------

    def _anomaly(self, reason: str, event: ServerEvent | ClientEvent, detail: str) -> None:
        self._anomaly_count += 1
        if self._anomalies is None:
            self._anomalies = deque(maxlen=self._max_anomalies)
        self._anomalies.append(Anomaly(reason, event.type, detail))

    def _implausible(self, event: ServerEvent, detail: str) -> None:
        self._anomaly("implausible_value", event, detail)

    def _unknown_item(self, event: ServerEvent, item_id: str) -> None:
        self._anomaly("unknown_item", event, f"item {item_id!r} was never announced")

    def _cap(self, fmt: str) -> int | None:
        keep = self._keep_audio_seconds
        if keep is None:
            return None
        cap = self._caps.get(fmt)
        if cap is None:
            cap = self._caps[fmt] = bytes_for_ms(keep * 1000, fmt)
        return cap

    def _new_part(self, item: ItemView, index: int, type: str | None) -> ContentPartView:
        if type == "input_audio":
            fmt = self._input_format
        else:
            response = item._response
            fmt = self._output_format if response is None else response._audio_format
        return ContentPartView(index, type, fmt, FORMATS[fmt].bytes_per_ms, self._cap(fmt))

    def _missing_part(
        self, item: ItemView, index: int, type: str, event: ServerEvent
    ) -> ContentPartView | None:
        """The part at ``index``, created (with an anomaly) when no event announced it."""
        parts = item._parts
        if 0 <= index < len(parts):
            return parts[index]
        if not 0 <= index < MAX_PARTS:
            self._implausible(event, f"content_index {index} (at most {MAX_PARTS} parts per item)")
            return None
        self._anomaly("unknown_part", event, f"part {index} of item {item._id!r} not announced")
        while len(parts) <= index:
            parts.append(self._new_part(item, len(parts), type if len(parts) == index else None))
        return parts[index]

    def _set_final(
        self, chunks: list[str] | None, value: str, event: ServerEvent, what: str
    ) -> list[str]:
        """The chunks to keep once the ``.done`` value arrives: that value alone, a difference
        from what the deltas assembled counted as an anomaly."""
        if chunks and _joined(chunks) != value:
            self._anomaly("done_mismatch", event, f"{what} differs from its deltas")
        return [value] if value else []

    def _merge_item(
        self, item: ItemView, wire: ConversationItem, event: ServerEvent, *, final: bool
    ) -> None:
        """Take the fields of a wire item; ``final`` values replace what deltas assembled."""
        if isinstance(wire.type, str):
            item._type = wire.type
        if isinstance(wire.role, str):
            item._role = wire.role
        if isinstance(wire.status, str):
            item._status = wire.status
        if isinstance(wire.call_id, str):
            item._call_id = wire.call_id
        if isinstance(wire.name, str):
            item._name = wire.name
        if isinstance(wire.output, str):
            item._output = wire.output
        arguments = wire.arguments
        if isinstance(arguments, str):
            if final:
                item._arguments = self._set_final(item._arguments, arguments, event, "arguments")
            elif arguments and not item._arguments:
                item._arguments = [arguments]
        content = wire.content
        if isinstance(content, list):
            parts = item._parts
            if len(content) > MAX_PARTS:
                self._implausible(event, f"{len(content)} content parts (at most {MAX_PARTS})")
                content = content[:MAX_PARTS]
            for index, wire_part in enumerate(content):
                if index == len(parts):
                    kind = wire_part.type if isinstance(wire_part.type, str) else None
                    parts.append(self._new_part(item, index, kind))
                self._merge_part(parts[index], wire_part, event, final=final)

    def _merge_part(
        self, part: ContentPartView, wire: ContentPart, event: ServerEvent, *, final: bool
    ) -> None:
        if isinstance(wire.type, str):
            part._type = wire.type
        text = wire.text
        if isinstance(text, str):
            if final:
                part._text = self._set_final(part._text, text, event, "text")
            elif text and not part._text:
                part._text = [text]
        transcript = wire.transcript
        if isinstance(transcript, str) and part._truncated_ms is None:
            if part._transcript is None:
                part._transcript = [transcript] if transcript else []
            elif final:
                part._transcript = self._set_final(
                    part._transcript, transcript, event, "transcript"
                )
        audio = wire.audio
        if isinstance(audio, str) and part._type == "input_audio":
            data = _b64decode(audio)
            if data is None:
                self._anomaly("invalid_audio", event, "input audio is not valid base64")
            else:
                part._set_audio(data)
        if final:
            part._done = True

    def _new_response(self, response_id: str, wire: WireResponse) -> ResponseView:
        fmt = wire.output_audio_format
        if not (isinstance(fmt, str) and fmt in FORMATS):
            fmt = self._output_format
        response = self._responses[response_id] = ResponseView(response_id, wire, fmt)
        return response

    def _finish_item(self, item: ItemView) -> None:
        item._done = True
        for part in item._parts:
            part._done = True

    # --- session, input buffer, misc ---------------------------------------------------------

    def _set_formats(self, event: ServerEvent, output: object, input: object) -> None:
        for value, attribute in ((output, "_output_format"), (input, "_input_format")):
            if isinstance(value, str):
                if value in FORMATS:
                    setattr(self, attribute, value)
                else:
                    self._anomaly("unknown_audio_format", event, f"audio format {value!r}")

    def _on_session(self, event: SessionCreated | SessionUpdated) -> None:
        session = event.session
        self._session = session
        self._set_formats(event, session.output_audio_format, session.input_audio_format)

    def _on_transcription_session(
        self, event: TranscriptionSessionCreated | TranscriptionSessionUpdated
    ) -> None:
        self._transcription_session = event.session
        self._set_formats(event, None, event.session.input_audio_format)

    def _on_conversation_created(self, event: ConversationCreated) -> None:
        if isinstance(event.conversation.id, str):
            self._conversation_id = event.conversation.id

    def _on_speech_started(self, event: InputAudioBufferSpeechStarted) -> None:
        self._user_speaking = True
        self._input_ms_at_speech = self._input_ms_sent
        self._speech_item_id = event.item_id
        self._speech_started_ms = event.audio_start_ms
        if not 0 <= event.audio_start_ms <= MAX_PLAUSIBLE_MS:
            self._implausible(event, f"audio_start_ms {event.audio_start_ms}")

    def _on_speech_stopped(self, event: InputAudioBufferSpeechStopped) -> None:
        self._user_speaking = False
        self._speech_item_id = event.item_id
        self._speech_stopped_ms = event.audio_end_ms
        if not 0 <= event.audio_end_ms <= MAX_PLAUSIBLE_MS:
            self._implausible(event, f"audio_end_ms {event.audio_end_ms}")

    def _on_committed(self, event: InputAudioBufferCommitted) -> None:
        self._user_speaking = False
        self._last_committed_item_id = event.item_id
        self._input_ms_at_reset = self._input_ms_sent
        if self._keeper is not None:
            self._keeper.committed(event.item_id)

    def _on_cleared(self, event: InputAudioBufferCleared) -> None:
        self._user_speaking = False
        self._input_ms_at_reset = self._input_ms_sent
        if self._keeper is not None:
            self._keeper.cleared()

    def _on_rate_limits(self, event: RateLimitsUpdated) -> None:
        self._rate_limits = tuple(event.rate_limits)

    def _on_error(self, event: ErrorEvent) -> None:
        self._errors += 1
        self._last_error = event.error

    def _ignore(self, event: ServerEvent) -> None:
        pass

    # --- client events -----------------------------------------------------------------------

    def _sent_append(self, event: InputAudioBufferAppend) -> None:
        nbytes = b64_decoded_len(event.audio)
        self._input_bytes_sent += nbytes
        self._input_ms_sent += nbytes / FORMATS[self._input_format].bytes_per_ms
        if self._keeper is not None:
            self._keeper.appended(event.audio)

    def _sent_commit(self, event: ClientEvent) -> None:
        # A commit empties the input buffer; appends after it are uncommitted.
        self._input_ms_at_reset = self._input_ms_sent
        if self._keeper is not None:
            self._keeper.commit_sent()

    def _sent_clear(self, event: ClientEvent) -> None:
        self._input_ms_at_reset = self._input_ms_sent
        if self._keeper is not None:
            self._keeper.cleared()

    def _sent_truncate(self, event: ConversationItemTruncate) -> None:
        item = self._items.get(event.item_id)
        if item is None or not 0 <= event.content_index < len(item._parts):
            return
        part = item._parts[event.content_index]
        limit = part._truncate_limit_ms
        if limit is None or event.audio_end_ms < limit:
            part._truncate_limit_ms = max(0, event.audio_end_ms)
