"""The rules of :class:`~trio_realtime.Conversation`: one handler per event type.

Handlers are bound methods in a dict keyed by event class, so :meth:`Conversation.apply` costs
one dict lookup and one call. The delta handlers are the hot path: a dict lookup for the item,
an index for the part, one list append (text) or bytearray extend (audio).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ._conversation_state import (
    MAX_OUTPUT_ITEMS,
    MAX_PARTS,
    MAX_PLAUSIBLE_MS,
    ConversationState,
    b64_decoded_len,
)
from ._conversation_stats import usage_vector
from ._conversation_views import ContentPartView, ItemView
from ._events import (
    GA_SERVER_EVENTS,
    ConversationCreated,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    RateLimitsUpdated,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseTextDelta,
    ResponseTextDone,
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
    Usage,
)
from ._unset import UNSET

__all__ = ["ConversationHandlers"]

#: How many item ids may hold input transcripts that arrived before their item.
MAX_PENDING_ITEMS: Final = 64
#: How many early transcription events may wait, for all those item ids together.
MAX_PENDING_EVENTS: Final = 4096

_InputTranscriptEvent = (
    InputAudioTranscriptionDelta | InputAudioTranscriptionCompleted | InputAudioTranscriptionFailed
)


class ConversationHandlers(ConversationState):
    """The item, response and transcript rules, and the dispatch tables."""

    @classmethod
    def _make_server_handlers(cls) -> dict[type[Any], Callable[[Any, Any], None]]:
        """The server-event table: one per class, of plain functions called with the
        conversation (bound methods per instance were ~40 GC-tracked objects each)."""
        ignore = cls._ignore
        return {
            ResponseAudioDelta: cls._on_audio_delta,
            ResponseAudioTranscriptDelta: cls._on_transcript_delta,
            ResponseTextDelta: cls._on_text_delta,
            ResponseFunctionCallArgumentsDelta: cls._on_arguments_delta,
            InputAudioTranscriptionDelta: cls._on_input_transcript_delta,
            ResponseAudioDone: cls._on_audio_done,
            ResponseAudioTranscriptDone: cls._on_transcript_done,
            ResponseTextDone: cls._on_text_done,
            ResponseFunctionCallArgumentsDone: cls._on_arguments_done,
            ResponseContentPartAdded: cls._on_content_part_added,
            ResponseContentPartDone: cls._on_content_part_done,
            ResponseOutputItemAdded: cls._on_output_item_added,
            ResponseOutputItemDone: cls._on_output_item_done,
            ResponseCreated: cls._on_response_created,
            ResponseDone: cls._on_response_done,
            ConversationItemCreated: cls._on_item_created,
            ConversationItemDeleted: cls._on_item_deleted,
            ConversationItemRetrieved: cls._on_item_retrieved,
            ConversationItemTruncated: cls._on_item_truncated,
            InputAudioTranscriptionCompleted: cls._on_input_transcript_completed,
            InputAudioTranscriptionFailed: cls._on_input_transcript_failed,
            InputAudioBufferSpeechStarted: cls._on_speech_started,
            InputAudioBufferSpeechStopped: cls._on_speech_stopped,
            InputAudioBufferCommitted: cls._on_committed,
            InputAudioBufferCleared: cls._on_cleared,
            SessionCreated: cls._on_session,
            SessionUpdated: cls._on_session,
            TranscriptionSessionCreated: cls._on_transcription_session,
            TranscriptionSessionUpdated: cls._on_transcription_session,
            ConversationCreated: cls._on_conversation_created,
            RateLimitsUpdated: cls._on_rate_limits,
            ErrorEvent: cls._on_error,
            OutputAudioBufferStarted: ignore,
            OutputAudioBufferStopped: ignore,
            OutputAudioBufferCleared: ignore,
            # GA only: an item's final state; the rest (MCP, DTMF, segments, idle timeout)
            # changes nothing the conversation keeps.
            **dict.fromkeys(GA_SERVER_EVENTS.values(), ignore),
            ConversationItemDone: cls._on_item_done,
        }

    @classmethod
    def _make_client_handlers(cls) -> dict[type[Any], Callable[[Any, Any], None]]:
        """The client-event table, like :meth:`_make_server_handlers`."""
        return {
            InputAudioBufferAppend: cls._sent_append,
            InputAudioBufferCommit: cls._sent_commit,
            InputAudioBufferClear: cls._sent_clear,
            ConversationItemTruncate: cls._sent_truncate,
        }

    # --- deltas (the hot path) ---------------------------------------------------------------

    def _on_audio_delta(self, event: ResponseAudioDelta) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        parts = item._parts
        index = event.content_index
        part = (
            parts[index]
            if 0 <= index < len(parts)
            else self._missing_part(item, index, "audio", event)
        )
        if part is None:
            return None
        delta = event.delta
        if len(delta) & 3:  # the cheap screen; the text is decoded only when read
            return self._anomaly("invalid_audio", event, "audio delta is not valid base64")
        if part._cap == 0:
            part._count_audio(b64_decoded_len(delta))
        else:
            part._add_audio(delta, b64_decoded_len(delta))
        return None

    def _on_transcript_delta(self, event: ResponseAudioTranscriptDelta) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        parts = item._parts
        index = event.content_index
        part = (
            parts[index]
            if 0 <= index < len(parts)
            else self._missing_part(item, index, "audio", event)
        )
        if part is None:
            return None
        transcript = part._transcript
        if transcript is not None:
            transcript.append(event.delta)
        elif part._truncated_ms is None:  # a truncated part's transcript stays dropped
            part._transcript = [event.delta]
        return None

    def _on_text_delta(self, event: ResponseTextDelta) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        parts = item._parts
        index = event.content_index
        part = (
            parts[index]
            if 0 <= index < len(parts)
            else self._missing_part(item, index, "text", event)
        )
        if part is not None:
            if part._text is None:
                part._text = [event.delta]
            else:
                part._text.append(event.delta)
        return None

    def _on_arguments_delta(self, event: ResponseFunctionCallArgumentsDelta) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        if item._arguments is None:
            item._arguments = [event.delta]
        else:
            item._arguments.append(event.delta)
        return None

    # --- done values -------------------------------------------------------------------------

    def _part_for(self, event: Any, type: str) -> ContentPartView | None:
        item = self._items.get(event.item_id)
        if item is None:
            self._unknown_item(event, event.item_id)
            return None
        parts = item._parts
        index: int = event.content_index
        if 0 <= index < len(parts):
            return parts[index]
        return self._missing_part(item, index, type, event)

    def _on_audio_done(self, event: ResponseAudioDone) -> None:
        self._part_for(event, "audio")

    def _on_transcript_done(self, event: ResponseAudioTranscriptDone) -> None:
        part = self._part_for(event, "audio")
        if part is None or part._truncated_ms is not None:
            return
        part._transcript = self._set_final(part._transcript, event.transcript, event, "transcript")

    def _on_text_done(self, event: ResponseTextDone) -> None:
        part = self._part_for(event, "text")
        if part is not None:
            part._text = self._set_final(part._text, event.text, event, "text")

    def _on_arguments_done(self, event: ResponseFunctionCallArgumentsDone) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        item._arguments = self._set_final(item._arguments, event.arguments, event, "arguments")
        return None

    def _on_content_part_added(self, event: ResponseContentPartAdded) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        parts = item._parts
        index = event.content_index
        kind = event.part.type if isinstance(event.part.type, str) else None
        if index == len(parts) < MAX_PARTS:
            parts.append(self._new_part(item, index, kind))
        part = self._missing_part(item, index, kind or "text", event)
        if part is not None:
            self._merge_part(part, event.part, event, final=False)
        return None

    def _on_content_part_done(self, event: ResponseContentPartDone) -> None:
        part = self._part_for(
            event, event.part.type if isinstance(event.part.type, str) else "text"
        )
        if part is not None:
            self._merge_part(part, event.part, event, final=True)

    # --- items -------------------------------------------------------------------------------

    def _item_for_output(
        self, event: ResponseOutputItemAdded | ResponseOutputItemDone
    ) -> ItemView | None:
        response = self._responses.get(event.response_id)
        if response is None:
            self._anomaly("unknown_response", event, f"response {event.response_id!r} not created")
        item_id = event.item.id
        if not isinstance(item_id, str):
            self._anomaly("missing_id", event, "output item without an id")
            return None
        item = self._items.get(item_id)
        if item is None or item._deleted:
            if isinstance(event, ResponseOutputItemDone):
                self._unknown_item(event, item_id)
            item = self._items[item_id] = ItemView(item_id)
        index = event.output_index
        if not 0 <= index < MAX_OUTPUT_ITEMS:
            self._implausible(event, f"output_index {index} (at most {MAX_OUTPUT_ITEMS} items)")
        if response is not None:
            item._response = response
            output = response._output
            if item not in output:  # at most MAX_OUTPUT_ITEMS to look through
                if len(output) < MAX_OUTPUT_ITEMS:
                    output.insert(min(max(index, 0), len(output)), item)
                else:
                    self._implausible(event, f"more than {MAX_OUTPUT_ITEMS} output items")
        return item

    def _on_output_item_added(self, event: ResponseOutputItemAdded) -> None:
        item = self._item_for_output(event)
        if item is not None:
            item._done = False
            self._merge_item(item, event.item, event, final=False)

    def _on_output_item_done(self, event: ResponseOutputItemDone) -> None:
        item = self._item_for_output(event)
        if item is not None:
            self._merge_item(item, event.item, event, final=True)
            self._finish_item(item)

    def _on_item_created(self, event: ConversationItemCreated) -> None:
        item_id = event.item.id
        if not isinstance(item_id, str):
            return self._anomaly("missing_id", event, "created item without an id")
        item = self._items.get(item_id)
        if item is not None and item._in_conversation:
            self._anomaly(
                "duplicate_item", event, f"item {item_id!r} is already in the conversation"
            )
            self._merge_item(item, event.item, event, final=False)
            return None
        if item is None or item._deleted:
            item = self._items[item_id] = ItemView(item_id)
        if item._response is None:
            item._done = True
        self._merge_item(item, event.item, event, final=False)
        order = self._order
        previous = event.previous_item_id
        if isinstance(previous, str) and previous != "root":
            if order and order[-1] == previous:
                order.append(item_id)
            else:
                try:
                    order.insert(order.index(previous) + 1, item_id)
                except ValueError:
                    self._anomaly(
                        "unknown_previous_item", event, f"previous item {previous!r} unknown"
                    )
                    order.append(item_id)
        elif previous is None or previous == "root":
            order.insert(0, item_id)
        else:  # previous_item_id absent: append
            order.append(item_id)
        item._in_conversation = True
        if self._keeper is not None:
            self._keeper.attach(item_id, item._parts)
        pending = self._pending.pop(item_id, None)
        if pending is not None:
            self._pending_events -= len(pending)
            handlers = self._server_handlers
            for early in pending:
                handlers[type(early)](self, early)
        return None

    def _on_item_deleted(self, event: ConversationItemDeleted) -> None:
        item = self._items.get(event.item_id)
        if item is None or not item._in_conversation:
            return self._anomaly(
                "unknown_item", event, f"item {event.item_id!r} is not in the conversation"
            )
        self._order.remove(event.item_id)
        item._in_conversation = False
        item._deleted = True
        return None

    def _on_item_retrieved(self, event: ConversationItemRetrieved) -> None:
        item_id = event.item.id
        item = self._items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            return self._anomaly("unknown_item", event, f"retrieved item {item_id!r} unknown")
        self._merge_item(item, event.item, event, final=True)
        return None

    def _on_item_done(self, event: ConversationItemDone) -> None:
        """GA's ``conversation.item.done``: the item's final fields (audio bytes aside)."""
        item_id = event.item.id
        item = self._items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            return self._anomaly("unknown_item", event, f"finished item {item_id!r} unknown")
        self._merge_item(item, event.item, event, final=True)
        return None

    def _on_item_truncated(self, event: ConversationItemTruncated) -> None:
        item = self._items.get(event.item_id)
        if item is None:
            return self._unknown_item(event, event.item_id)
        parts = item._parts
        index = event.content_index
        if not 0 <= index < len(parts):
            return self._anomaly(
                "not_truncatable", event, f"item {event.item_id!r} has no part {index}"
            )
        part = parts[index]
        if part._type != "audio":
            self._anomaly("not_truncatable", event, f"part {index} is {part._type!r}, not audio")
        end_ms = event.audio_end_ms
        if not 0 <= end_ms <= MAX_PLAUSIBLE_MS:
            self._implausible(event, f"audio_end_ms {end_ms}")
        part._truncate(min(max(0, end_ms), MAX_PLAUSIBLE_MS))
        return None

    # --- input transcripts -------------------------------------------------------------------

    def _input_part(self, event: _InputTranscriptEvent, index: object) -> ContentPartView | None:
        """The user part a transcript event is for; ``None`` if buffered or unplaceable."""
        item = self._items.get(event.item_id)
        if item is None:
            pending = self._pending.get(event.item_id)
            if pending is None:
                if len(self._pending) >= MAX_PENDING_ITEMS:
                    oldest = next(iter(self._pending))
                    self._pending_events -= len(self._pending.pop(oldest))
                    self._anomaly(
                        "transcript_buffer_full", event, f"dropped early transcript of {oldest!r}"
                    )
                pending = self._pending[event.item_id] = []
            if self._pending_events < MAX_PENDING_EVENTS:
                pending.append(event)
                self._pending_events += 1
            else:
                self._anomaly("transcript_buffer_full", event, f"too many for {event.item_id!r}")
            return None
        i = index if isinstance(index, int) else 0
        parts = item._parts
        if 0 <= i < len(parts):
            return parts[i]
        return self._missing_part(item, i, "input_audio", event)

    def _on_input_transcript_delta(self, event: InputAudioTranscriptionDelta) -> None:
        part = self._input_part(event, event.content_index)
        if part is None:
            return
        if part._transcription_status is None:
            part._transcription_status = "in_progress"
        delta = event.delta
        if isinstance(delta, str):
            if part._transcript is None:
                part._transcript = [delta]
            else:
                part._transcript.append(delta)

    def _on_input_transcript_completed(self, event: InputAudioTranscriptionCompleted) -> None:
        part = self._input_part(event, event.content_index)
        if part is None:
            return
        part._transcript = self._set_final(
            part._transcript, event.transcript, event, "input transcript"
        )
        part._transcription_status = "completed"
        usage = event.usage
        part._transcription_usage = None if usage is UNSET else usage

    def _on_input_transcript_failed(self, event: InputAudioTranscriptionFailed) -> None:
        part = self._input_part(event, event.content_index)
        if part is not None:
            part._transcription_status = "failed"
            part._transcription_error = event.error

    # --- responses ---------------------------------------------------------------------------

    def _on_response_created(self, event: ResponseCreated) -> None:
        wire = event.response
        response_id = wire.id
        if not isinstance(response_id, str):
            return self._anomaly("missing_id", event, "response without an id")
        response = self._responses.get(response_id)
        if response is None:
            response = self._new_response(response_id, wire)
        else:
            self._anomaly("duplicate_response", event, f"response {response_id!r} created twice")
            response._update(wire)
        if isinstance(wire.conversation_id, str):
            self._conversation_id = wire.conversation_id
        if not response.out_of_band:
            active = self._active
            if active is not None and active is not response:
                self._anomaly(
                    "overlapping_response", event, f"{response_id!r} while {active._id!r} runs"
                )
            self._active = response
        return None

    def _on_response_done(self, event: ResponseDone) -> None:
        wire = event.response
        response_id = wire.id
        if not isinstance(response_id, str):
            return self._anomaly("missing_id", event, "response without an id")
        response = self._responses.get(response_id)
        if response is None:
            self._anomaly("unknown_response", event, f"response {response_id!r} not created")
            response = self._new_response(response_id, wire)
        response._finish(wire)
        usage = wire.usage if isinstance(wire.usage, Usage) else None
        sums = self._usage_sums
        if response._counted is not None:  # a repeated response.done replaces its usage
            for k, v in enumerate(response._counted):
                sums[k] -= v
            self._usage_count -= 1
            response._counted = None
        if usage is not None:
            counted = usage_vector(usage)
            for k, v in enumerate(counted):
                sums[k] += v
            self._usage_count += 1
            response._counted = counted
        if isinstance(wire.output, list):
            output = response._output
            wire_output = wire.output
            if len(wire_output) > MAX_OUTPUT_ITEMS:
                self._implausible(
                    event, f"{len(wire_output)} output items (at most {MAX_OUTPUT_ITEMS})"
                )
                wire_output = wire_output[:MAX_OUTPUT_ITEMS]
            listed = {id(item) for item in output}  # one set, not a scan per item
            for wire_item in wire_output:
                item_id = wire_item.id
                if not isinstance(item_id, str):
                    continue
                item = self._items.get(item_id)
                if item is None:
                    self._unknown_item(event, item_id)
                    item = self._items[item_id] = ItemView(item_id)
                    item._response = response
                if id(item) not in listed and len(output) < MAX_OUTPUT_ITEMS:
                    output.append(item)
                    listed.add(id(item))
                self._merge_item(item, wire_item, event, final=True)
        for item in response._output:
            self._finish_item(item)
        if self._active is response:
            self._active = None
        return None
