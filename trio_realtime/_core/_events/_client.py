"""The 12 client events of the Realtime API beta v1."""

from __future__ import annotations

from typing import ClassVar

import attrs

from .._unset import UNSET, Unset
from ._base import ClientEvent, decode_audio, encode_audio, short_field
from ._objects import ConversationItem, ResponseConfig, Session, TranscriptionSession


@attrs.frozen(kw_only=True, repr=False)
class SessionUpdate(ClientEvent):
    """``session.update``: change the fields of ``session`` that are set.

    ``SessionUpdate(session=Session(turn_detection=None))`` sends ``"turn_detection": null``,
    which switches server VAD off; fields left :data:`~trio_realtime.UNSET` are not sent.
    """

    type: ClassVar[str] = "session.update"
    session: Session


@attrs.frozen(kw_only=True, repr=False)
class TranscriptionSessionUpdate(ClientEvent):
    """``transcription_session.update``: configure a transcription session."""

    type: ClassVar[str] = "transcription_session.update"
    session: TranscriptionSession


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferAppend(ClientEvent):
    """``input_audio_buffer.append``: add base64 ``audio`` to the input buffer.

    Build one from raw bytes with :meth:`from_pcm`; read them back with :attr:`pcm`.
    """

    type: ClassVar[str] = "input_audio_buffer.append"
    audio: str = short_field()

    @classmethod
    def from_pcm(
        cls, pcm: bytes, *, event_id: str | Unset | None = UNSET
    ) -> InputAudioBufferAppend:
        """An append carrying ``pcm`` (raw bytes in the session's input format)."""
        return cls(audio=encode_audio(pcm), event_id=event_id)

    @property
    def pcm(self) -> bytes:
        """The appended audio as raw bytes.

        Raises:
            ValueError: ``audio`` is not valid base64.
        """
        return decode_audio(self.audio)


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferCommit(ClientEvent):
    """``input_audio_buffer.commit``: turn the input buffer into a user item."""

    type: ClassVar[str] = "input_audio_buffer.commit"


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferClear(ClientEvent):
    """``input_audio_buffer.clear``: drop the input buffer."""

    type: ClassVar[str] = "input_audio_buffer.clear"


@attrs.frozen(kw_only=True, repr=False)
class OutputAudioBufferClear(ClientEvent):
    """``output_audio_buffer.clear``: WebRTC only; a WebSocket server refuses it."""

    type: ClassVar[str] = "output_audio_buffer.clear"


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemCreate(ClientEvent):
    """``conversation.item.create``: add ``item`` after ``previous_item_id`` (or at the end).

    ``previous_item_id="root"`` inserts it first.
    """

    type: ClassVar[str] = "conversation.item.create"
    item: ConversationItem
    previous_item_id: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemDelete(ClientEvent):
    """``conversation.item.delete``: remove an item."""

    type: ClassVar[str] = "conversation.item.delete"
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemRetrieve(ClientEvent):
    """``conversation.item.retrieve``: ask for the server's view of an item, audio included."""

    type: ClassVar[str] = "conversation.item.retrieve"
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemTruncate(ClientEvent):
    """``conversation.item.truncate``: cut assistant audio at what the user heard.

    ``audio_end_ms`` is measured in the item's own audio; ``content_index`` is 0.
    """

    type: ClassVar[str] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


@attrs.frozen(kw_only=True, repr=False)
class ResponseCreate(ClientEvent):
    """``response.create``: ask the model for a response, optionally configured."""

    type: ClassVar[str] = "response.create"
    response: ResponseConfig | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ResponseCancel(ClientEvent):
    """``response.cancel``: stop the running (or the named) response."""

    type: ClassVar[str] = "response.cancel"
    response_id: str | Unset | None = UNSET
