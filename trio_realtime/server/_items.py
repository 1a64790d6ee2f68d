"""Conversation items as the server keeps them, and the default conversation.

The server's items are mutable records (:class:`StoredItem`, :class:`StoredPart`): a running
response grows its assistant item's audio and transcript delta by delta, a truncate cuts
them, a completed transcription fills in a user item's transcript. Wire objects
(:class:`~trio_realtime.events.ConversationItem`) are built from them on demand, with or
without audio bytes (:meth:`StoredItem.wire`).

Audio is kept as raw bytes in its format; base64 is made only when an item is retrieved.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Final, Literal

import attrs

from .._core._audio import AudioFormat, audio_format
from .._core._events import ContentPart, ConversationItem
from ._errors import invalid_value

__all__ = [
    "ROOT",
    "Conversation",
    "StoredItem",
    "StoredPart",
    "truncate_audio",
    "user_audio_item",
]

PartType = Literal["input_text", "input_audio", "text", "audio"]
ROOT: Final = "root"


@attrs.define(slots=True, eq=False)
class StoredPart:
    """One content part of a message item.

    Attributes:
        type: ``input_text``, ``input_audio`` (user), ``text`` or ``audio`` (assistant).
        text: The text of ``input_text`` / ``text`` parts.
        transcript: The transcript of an audio part; ``None`` when unknown or removed.
        audio: Raw audio in ``audio_format``, or ``None`` when not kept.
        audio_format: Format of ``audio``.
        audio_ms: Duration of the audio, kept even when the bytes are not.
        frozen: A truncated part of a still-running response: later deltas still go to the
            client but are no longer stored, since the client has said what was heard.
        heard: For committed user audio with transcription on: the transcript planned at
            the commit. The model "hears" the audio at once, so the engine sees this before
            the client gets its (possibly delayed) ``completed`` event.
    """

    type: PartType
    text: str | None = None
    transcript: str | None = None
    audio: bytearray | None = None
    audio_format: str = "pcm16"
    audio_ms: float = 0.0
    frozen: bool = False
    heard: str | None = None

    def wire(self, *, with_audio: bool, for_engine: bool = False) -> ContentPart:
        """The part as the protocol shows it; audio bytes only when ``with_audio``."""
        if self.type in ("input_text", "text"):
            return ContentPart(type=self.type, text=self.text or "")
        transcript = self.transcript
        if for_engine and transcript is None:
            transcript = self.heard
        audio = (
            base64.b64encode(self.audio).decode("ascii")
            if with_audio and self.audio is not None
            else None
        )
        if audio is None:
            return ContentPart(type=self.type, transcript=transcript)
        return ContentPart(type=self.type, audio=audio, transcript=transcript)


@attrs.define(slots=True, eq=False)
class StoredItem:
    """One conversation item: a message, a function call or a function call output."""

    id: str
    type: str
    status: str = "completed"
    role: str | None = None
    parts: list[StoredPart] = attrs.Factory(list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None

    def wire(self, *, with_audio: bool = False, for_engine: bool = False) -> ConversationItem:
        """The item as the protocol shows it; audio bytes only when ``with_audio``.

        ``for_engine`` shows user audio parts with the transcript the model heard (see
        :attr:`StoredPart.heard`) while the client's transcript is still pending.
        """
        if self.type == "message":
            return ConversationItem(
                id=self.id,
                object="realtime.item",
                type="message",
                status=self.status,
                role=self.role,
                content=[
                    part.wire(with_audio=with_audio, for_engine=for_engine) for part in self.parts
                ],
            )
        if self.type == "function_call":
            return ConversationItem(
                id=self.id,
                object="realtime.item",
                type="function_call",
                status=self.status,
                call_id=self.call_id,
                name=self.name,
                arguments=self.arguments,
            )
        return ConversationItem(
            id=self.id,
            object="realtime.item",
            type="function_call_output",
            status=self.status,
            call_id=self.call_id,
            output=self.output,
        )

    @property
    def audio_part(self) -> StoredPart | None:
        """The assistant audio part a truncate acts on (content index 0), if any."""
        if self.type == "message" and self.role == "assistant" and self.parts:
            part = self.parts[0]
            if part.type == "audio":
                return part
        return None


def user_audio_item(item_id: str, audio: bytes, fmt: AudioFormat, keep_audio: bool) -> StoredItem:
    """The user item of a committed turn: one ``input_audio`` part, transcript unknown (21)."""
    part = StoredPart(
        type="input_audio",
        audio=bytearray(audio) if keep_audio else None,
        audio_format=fmt.name,
        audio_ms=len(audio) / fmt.bytes_per_ms,
    )
    return StoredItem(id=item_id, type="message", role="user", parts=[part])


def truncate_audio(item: StoredItem, content_index: int, audio_end_ms: int) -> None:
    """Cut an assistant item's audio at ``audio_end_ms`` and drop its transcript (5.11).

    Raises:
        Refusal: Not an assistant audio item (or no audio yet), a content index other than
            0, a negative time, or a time past the end of the audio generated so far.
    """
    part = item.audio_part
    if part is None or part.audio is None or not (part.audio or part.frozen):
        raise invalid_value("item_id", "Only model output audio messages can be truncated")
    if content_index != 0:
        raise invalid_value(
            "content_index",
            f"Invalid 'content_index': audio content is at index 0, not {content_index}.",
        )
    if audio_end_ms < 0:
        raise invalid_value(
            "audio_end_ms",
            f"Invalid 'audio_end_ms': expected a value >= 0, but got {audio_end_ms} instead.",
        )
    fmt = audio_format(part.audio_format)
    duration = len(part.audio) / fmt.bytes_per_ms
    if audio_end_ms > duration:
        raise invalid_value(
            "audio_end_ms",
            f"Audio content of {int(duration)}ms is already shorter than {audio_end_ms}ms",
        )
    keep = audio_end_ms * fmt.sample_rate // 1000 * fmt.sample_width
    del part.audio[keep:]
    part.audio_ms = len(part.audio) / fmt.bytes_per_ms
    part.transcript = None
    part.frozen = True


class Conversation:
    """The default conversation: items in order, looked up by id.

    Args:
        conversation_id: The ``conv_…`` id responses report as ``conversation_id``.
    """

    __slots__ = ("_items", "_order", "id")

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self._order: list[str] = []
        self._items: dict[str, StoredItem] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __iter__(self) -> Iterator[StoredItem]:
        items = self._items
        return (items[i] for i in self._order)

    def get(self, item_id: str) -> StoredItem | None:
        """The item with this id, or ``None``."""
        return self._items.get(item_id)

    def last_id(self) -> str | None:
        """The id of the last item, ``None`` in an empty conversation."""
        return self._order[-1] if self._order else None

    def check_insert(self, item_id: str, previous_item_id: str | None) -> None:
        """Raise the refusal :meth:`insert` would meet, without changing anything.

        Raises:
            Refusal: ``item_id`` is taken, or ``previous_item_id`` is neither ``"root"``
                nor an existing item.
        """
        if item_id in self._items:
            raise invalid_value(
                "item.id", f"Error adding item: an item with id '{item_id}' already exists."
            )
        if previous_item_id not in (None, ROOT) and previous_item_id not in self._items:
            raise invalid_value(
                "previous_item_id",
                f"Error adding item: the previous item with id '{previous_item_id}' "
                "does not exist.",
            )

    def insert(self, item: StoredItem, previous_item_id: str | None = None) -> str | None:
        """Add ``item`` after ``previous_item_id`` (``None``: at the end; ``"root"``: first).

        Returns:
            The id of the item now before it (``None`` when it is first).

        Raises:
            Refusal: As :meth:`check_insert`; nothing is added.
        """
        self.check_insert(item.id, previous_item_id)
        if previous_item_id is None:
            before = self.last_id()
            self._order.append(item.id)
        elif previous_item_id == ROOT:
            before = None
            self._order.insert(0, item.id)
        else:
            before = previous_item_id
            self._order.insert(self._order.index(previous_item_id) + 1, item.id)
        self._items[item.id] = item
        return before

    def delete(self, item_id: str) -> None:
        """Remove an item.

        Raises:
            Refusal: No item has this id.
        """
        if item_id not in self._items:
            raise invalid_value(
                "item_id", f"Error deleting item: the item with id '{item_id}' does not exist."
            )
        del self._items[item_id]
        self._order.remove(item_id)

    def require(self, item_id: str, action: str) -> StoredItem:
        """The item with this id, or the refusal ``Error <action> item: …`` [inf]."""
        item = self._items.get(item_id)
        if item is None:
            raise invalid_value(
                "item_id", f"Error {action} item: the item with id '{item_id}' does not exist."
            )
        return item

    def has_call(self, call_id: str) -> bool:
        """Whether a ``function_call`` item with this ``call_id`` is in the conversation."""
        return any(
            item.type == "function_call" and item.call_id == call_id
            for item in self._items.values()
        )
